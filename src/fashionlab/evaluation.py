"""Evaluation on the test set (or a run's held-out validation images): loss, accuracy, per-class report, confusion matrix, predictions.

Per-class "accuracy" is the share of that class's test images classified correctly (what the
paper means by "the accuracy of shirts"); it equals the class's recall.
"""

from __future__ import annotations

import reprlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from .device import autocast, place_model, resolve_device, scoring_precision
from .errors import UserError
from .experiment import FIELDS, ExperimentConfig


def to_input(images: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [0, 1] on `device`, as the paper scaled them."""
    x = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True)).to(device)  # a private, writable copy
    return x.unsqueeze(1).float().div_(255)


def translate(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Images moved down by dy and right by dx pixels (negative: up, left), the border filled with 0 (background)."""
    h, w = images.shape[-2:]
    padded = F.pad(images, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
    return padded[..., max(-dy, 0) : max(-dy, 0) + h, max(-dx, 0) : max(-dx, 0) + w]


def tta_logits(model: torch.nn.Module, images: torch.Tensor, flip: bool = False, shift: int = 0) -> torch.Tensor:
    """The model's logits for `images`, averaged over test-time views (fp32).

    With `flip`, each view is averaged with its mirror. With `shift`, as airbench's multi-crop TTA,
    the unshifted view weighs 1/2 and the views moved by `shift` pixels down-right and up-left 1/4
    each. Training, evaluation, predict and export all score through this one function.
    """
    def view(x: torch.Tensor) -> torch.Tensor:
        logits = model(x).float()
        return (logits + model(x.flip(-1)).float()) / 2 if flip else logits

    logits = view(images)
    if shift:
        logits = logits / 2 + (view(translate(images, shift, shift)) + view(translate(images, -shift, -shift))) / 4
    return logits


def eval_batches(x: torch.Tensor, batch_size: int, channels_last: bool = False) -> Iterator[torch.Tensor]:
    """`x` in batches of `batch_size`, in the model's memory format: what every scoring pass feeds."""
    for start in range(0, x.shape[0], batch_size):
        batch = x[start : start + batch_size]
        yield batch.contiguous(memory_format=torch.channels_last) if channels_last else batch


@torch.inference_mode()
def predict_logits(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1000, channels_last: bool = False,
                   precision: str = "fp32", tta_flip: bool = False, tta_shift: int = 0) -> torch.Tensor:
    """Logits for `x` in batches, in eval mode, over the test-time views of `tta_logits`."""
    model.eval()
    outputs = []
    for batch in eval_batches(x, batch_size, channels_last):
        with autocast(x.device, precision):
            outputs.append(tta_logits(model, batch, tta_flip, tta_shift))
    return torch.cat(outputs)


def loss_and_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of `logits` against `labels`: validation and test use this one helper."""
    loss = F.cross_entropy(logits, labels).item()
    accuracy = (logits.argmax(1) == labels).float().mean().item()
    return loss, accuracy


def classification_metrics(probabilities: np.ndarray, labels: np.ndarray, classes, loss: float) -> dict:
    predicted = probabilities.argmax(1)
    k = len(classes)
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=list(range(k)), zero_division=0
    )
    cm = confusion_matrix(labels, predicted, labels=list(range(k)))
    per_class = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "accuracy": float(cm[i, i] / cm[i].sum()) if cm[i].sum() else 0.0,
            "support": int(support[i]),
        }
        for i, name in enumerate(classes)
    }
    return {
        "test_accuracy": float((predicted == labels).mean()),
        "test_loss": float(loss),
        "test_count": int(labels.shape[0]),
        "macro_f1": float(f1.mean()),
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
    }


def probability_metrics(probabilities: np.ndarray, labels: np.ndarray, classes) -> dict:
    """Metrics for given class probabilities; the loss is their cross-entropy (for models without logits)."""
    loss = float(-np.log(probabilities[np.arange(len(labels)), labels] + 1e-12).mean())
    return classification_metrics(probabilities, labels, classes, loss)


# Predictions "collapse" when the two most-predicted classes take this share of the test set or
# more. A balanced test set puts 20% there for a 10-class model that predicts every class equally
# often; even a weak model that has learned something spreads its guesses far wider than 80%.
COLLAPSE_SHARE = 0.8


def prediction_collapse(confusion: list[list[int]], classes, batch_norm: bool, scored: str = "test images") -> str | None:
    """A warning when the predictions fall onto one or two classes (a short or broken run), else None."""
    predicted = np.asarray(confusion).sum(0)  # column sums: how often each class is predicted
    total = int(predicted.sum())
    if len(classes) < 5 or total == 0:
        return None
    top = [int(i) for i in np.argsort(-predicted, kind="stable")[:2] if predicted[i]]
    share = predicted[top].sum() / total
    if share < COLLAPSE_SHARE:
        return None
    named = " and ".join(f"{classes[i]} ({predicted[i] / total:.0%})" for i in top)
    if batch_norm:
        cause = ("The likely cause in a very short run: BatchNorm's running statistics (momentum 0.99, as "
                 "Keras) have not caught up with the weights, so the model scores differently in eval mode "
                 "than it trained; train for more steps (more epochs or images).")
    else:
        cause = "The model has not learned to tell the classes apart: train longer or check the learning rate."
    return f"predictions collapsed: {share:.0%} of the {total:,} {scored} are predicted as {named}. {cause}"


def evaluate(model, images: np.ndarray, labels: np.ndarray, classes, device, batch_size=1000, channels_last=False,
             precision="fp32", tta_flip=False, tta_shift=0, scored: str = "test images"):
    """Metrics dict and class probabilities (N, K) for a uint8 image array.

    The metrics carry a "warnings" list when the predictions collapse onto one or two classes.
    """
    logits = predict_logits(model, to_input(images, device), batch_size, channels_last, precision, tta_flip,
                            tta_shift)
    y = torch.from_numpy(np.asarray(labels).astype(np.int64)).to(logits.device)
    loss, _ = loss_and_accuracy(logits, y)
    probabilities = torch.softmax(logits, 1).cpu().numpy()
    metrics = classification_metrics(probabilities, np.asarray(labels), classes, loss)
    batch_norm = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    collapse = prediction_collapse(metrics["confusion_matrix"], classes, batch_norm, scored)
    if collapse:
        metrics["warnings"] = [collapse]
    return metrics, probabilities


@dataclass
class LoadedRun:
    """A finished network run, ready to score: its model on `device`, in eval mode."""

    config: ExperimentConfig
    model: torch.nn.Module
    device: torch.device
    channels_last: bool
    precision: str  # by the one rule of device.scoring_precision


def _misfit(expected: dict, state) -> str:
    """Why `state` cannot be loaded where `expected` (a model's state dict) is, in a few words; '' if it can."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        return f"it holds a {type(state).__name__} that is not a state dict of tensors"
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    reshaped = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    parts = [f"{len(keys)} {what}, such as {keys[0]!r}" for keys, what in
             ((missing, "missing"), (unexpected, "unexpected"), (reshaped, "of another shape")) if keys]
    return "; ".join(parts)


def load_run_model(run_dir, device="auto") -> LoadedRun:
    """The config and model (with the run's test-set weights) of a finished run, placed on `device`."""
    from .models import build_model
    from .runs import RunDir

    run = RunDir(run_dir)
    run.require_network()
    config = run.read_config()
    device = resolve_device(device)
    model = build_model(config.model)
    state = run.load_state(run.weights)
    misfit = _misfit(model.state_dict(), state)
    if misfit:
        raise UserError(f"{run.weights}: the weights do not fit model {config.model} ({misfit}); config.toml and "
                        "weights.pt must come from the same run.")
    not_finite = [name for name, t in state.items() if t.is_floating_point() and not t.isfinite().all()]
    if not_finite:  # a diverged run: every answer would be NaN
        raise UserError(f"{run.weights}: {not_finite[0]} holds NaN or infinite values (the training diverged, or the "
                        "file is damaged); retrain it, e.g. with a lower learning rate.")
    model.load_state_dict(state)
    model, channels_last = place_model(model, device)
    environment = run.read_json(run.environment) if run.environment.is_file() else None
    return LoadedRun(config, model.eval(), device, channels_last,
                     scoring_precision(config.precision, device, environment))


SPLITS = ("test", "validation")  # what `evaluate_run` scores: the test set, or the images the run held out


def evaluate_run(run_dir, data_dir=None, device="auto", tta_flip: bool | None = None, tta_shift: int | None = None,
                 split: str = "test") -> tuple[dict, list[str] | None]:
    """Recompute a run's metrics from its saved weights; also list disagreements with what the run recorded.

    `split="test"` scores the test set and compares with metrics.json. `split="validation"` scores the
    images the run held out (its `train_limit` and `validation_split`, cut as training cut them) and
    compares with the validation figures history.csv recorded for the saved weights; its metrics' keys
    say `validation_` where the test's say `test_`. This is where to choose test-time augmentation
    without looking at the test set. `tta_flip` and `tta_shift` override the run's own settings; the
    disagreement list is then None, since the numbers are not meant to match. It is None too when
    there is nothing to compare with (no metrics.json).
    """
    from .data import load_dataset, split_training_set
    from .data.releases import SPLIT_FILES
    from .runs import RunDir

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
    low, high = (FIELDS["tta_shift"].metadata[k] for k in ("low", "high"))
    if tta_shift is not None and not (isinstance(tta_shift, int) and low <= tta_shift <= high):
        raise UserError(f"--tta-shift {tta_shift}: give {low} to {high} pixels ({low}: no shifted views).")
    run = RunDir(run_dir)
    run.require_network()
    run.require("environment.json")
    loaded = load_run_model(run_dir, device)
    config = loaded.config
    dataset = load_dataset(config.release, data_dir)
    recorded = run.read_environment()["dataset"]  # a dict, its checksums a dict if present
    checksums = recorded.get("checksums", {})
    files = [SPLIT_FILES[f"{split if split == 'test' else 'train'}_{kind}"] for kind in ("images", "labels")]
    for name in files:
        if not isinstance(checksums.get(name), str):
            raise UserError(f"{run.environment}: records no checksum of {name}, so the data it was scored on "
                            "cannot be checked; the file is damaged.")
        if checksums[name] != dataset.checksums.get(name):
            raise UserError(
                f"{dataset.data_dir}: {name} differs from the one this run was "
                f"{'tested' if split == 'test' else 'trained and validated'} on "
                f"(release {recorded.get('release', 'unknown')}). Pass --data-dir pointing at that release."
            )
    if split == "test":
        images, labels = dataset.test_images, dataset.test_labels
    else:
        _, (images, labels) = split_training_set(dataset.train_images, dataset.train_labels, config.validation_split,
                                                 config.train_limit)
        if not len(labels):  # training refuses such a split: config.toml was edited since
            raise UserError(f"{run.config}: validation_split {config.validation_split} holds out none of the run's "
                            "training images, so there is nothing to score; restore the value it trained with.")
    flip = config.tta_flip if tta_flip is None else tta_flip
    shift = config.tta_shift if tta_shift is None else tta_shift
    metrics, probabilities = evaluate(loaded.model, images, labels, dataset.classes, loaded.device,
                                      config.eval_batch_size, loaded.channels_last, loaded.precision, flip, shift,
                                      scored=f"{split} images")
    for text in metrics.get("warnings", []):
        warnings.warn(f"{run.path}: {text}", stacklevel=2)
    if split == "validation":
        metrics = {(f"validation_{k[len('test_'):]}" if k.startswith("test_") else k): v for k, v in metrics.items()}
    if (flip, shift) != (config.tta_flip, config.tta_shift):
        return metrics, None
    if run.metrics.exists() and not run.metrics.is_file():
        raise UserError(f"{run.metrics}: a directory where a run file belongs; move it, then evaluate again.")
    if not run.metrics.is_file():
        return metrics, None  # nothing to compare with: the caller says so, it does not "agree"
    saved = run.read_metrics()
    if split == "validation":
        return metrics, _validation_disagreements(run, saved, metrics)
    disagreements = []
    if saved.get("confusion_matrix") != metrics["confusion_matrix"]:
        disagreements.append("confusion_matrix")
    for key in ("test_accuracy", "test_loss"):
        if saved.get(key) is None or abs(saved[key] - metrics[key]) > 1e-6:
            disagreements.append(f"{key}: saved {saved.get(key)}, recomputed {metrics[key]:.6f}")
    return metrics, disagreements


def _validation_disagreements(run, saved: dict, metrics: dict) -> list[str]:
    """Differences from history.csv's validation row of the saved weights: the last epoch's, or the best
    epoch's for `evaluate_weights = "best"`, as metrics.json (`saved`) names it."""
    history = run.read_history()
    # The epoch whose weights weights.pt holds; not history's last row, which an extension (--resume
    # --epochs N) interrupted before its end has moved past the finished run.
    key = "best_epoch" if saved.get("evaluated_weights") == "best" else "epochs_run"
    epoch = saved.get(key, len(history) if key == "epochs_run" else None)  # runs before epochs_run: the last
    count = saved.get("validation_count", metrics["validation_count"])
    for name, value in ((key, epoch), ("validation_count", count)):
        if type(value) is not int or value < 1:
            raise UserError(f"{run.metrics}: a run file is damaged ({name} is {reprlib.repr(value)}, not a count).")
    rows = [row for row in history if row["epoch"] == epoch]
    if len(rows) != 1:
        raise UserError(f"{run.history}: a run file is damaged ({len(rows)} rows for epoch {epoch}, whose weights "
                        "weights.pt holds, instead of one).")
    disagreements = []
    if count != metrics["validation_count"]:
        disagreements.append(f"validation_count: recorded {count}, cut {metrics['validation_count']}")
    for key, recorded in (("validation_accuracy", rows[0]["val_accuracy"]), ("validation_loss", rows[0]["val_loss"])):
        if recorded is None or not abs(recorded - metrics[key]) <= 1e-6:  # a NaN recorded disagrees too
            disagreements.append(f"{key}: recorded {recorded} (epoch {epoch}), recomputed {metrics[key]:.6f}")
    return disagreements
