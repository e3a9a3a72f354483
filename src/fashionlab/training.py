"""The fit loop: Keras's validation split, seeded shuffling, augmentation, history, checkpoints, resume.

What it reproduces from Keras's `model.fit(x, y, validation_split=v, shuffle=True)`:
- the validation set is the *last* fraction v of the training arrays, taken before shuffling;
- the training part is reshuffled every epoch; train loss/accuracy are the running means over
  the epoch's batches (in training mode, as Keras's progress bar reports them);
- optimizers start from Keras's defaults (Adam eps 1e-7, RMSprop rho 0.9 eps 1e-7 inside the square root, plain SGD).

Resume is exact: a checkpoint (written atomically after every epoch, and at the next batch
boundary after Ctrl-C) holds the model, the optimizer, the epoch's permutation, the position in
it, the running sums and every RNG state, so an interrupted and resumed run computes the same
numbers as an uninterrupted one (same seed, device and versions).
"""

from __future__ import annotations

import copy
import signal
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .data import load_dataset
from .data.augment import augment_batch
from .device import autocast, place_model, resolve_device, resolve_precision
from .errors import UserError
from .evaluation import evaluate, predict_logits, to_input, write_predictions
from .experiment import ExperimentConfig, config_from_dict, load_config
from .fileio import atomic_write_text
from .models import build_model
from .models.layers import apply_constraints
from .models.summary import summarize
from .optim import KerasRMSprop
from .runs import RunDir, environment_record


def make_optimizer(config: ExperimentConfig, params) -> torch.optim.Optimizer:
    lr, wd = config.learning_rate, config.weight_decay
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-7, weight_decay=wd)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-7, weight_decay=wd)
    if config.optimizer == "rmsprop":
        return KerasRMSprop(params, lr=lr, rho=0.9, eps=1e-7, weight_decay=wd)  # epsilon inside the sqrt, as Keras
    return torch.optim.SGD(params, lr=lr, momentum=config.momentum, nesterov=config.momentum > 0, weight_decay=wd)


def learning_rate_at(config: ExperimentConfig, step: int, total_steps: int) -> float:
    """The learning rate for optimizer step `step` (0-based): a pure function, so resume needs no state."""
    peak = config.learning_rate
    if config.schedule == "constant":
        return peak
    warm = max(1, round(config.warmup * total_steps))
    if step < warm:
        return peak * (step + 1) / warm
    return peak * max(0.0, (total_steps - step) / max(1, total_steps - warm))


def validation_split(n: int, fraction: float) -> int:
    """Index where Keras splits: train = [:split_at], validation = [split_at:]."""
    return int(n * (1.0 - fraction))


class TrainStep:
    """One optimizer step on a batch: augment, forward, loss, backward, update, constraints.

    Returns the batch loss and logits, detached and still on the device (no host sync), so the
    caller can keep running sums without waiting for the step to finish.
    """

    def __init__(self, model, optimizer, config: ExperimentConfig, aug_gen: torch.Generator, channels_last: bool,
                 precision: str = "fp32"):
        self.model, self.optimizer, self.config = model, optimizer, config
        self.aug_gen, self.channels_last, self.precision = aug_gen, channels_last, precision

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        config = self.config
        if config.augment:
            x = augment_batch(x, self.aug_gen, flip=config.flip, zoom=config.zoom, shift=config.shift)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(x.device, self.precision):
            logits = self.model(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        apply_constraints(self.model, config.unit_norm_axis)
        return loss.detach(), logits.detach()


@dataclass
class Split:
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor


def prepare_split(images: np.ndarray, labels: np.ndarray, config: ExperimentConfig, device) -> Split:
    if config.train_limit:
        images, labels = images[: config.train_limit], labels[: config.train_limit]
    at = validation_split(len(images), config.validation_split)
    if at < 1 or at >= len(images):
        raise UserError(
            f"validation_split {config.validation_split} of {len(images)} images leaves an empty "
            "training or validation set; use more images (--train-limit) or another split."
        )
    x = to_input(images, device)
    y = torch.from_numpy(np.asarray(labels).astype(np.int64)).to(device)
    return Split(x[:at], y[:at], x[at:], y[at:])


def _rng_state(shuffle_gen, aug_gen, device) -> dict:
    state = {"shuffle": shuffle_gen.get_state(), "augment": aug_gen.get_state(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state, shuffle_gen, aug_gen, device) -> None:
    shuffle_gen.set_state(state["shuffle"])
    aug_gen.set_state(state["augment"])
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


class _StopFlag:
    """First Ctrl-C asks for a checkpoint at the next batch boundary; a second one stops at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class Interrupted(Exception):
    """Training stopped early on request; the checkpoint lets `--resume` continue it."""

    def __init__(self, run_dir: Path, epoch: int, step: int):
        super().__init__(f"interrupted at epoch {epoch}, batch {step}; checkpoint saved in {run_dir}")
        self.run_dir, self.epoch, self.step = run_dir, epoch, step


@dataclass
class TrainResult:
    run_dir: Path
    history: list[dict]
    metrics: dict
    config: ExperimentConfig


def _check_resume_config(saved: ExperimentConfig, wanted: ExperimentConfig, run_dir: Path) -> ExperimentConfig:
    """A resumed run keeps its config; only `epochs` may change (to extend a run)."""
    differ = [k for k, v in wanted.to_dict().items() if k != "epochs" and saved.to_dict()[k] != v]
    if differ:
        changes = ", ".join(f"{k}: {saved.to_dict()[k]!r} -> {wanted.to_dict()[k]!r}" for k in differ)
        raise UserError(f"{run_dir}: --resume with a different config ({changes}). Resume with the same settings, or use a new --out.")
    return config_from_dict({**saved.to_dict(), "epochs": wanted.epochs}, str(run_dir / "config.toml"))


def train(
    config: ExperimentConfig,
    out: str | Path,
    data_dir=None,
    resume: bool = False,
    progress: bool = True,
    should_stop: Callable[[int, int], bool] | None = None,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train `config` into run directory `out`, evaluate on the test set, write everything.

    `should_stop(epoch, step)` is checked after every batch (epochs count from 1, steps from 1);
    returning True checkpoints and raises Interrupted, as Ctrl-C does.
    """
    run = RunDir(out)
    checkpoint = None
    if run.checkpoint.is_file() or run.is_complete:
        if not resume:
            raise UserError(f"{run.path} already holds a run. Pass --resume to continue it, or choose another --out.")
        config = _check_resume_config(load_config(str(run.config)), config, run.path)
        checkpoint = run.load_state(run.checkpoint) if run.checkpoint.is_file() else None
    elif resume and run.path.exists() and any(run.path.iterdir()):
        raise UserError(f"{run.path}: nothing to resume (no checkpoint.pt). Start it without --resume or use a new --out.")

    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    load_started = time.perf_counter()
    dataset = load_dataset(config.release, data_dir)
    split = prepare_split(dataset.train_images, dataset.train_labels, config, device)
    load_seconds = time.perf_counter() - load_started

    torch.manual_seed(config.seed)
    model, channels_last = place_model(build_model(config.model), device)
    if config.compile == "on" or (config.compile == "auto" and device.type == "cuda"):
        # In place, so state_dict keys stay those of the plain model. On this project's 2-core CPU
        # it made CNN-2's steps slower (21.8 ms against 18.3 ms), hence CUDA only by default.
        model.compile()
    optimizer = make_optimizer(config, model.parameters())
    shuffle_gen = torch.Generator().manual_seed(config.seed)
    aug_gen = torch.Generator(device=device).manual_seed(config.seed + 1)
    train_step = TrainStep(model, optimizer, config, aug_gen, channels_last, precision)

    history: list[dict] = []
    best = {"val_loss": float("inf"), "epoch": 0}
    epoch, step, perm, sums = 1, 0, None, None
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        _set_rng_state(checkpoint["rng"], shuffle_gen, aug_gen, device)
        history, best = checkpoint["history"], checkpoint["best"]
        epoch, step, perm, sums = checkpoint["epoch"], checkpoint["step"], checkpoint["perm"], checkpoint["sums"]
        log(f"resuming {run.path} at epoch {epoch}" + (f", batch {step + 1}" if step else ""))
    else:
        run.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run.config, config.to_toml())
        atomic_write_text(run.summary, summarize(model).format(f"{config.model} ({config.name})") + "\n")

    threads = torch.get_num_threads()
    environment = environment_record(config.seed, dataset, device, threads)
    environment["precision"] = precision
    if run.environment.is_file():  # keep the original start time across resumes
        environment["started"] = run.read_json(run.environment).get("started", environment["started"])
    run.write_json(run.environment, environment)

    n_train = split.train_x.shape[0]
    steps_per_epoch = -(-n_train // config.batch_size)
    best_state = run.load_state(run.best_weights) if run.best_weights.is_file() else None

    def save_checkpoint(next_epoch, next_step, perm_, sums_):
        run.save_state(run.checkpoint, {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "rng": _rng_state(shuffle_gen, aug_gen, device), "history": history, "best": best,
            "epoch": next_epoch, "step": next_step, "perm": perm_, "sums": sums_,
        })

    stopped_early = False
    training_started = time.perf_counter()
    with _StopFlag() as stop_flag:
        while epoch <= config.epochs and not stopped_early:
            started = time.perf_counter()
            if step == 0:
                perm = torch.randperm(n_train, generator=shuffle_gen)
                sums = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
            perm = perm.to(device)
            # Device-side running sums (no host sync per step), continued from a checkpoint's sums
            # so that a resumed epoch adds its losses in exactly the same order.
            loss_sum = torch.tensor(sums["loss"], device=device, dtype=torch.float64)
            correct = torch.tensor(sums["correct"], device=device, dtype=torch.int64)
            bar = _progress_bar(progress, steps_per_epoch, step, f"epoch {epoch}/{config.epochs}")
            model.train()
            for step in range(step + 1, steps_per_epoch + 1):
                index = perm[(step - 1) * config.batch_size : step * config.batch_size]
                y = split.train_y[index]
                lr = learning_rate_at(config, (epoch - 1) * steps_per_epoch + step - 1, config.epochs * steps_per_epoch)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                loss, logits = train_step(split.train_x[index], y)
                loss_sum += loss * y.shape[0]
                correct += (logits.argmax(1) == y).sum()
                sums["seen"] += y.shape[0]
                if bar is not None:
                    bar.update(1)
                    if step % 25 == 0 or step == steps_per_epoch:  # few host syncs
                        bar.set_postfix(loss=f"{loss_sum.item() / sums['seen']:.4f}",
                                        acc=f"{correct.item() / sums['seen']:.4f}")
                if stop_flag.requested or (should_stop is not None and should_stop(epoch, step)):
                    if bar is not None:
                        bar.close()
                    sums = {"loss": loss_sum.item(), "correct": int(correct.item()),
                            "seen": sums["seen"], "seconds": sums["seconds"] + time.perf_counter() - started}
                    save_checkpoint(epoch, step, perm.cpu(), sums)  # `step` batches of this epoch are done
                    raise Interrupted(run.path, epoch, step)
            if bar is not None:
                bar.close()
            train_loss = loss_sum.item() / sums["seen"]
            train_acc = int(correct.item()) / sums["seen"]
            val_logits = predict_logits(model, split.val_x, config.eval_batch_size, channels_last, precision,
                                        config.tta_flip)
            val_loss = F.cross_entropy(val_logits, split.val_y).item()
            val_acc = (val_logits.argmax(1) == split.val_y).float().mean().item()
            row = {
                "epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc,
                "val_loss": val_loss, "val_accuracy": val_acc, "lr": optimizer.param_groups[0]["lr"],
                "seconds": round(sums["seconds"] + time.perf_counter() - started, 3),
            }
            history.append(row)
            log(f"epoch {epoch}/{config.epochs}: loss {train_loss:.4f} acc {train_acc:.4f}  "
                f"val_loss {val_loss:.4f} val_acc {val_acc:.4f}  ({row['seconds']:.1f} s)")
            if val_loss < best["val_loss"]:
                best = {"val_loss": val_loss, "epoch": epoch}
                best_state = copy.deepcopy(model.state_dict())
                run.save_state(run.best_weights, best_state)
            patience = config.early_stopping_patience
            if patience and epoch - best["epoch"] >= patience:
                log(f"early stopping: no val_loss improvement for {patience} epochs (best epoch {best['epoch']})")
                stopped_early = True
            epoch, step = epoch + 1, 0
            run.write_history(history)
            save_checkpoint(epoch, 0, None, None)

    if config.evaluate_weights == "best" and best_state is not None:
        model.load_state_dict(best_state)
    timing = {"load_seconds": load_seconds, "training_started": training_started}
    metrics = _evaluate_and_write(run, model, dataset, config, device, channels_last, precision, history, best, timing)
    run.save_state(run.weights, model.state_dict())
    environment["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run.write_json(run.environment, environment)
    return TrainResult(run.path, history, metrics, config)


def _progress_bar(enabled: bool, total: int, done: int, desc: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc=desc, unit="batch", leave=False, dynamic_ncols=True)


def _evaluate_and_write(run, model, dataset, config, device, channels_last, precision, history, best, timing) -> dict:
    eval_started = time.perf_counter()
    metrics, probabilities = evaluate(model, dataset.test_images, dataset.test_labels, dataset.classes, device,
                                      config.eval_batch_size, channels_last, precision, config.tta_flip)
    done = time.perf_counter()
    final = history[-1] if history else {}
    summary = summarize(model)
    metrics.update({
        "experiment": config.name,
        "model": config.model,
        "release": dataset.release,
        "evaluated_weights": config.evaluate_weights,
        "epochs_run": len(history),
        "best_epoch": best["epoch"],
        "best_val_loss": best["val_loss"],
        "best_val_accuracy": max((r["val_accuracy"] for r in history), default=None),
        "final_train_accuracy": final.get("train_accuracy"),
        "final_train_loss": final.get("train_loss"),
        "final_val_accuracy": final.get("val_accuracy"),
        "final_val_loss": final.get("val_loss"),
        "train_seconds": round(sum(r["seconds"] for r in history), 3),
        "test_eval_seconds": round(done - eval_started, 3),
        # Wall time of this session from the start of training to the end of the test evaluation
        # (a resumed run counts only its own session; `train_seconds` sums every epoch).
        "wall_seconds": round(done - timing["training_started"], 3),
        "load_seconds": round(timing["load_seconds"], 3),
        "parameters": summary.trainable,
        "classes": list(dataset.classes),
    })
    run.write_json(run.metrics, metrics)
    write_predictions(run.predictions, probabilities, dataset.test_labels, dataset.classes)
    from .report.figures import write_run_figures

    write_run_figures(run.path, history, metrics, summary.rows, dataset.test_images, dataset.test_labels,
                      probabilities, title=f"{config.name} ({dataset.release})")
    return metrics
