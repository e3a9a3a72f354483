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

`train` reads as its phases: open or resume the run (`_open_run`), set up device, data, model and
optimizer (`_set_up`), record the start, then per epoch train (`_train_epoch`), validate
(`evaluation.loss_and_accuracy`, the helper evaluation uses too) and record it (`_end_epoch`),
and finish: test, write the results (`_finish`). `FitState` is what a checkpoint adds to the
model, optimizer and RNG states. Files are written through runs.RunDir, their one owner.
"""

from __future__ import annotations

import math
import signal
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, update_bn

from .data import Dataset, load_dataset, split_training_set
from .data.augment import augment_batch
from .device import autocast, deterministic_algorithms, place_model, resolve_device, resolve_precision
from .errors import TrainingDiverged, UserError
from .evaluation import eval_batches, evaluate, loss_and_accuracy, predict_logits, to_input
from .experiment import RUN_SETTINGS, ExperimentConfig, config_from_dict, load_config
from .fileio import WriteFailure
from .host_memory import reuse_freed_memory
from .models import build_model
from .models.init import dirac_, whiten_first_conv_
from .models.layers import apply_constraints
from .models.summary import summarize
from .muon import MuonSGD
from .optim import KerasRMSprop
from .runs import HISTORY_COLUMNS, RunDir, Scored, environment_record, was_validated
from .tensorboard_log import open_board


def parameter_groups(config: ExperimentConfig, model: torch.nn.Module) -> list[dict]:
    """One group, or with bn_bias_lr_scale two: BatchNorm biases, at that scale of the learning rate
    (each group's `lr_scale`) and with weight decay divided by it, as airbench; then the rest.
    With optimizer muon the convolution filters form a group of their own, at muon_lr."""
    params = list(model.parameters())
    groups = []
    if config.optimizer == "muon":
        filters = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d) and m.weight.requires_grad]
        if not filters:
            raise UserError(f"optimizer muon trains convolution filters, and model {config.model!r} has none; "
                            "use optimizer sgd (the same update for everything else).")
        groups.append({"params": filters, "muon": True, "lr_scale": config.muon_lr / config.learning_rate})
        params = _without(params, filters)
    if config.bn_bias_lr_scale != 1:
        norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.bias is not None]
        scale = config.bn_bias_lr_scale
        groups.append({"params": [m.bias for m in norms], "lr_scale": scale, "weight_decay": config.weight_decay / scale})
        params = _without(params, [m.bias for m in norms])
    return [*groups, {"params": params}]


def _without(params: list, taken: list) -> list:
    ids = {id(p) for p in taken}
    return [p for p in params if id(p) not in ids]


def make_optimizer(config: ExperimentConfig, params) -> torch.optim.Optimizer:
    """`params`: parameters, or `parameter_groups`' groups (which may set their own lr scale and weight decay)."""
    lr, wd = config.learning_rate, config.weight_decay
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-7, weight_decay=wd)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-7, weight_decay=wd)
    if config.optimizer == "rmsprop":
        return KerasRMSprop(params, lr=lr, rho=0.9, eps=1e-7, weight_decay=wd)  # epsilon inside the sqrt, as Keras
    if config.optimizer == "muon":
        return MuonSGD(params, lr=lr, momentum=config.momentum, weight_decay=wd, muon_momentum=config.muon_momentum)
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


BN_RECALIBRATION_IMAGES = 10_000  # BatchNorm statistics of a weight average: plenty, and forward passes only


class TrainStep:
    """One optimizer step on a batch: augment, forward, loss, backward, update, constraints.

    Returns the batch loss and logits, detached and still on the device (no host sync), so the
    caller can keep running sums without waiting for the step to finish.
    """

    def __init__(self, model, optimizer, config: ExperimentConfig, aug_gen: torch.Generator, channels_last: bool,
                 precision: str = "fp32", ema: AveragedModel | None = None, forward=None):
        """`forward`: the callable for the training forward pass (a compiled `model`); default `model`."""
        self.model, self.optimizer, self.config = model, optimizer, config
        self.aug_gen, self.channels_last, self.precision, self.ema = aug_gen, channels_last, precision, ema
        self.forward = model if forward is None else forward

    def __call__(self, x: torch.Tensor, y: torch.Tensor, flips: torch.Tensor | None = None,
                 size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """`flips` (bool per image) replaces the random flips: the alternating-flip schedule. `size`: train on
        the batch scaled down to size x size pixels (progressive resizing), after augmentation."""
        config = self.config
        if config.augment:
            x = augment_batch(x, self.aug_gen, flip=config.flip, zoom=config.zoom, shift=config.shift, flips=flips,
                              erasing=config.random_erasing)
        if size is not None:
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(x.device, self.precision):
            logits = self.forward(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        apply_constraints(self.model, config.unit_norm_axis)
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        return loss.detach(), logits.detach()


@dataclass
class Split:
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor


def prepare_split(images: np.ndarray, labels: np.ndarray, config: ExperimentConfig, device) -> Split:
    (train_x, train_y), (val_x, val_y) = split_training_set(images, labels, config.validation_split, config.train_limit)
    if not len(train_x) or not len(val_x):
        raise UserError(
            f"validation_split {config.validation_split} of {len(train_x) + len(val_x)} images leaves an empty "
            "training or validation set; use more images (--train-limit) or another split."
        )

    def labels_on_device(y: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(y).astype(np.int64)).to(device)

    return Split(to_input(train_x, device), labels_on_device(train_y), to_input(val_x, device), labels_on_device(val_y))


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

    def __reduce__(self):  # so that it crosses a process boundary (reproduce --jobs)
        return Interrupted, (self.run_dir, self.epoch, self.step)


@dataclass
class TrainResult:
    run_dir: Path
    history: list[dict]
    metrics: dict
    config: ExperimentConfig


def resume_config(out, experiment: str | None, overrides: dict) -> ExperimentConfig:
    """The config to resume the run in `out` with: its own config.toml, plus the keys given explicitly.

    A preset's values never sneak back in: resuming a 2-epoch run of ann-3 stays at 2 epochs unless
    `epochs` is given. `experiment`, when given, must name the run's own experiment.
    """
    run = RunDir(out)
    if not run.config.is_file():
        if run.holds_results_or_state:
            raise UserError(f"{run.path}: its config.toml is missing, so the run cannot be resumed; "
                            "train it again with another --out.")
        raise UserError(f"{run.path}: nothing to resume (no run there). Start it without --resume.")
    saved = run.read_config()
    if experiment is not None and load_config(experiment).name != saved.name:
        raise UserError(f"{run.path} holds a run of {saved.name!r}, not {experiment!r}. "
                        f"Resume it with `fashionlab train --out {run.path} --resume`.")
    given = {k: v for k, v in overrides.items() if v is not None}
    return config_from_dict({**saved.to_dict(), **given}, str(run.config))


def _check_resume_config(saved: ExperimentConfig, wanted: ExperimentConfig, run_dir: Path) -> ExperimentConfig:
    """A resumed run keeps its config; only `epochs` (to extend a run) and the RUN_SETTINGS may change."""
    differ = config_differences(saved, wanted, also_allowed=("epochs",))
    if differ:
        changes = ", ".join(f"{k}: {saved.to_dict()[k]!r} -> {wanted.to_dict()[k]!r}" for k in differ)
        raise UserError(f"{run_dir}: --resume with a different config ({changes}). Resume with the same settings, or use a new --out.")
    kept = {k: getattr(wanted, k) for k in ("epochs", *RUN_SETTINGS)}
    return config_from_dict({**saved.to_dict(), **kept}, str(run_dir / "config.toml"))


def config_differences(saved: ExperimentConfig, wanted: ExperimentConfig, also_allowed=()) -> list[str]:
    """The keys in which two configs differ, beyond the RUN_SETTINGS and `also_allowed`."""
    a, b = saved.to_dict(), wanted.to_dict()
    return [k for k in b if k not in RUN_SETTINGS and k not in also_allowed and a[k] != b[k]]


@dataclass
class FitState:
    """Where a fit stands, beyond the model, optimizer and RNG states: what resuming exactly needs.

    `epoch` is the epoch in progress (from 1) and `step` the batches of it done; `perm` is its
    shuffle order and `sums` its running loss, correct count, images seen and seconds (both None
    between epochs). `history` holds one row per finished epoch, `best` the best validation loss
    and its epoch.
    """

    epoch: int = 1
    step: int = 0
    perm: torch.Tensor | None = None
    sums: dict | None = None
    history: list[dict] = field(default_factory=list)
    best: dict = field(default_factory=lambda: {"val_loss": float("inf"), "epoch": 0})

    def to_checkpoint(self, model, optimizer, rng: dict, ema: AveragedModel | None = None) -> dict:
        return {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "rng": rng,
            "ema": None if ema is None else ema.state_dict(),
            "history": self.history, "best": self.best, "epoch": self.epoch, "step": self.step,
            "perm": None if self.perm is None else self.perm.cpu(), "sums": self.sums,
        }

    @classmethod
    def from_checkpoint(cls, checkpoint: dict) -> FitState:
        return cls(checkpoint["epoch"], checkpoint["step"], checkpoint["perm"], checkpoint["sums"],
                   checkpoint["history"], checkpoint["best"])


@dataclass
class _Fit:
    """What one call of `train` works with, set up once: the run directory, the data, the model and its optimizer."""

    run: RunDir
    config: ExperimentConfig
    device: torch.device
    precision: str
    dataset: Dataset
    split: Split
    model: torch.nn.Module
    channels_last: bool
    optimizer: torch.optim.Optimizer
    train_step: TrainStep
    shuffle_gen: torch.Generator
    aug_gen: torch.Generator
    ema: AveragedModel | None = None  # the weights validated, tested and saved when config.ema is on
    flip_bits: torch.Tensor | None = None  # each training image's flip in odd epochs, with alternate_flip
    environment: dict = field(default_factory=dict)

    @property
    def scoring_model(self) -> torch.nn.Module:
        return self.model if self.ema is None else self.ema.module

    def recalibrate_ema(self) -> None:
        """BatchNorm statistics for the averaged weights, from the first training images (no augmentation).

        Averaging the statistics along with the weights gives statistics of no one network: at decay
        0.998 the `fast` recipe's average scored 80.9% on validation as averaged and 93.1% once
        recomputed (session 7). SWA's update_bn, over BN_RECALIBRATION_IMAGES images.
        """
        batches = eval_batches(self.split.train_x[:BN_RECALIBRATION_IMAGES], self.config.eval_batch_size,
                               self.channels_last)
        with torch.no_grad(), autocast(self.device, self.precision):
            update_bn(batches, self.ema.module)

    def epoch_end_lr(self, epoch: int) -> float:
        """The schedule's learning rate at the last step of `epoch` (what history records; groups may scale it)."""
        total = self.config.epochs * self.steps_per_epoch
        return learning_rate_at(self.config, epoch * self.steps_per_epoch - 1, total)

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.split.train_x.shape[0] // self.config.batch_size)

    def rng_state(self) -> dict:
        state = {"shuffle": self.shuffle_gen.get_state(), "augment": self.aug_gen.get_state(),
                 "torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def restore(self, checkpoint: dict) -> None:
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if self.ema is not None:
            self.ema.load_state_dict(checkpoint["ema"])
        rng = checkpoint["rng"]
        self.shuffle_gen.set_state(rng["shuffle"])
        self.aug_gen.set_state(rng["augment"])
        torch.set_rng_state(rng["torch"])
        if self.device.type == "cuda" and "cuda" in rng:
            torch.cuda.set_rng_state(rng["cuda"], self.device)

    def save_checkpoint(self, state: FitState) -> None:
        self.run.save_state(self.run.checkpoint,
                            state.to_checkpoint(self.model, self.optimizer, self.rng_state(), self.ema))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return predict_logits(self.scoring_model, x, self.config.eval_batch_size, self.channels_last, self.precision,
                              self.config.tta_flip, self.config.tta_shift)

    def flips(self, index: torch.Tensor, epoch: int) -> torch.Tensor | None:
        """Which images of a batch to mirror under alternate_flip (None: random flips, or none)."""
        if self.flip_bits is None:
            return None
        return self.flip_bits[index] ^ (epoch % 2 == 0)


def train(
    config: ExperimentConfig,
    out: str | Path,
    data_dir=None,
    resume: bool = False,
    progress: bool = True,
    should_stop: Callable[[int, int], bool] | None = None,
    log: Callable[[str], None] = print,
    on_epoch: Callable[[dict], None] | None = None,
    kind: str = "network",
) -> TrainResult:
    """Train `config` into run directory `out`, evaluate on the test set, write everything.

    `should_stop(epoch, step)` is checked after every batch (epochs count from 1, steps from 1);
    returning True checkpoints and raises Interrupted, as Ctrl-C does. `on_epoch(row)` gets each
    finished epoch's history row once it is checkpointed; an exception it raises ends the fit
    there (a sweep's pruner does this). `kind` is the run kind recorded in metrics.json.
    """
    run = RunDir(out)
    with run.writing():
        try:
            return _train_locked(run, config, data_dir, resume, progress, should_stop, log, on_epoch, kind)
        except WriteFailure as failure:
            if not run.checkpoint.is_file():
                raise
            raise WriteFailure(failure.path, failure.reason, resumable=True) from None


def _train_locked(run: RunDir, config: ExperimentConfig, data_dir, resume: bool, progress: bool,
                  should_stop: Callable[[int, int], bool] | None, log: Callable[[str], None],
                  on_epoch: Callable[[dict], None] | None, kind: str) -> TrainResult:
    """`train`, with the run directory locked against any other writer."""
    config, checkpoint = _open_run(config, run, resume)
    with deterministic_algorithms(config.deterministic), reuse_freed_memory():
        return _fit(run, config, checkpoint, data_dir, progress, should_stop, log, on_epoch, kind)


def _fit(run: RunDir, config: ExperimentConfig, checkpoint: dict | None, data_dir, progress: bool,
         should_stop: Callable[[int, int], bool] | None, log: Callable[[str], None],
         on_epoch: Callable[[dict], None] | None, kind: str) -> TrainResult:
    """Set up (or restore) the fit, train every epoch, score the test set and write the run's files."""
    board = open_board(config, run.path)  # None unless config.tensorboard; refuses early without the extra
    fit, load_seconds = _set_up(run, config, data_dir, fresh=checkpoint is None)
    state = FitState()
    if checkpoint is not None:
        _check_same_data(run, fit.dataset)
        try:
            fit.restore(checkpoint)
        except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as exc:  # another model's, or damaged
            raise UserError(f"{run.checkpoint}: does not fit this run's model or optimizer ({type(exc).__name__}); "
                            "it is damaged or from another run. Start the run again with another --out.") from None
        state = FitState.from_checkpoint(checkpoint)
        log(f"resuming {run.path} at epoch {state.epoch}" + (f", batch {state.step + 1}" if state.step else ""))
    _record_start(fit, fresh=checkpoint is None)
    log(describe_setup(fit))
    if board is not None and checkpoint is None:
        board.graph(fit.model, fit.split.train_x[:1])

    stopped_early = False
    training_started = time.perf_counter()
    with _StopFlag() as stop_flag:
        def stop(epoch: int, step: int) -> bool:
            return stop_flag.requested or (should_stop is not None and should_stop(epoch, step))

        while state.epoch <= config.epochs and not stopped_early:
            started = time.perf_counter()
            train_loss, train_accuracy = _train_epoch(fit, state, started, stop, progress)
            if fit.ema is not None:
                fit.recalibrate_ema()
            val_loss = val_accuracy = None  # an epoch left unvalidated (validation_freq)
            if state.epoch % config.validation_freq == 0 or state.epoch == config.epochs:
                val_loss, val_accuracy = loss_and_accuracy(fit.logits(fit.split.val_x), fit.split.val_y)
            row = {
                "epoch": state.epoch, "train_loss": train_loss, "train_accuracy": train_accuracy,
                "val_loss": val_loss, "val_accuracy": val_accuracy, "lr": fit.epoch_end_lr(state.epoch),
                "seconds": round(state.sums["seconds"] + time.perf_counter() - started, 3),
            }
            _check_finite(run, row)
            stopped_early = _end_epoch(fit, state, row, log)
            if board is not None:
                board.epoch(row)  # written and flushed: an interrupted run keeps its curves
            if on_epoch is not None:
                on_epoch(row)

    metrics = _finish(fit, state, load_seconds, training_started, kind, resumed=checkpoint is not None)
    if board is not None:
        board.finish(metrics, run.path)
    return TrainResult(run.path, state.history, metrics, config)


def describe_setup(fit: _Fit) -> str:
    """One line on what the numbers will depend on: device, precision, threads, deterministic kernels, data."""
    config, env = fit.config, fit.environment
    why = " (auto: bf16 where the hardware runs it natively; --precision fp32 for the paper's)" \
        if config.precision == "auto" else ""
    return (f"device {env['device']} ({env['device_name']}), precision {fit.precision}{why}, "
            f"{env['threads']} thread{'s' if env['threads'] != 1 else ''}"
            f"{', deterministic kernels' if config.deterministic else ''}; "
            f"{fit.split.train_y.shape[0]:,} training and {fit.split.val_y.shape[0]:,} validation images "
            f"of {fit.dataset.release}")


def _check_finite(run: RunDir, row: dict) -> None:
    """Stop a diverged fit: NaN or infinite losses would otherwise train on and write a finished-looking run."""
    bad = [k for k in ("train_loss", "val_loss") if row[k] is not None and not math.isfinite(row[k])]
    if bad:
        raise TrainingDiverged(f"training diverged in epoch {row['epoch']}: {' and '.join(bad)} became {row[bad[0]]}. "
                        f"Lower the learning rate (or check the config). {run.path} is left unfinished, "
                        "without weights or metrics.")


def _open_run(config: ExperimentConfig, run: RunDir, resume: bool) -> tuple[ExperimentConfig, dict | None]:
    """The config to train (a resumed run keeps its own) and the checkpoint to resume from.

    Refuses what would mix two runs or retrain one over itself: a fresh start into a run, a resume
    of a finished run that asks for no more epochs, and a resume of a finished run whose
    checkpoint is gone (it would start again from epoch 1).
    """
    run.refuse_things_in_the_way()
    if not resume:
        if run.holds_results_or_state:  # a sweep writes trial.json before its trial trains
            raise UserError(f"{run.path} already holds a run. Pass --resume to continue it, or choose another --out.")
        if foreign := run.files_not_from_a_run:
            raise UserError(f"{run.path} holds {', '.join(foreign)}, not from a run, which training would overwrite. "
                            "Choose another --out.")
        return config, None
    if not run.config.is_file() or not (run.checkpoint.is_file() or run.is_complete):
        raise UserError(f"{run.path}: nothing to resume (no checkpoint.pt). Start it without --resume or use a new --out.")
    saved = run.read_config()
    config = _check_resume_config(saved, config, run.path)
    if run.is_complete and config.epochs <= saved.epochs:
        raise UserError(f"{run.path} is a finished run of {saved.epochs} epochs: nothing to resume. "
                        f"To train it longer, pass --epochs with more than {saved.epochs}.")
    if not run.checkpoint.is_file():
        raise UserError(f"{run.path} is a finished run without its checkpoint.pt, so it cannot be trained further "
                        "(it would start again from epoch 1). Train a new run with another --out.")
    checkpoint = run.load_state(run.checkpoint)
    problem = _checkpoint_problem(checkpoint, saved.epochs)
    if problem:
        raise UserError(f"{run.checkpoint}: damaged or not a fashionlab checkpoint ({problem}). "
                        "Start the run again with another --out.")
    done = checkpoint["history"]
    if len(done) > config.epochs or (len(done) == config.epochs and done and not was_validated(done[-1])):
        # It would finish on an epoch without validation figures (or hold more epochs than its config says).
        raise UserError(f"--epochs {config.epochs}: {run.path} has trained {len(done)} epochs already; resume it with "
                        f"--epochs {len(done) + 1} or more, or without --epochs.")
    return config, checkpoint


def _checkpoint_problem(checkpoint, epochs: int) -> str | None:
    """What makes `checkpoint` unusable for a run of `epochs` epochs, checked before anything is written; or None."""
    if not isinstance(checkpoint, dict) or not {"model", "optimizer", "rng", "epoch", "step", "history", "best"} <= checkpoint.keys():
        return "a field is missing"
    epoch, step, history = checkpoint["epoch"], checkpoint["step"], checkpoint["history"]
    if not (type(epoch) is int and 1 <= epoch <= epochs + 1):  # epochs + 1: every epoch done, the test not yet
        return f"its epoch is not a number from 1 to {epochs + 1}"
    if not (type(step) is int and step >= 0):
        return "its step is not a count"
    if not (isinstance(history, list) and len(history) == epoch - 1
            and all(isinstance(row, dict) and set(HISTORY_COLUMNS) <= row.keys() for row in history)):
        return f"its history does not hold the {epoch - 1} finished epochs"
    if not isinstance(checkpoint["best"], dict):
        return "its best epoch is not recorded"
    return None


def _check_same_data(run: RunDir, dataset: Dataset) -> None:
    """A resumed run must continue on the data it started on: compare the recorded checksums."""
    recorded = run.read_json(run.environment).get("dataset", {}).get("checksums") if run.environment.is_file() else None
    if not isinstance(recorded, dict):
        return  # nothing recorded to compare with (a run from before checksums were recorded)
    differ = sorted(name for name in set(recorded) | set(dataset.checksums) if recorded.get(name) != dataset.checksums.get(name))
    if differ:
        raise UserError(f"{run.path} was trained on other data than {dataset.data_dir} holds: "
                        f"{', '.join(differ)} differ. Resume with the run's own data (--data-dir), or train a new run.")


def _set_up(run: RunDir, config: ExperimentConfig, data_dir, fresh: bool = True) -> tuple[_Fit, float]:
    """Device, data, model (seeded), optimizer and generators; returns them with the data's load time.

    `fresh` is False when a checkpoint's weights will replace the model's: the whitening init's
    patch covariance is then skipped (it draws no random numbers, so nothing after it changes).
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    load_started = time.perf_counter()
    dataset = load_dataset(config.release, data_dir)
    split = prepare_split(dataset.train_images, dataset.train_labels, config, device)
    load_seconds = time.perf_counter() - load_started

    torch.manual_seed(config.seed)
    model = build_model(config.model)
    count = split.train_y.shape[0]
    if count % config.batch_size == 1 and any(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules()):
        # Keras normalises a lone row (its BatchNormalization outputs beta); PyTorch's BatchNorm1d refuses it,
        # and a subclass that took Keras's way changed what torch.compile made of every batch (session 27).
        raise UserError(f"{config.model}'s Dense BatchNorm cannot train on a batch of one image, and {count:,} training "
                        f"images at batch_size {config.batch_size} leave one in each epoch's last batch; change "
                        "--batch-size or --train-limit (or validation_split) by one.")
    if config.dirac_init:
        dirac_(model)
    if config.whiten_init and fresh:
        whiten_first_conv_(model, split.train_x)
    model, channels_last = place_model(model, device)
    # A copy of the plain (uncompiled) model. It averages parameters only: its BatchNorm statistics
    # are recomputed for the averaged weights at each epoch's end (_Fit.recalibrate_ema).
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema), use_buffers=False) if config.ema else None
    forward = None
    if config.compile == "on" or (config.compile == "auto" and device.type == "cuda"):
        # The training step only: validation and the final test score run the plain model, the code
        # `evaluate` runs, so that scoring a run again gives its numbers to the last bit (a compiled bf16
        # forward differs in its last bits: `evaluate` disagreed with compiled `fast` and cnn-2 runs on
        # the CPU). On this project's 2-core CPU compiling made CNN-2's steps slower (bf16: 26.7 ms against
        # 24.5 ms, README "Speed"): CUDA only by default.
        # Compile as a fresh process would. Compiled models share Dynamo's frames (every paper model one,
        # every FastNet another), so a run earlier in this process (`reproduce --jobs 1`, a sweep worker,
        # a notebook) would leave its guards and shape history behind: the next run then compiled with a
        # symbolic batch size from its first step (seen on the CPU: cnn-2 after ann-1), and its
        # recompiles counted towards Dynamo's limit of 8, past which Dynamo warns and runs frames eagerly.
        # The reset is process-wide: whatever else this process compiled is compiled again when next called.
        torch._dynamo.reset()
        forward = torch.compile(model)
    optimizer = make_optimizer(config, parameter_groups(config, model))
    shuffle_gen = torch.Generator().manual_seed(config.seed)
    aug_gen = torch.Generator(device=device).manual_seed(config.seed + 1)
    flip_bits = None
    if config.alternate_flip and config.augment and config.flip:
        n = split.train_y.shape[0]
        flip_bits = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(config.seed + 2)).bool().to(device)
    train_step = TrainStep(model, optimizer, config, aug_gen, channels_last, precision, ema, forward)
    fit = _Fit(run, config, device, precision, dataset, split, model, channels_last, optimizer, train_step,
               shuffle_gen, aug_gen, ema, flip_bits)
    return fit, load_seconds


def _record_start(fit: _Fit, fresh: bool) -> None:
    """A fresh run writes its config and model summary; every session (re)writes environment.json."""
    run = fit.run
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_config(fit.config.to_dict())  # every session: a resume may extend epochs or change a run setting
    if fresh:
        run.write_summary(summarize(fit.model).format(f"{fit.config.model} ({fit.config.name})") + "\n")
    fit.environment = environment_record(fit.config.seed, fit.dataset, fit.device, torch.get_num_threads())
    fit.environment["precision"] = fit.precision
    if run.environment.is_file():  # keep the original start time across resumes
        fit.environment["started"] = run.read_json(run.environment).get("started", fit.environment["started"])
    run.write_json(run.environment, fit.environment)


def _train_epoch(fit: _Fit, state: FitState, started: float, stop: Callable[[int, int], bool],
                 progress: bool) -> tuple[float, float]:
    """Train the rest of epoch `state.epoch`, from batch `state.step + 1`; returns its train loss and accuracy.

    On a stop request it checkpoints at the batch boundary and raises Interrupted.
    """
    config, split, device = fit.config, fit.split, fit.device
    steps_per_epoch = fit.steps_per_epoch
    if state.step == 0:
        state.perm = torch.randperm(split.train_x.shape[0], generator=fit.shuffle_gen)
        state.sums = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}
    perm, sums = state.perm.to(device), state.sums
    # Device-side running sums (no host sync per step), continued from a checkpoint's sums so that
    # a resumed epoch adds its losses in exactly the same order.
    loss_sum = torch.tensor(sums["loss"], device=device, dtype=torch.float64)
    correct = torch.tensor(sums["correct"], device=device, dtype=torch.int64)
    size = config.low_res if state.epoch <= config.low_res_epochs else None
    bar = _progress_bar(progress, steps_per_epoch, state.step,
                        f"epoch {state.epoch}/{config.epochs}" + (f" at {size}x{size}" if size else ""))
    fit.model.train()
    for step in range(state.step + 1, steps_per_epoch + 1):
        index = perm[(step - 1) * config.batch_size : step * config.batch_size]
        y = split.train_y[index]
        lr = learning_rate_at(config, (state.epoch - 1) * steps_per_epoch + step - 1, config.epochs * steps_per_epoch)
        for group in fit.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        loss, logits = fit.train_step(split.train_x[index], y, fit.flips(index, state.epoch), size)
        loss_sum += loss * y.shape[0]
        correct += (logits.argmax(1) == y).sum()
        sums["seen"] += y.shape[0]
        if bar is not None:
            bar.update(1)
            if step % 25 == 0 or step == steps_per_epoch:  # few host syncs
                bar.set_postfix(loss=f"{loss_sum.item() / sums['seen']:.4f}", acc=f"{correct.item() / sums['seen']:.4f}")
        if stop(state.epoch, step):
            if bar is not None:
                bar.close()
            state.step = step  # `step` batches of this epoch are done
            state.sums = {"loss": loss_sum.item(), "correct": int(correct.item()), "seen": sums["seen"],
                          "seconds": sums["seconds"] + time.perf_counter() - started}
            fit.save_checkpoint(state)
            raise Interrupted(fit.run.path, state.epoch, step)
    if bar is not None:
        bar.close()
    return loss_sum.item() / sums["seen"], int(correct.item()) / sums["seen"]


def _end_epoch(fit: _Fit, state: FitState, row: dict, log: Callable[[str], None]) -> bool:
    """Record a finished epoch: history, best weights, checkpoint. Returns whether early stopping ends the fit."""
    config, run = fit.config, fit.run
    state.history.append(row)
    validated = was_validated(row)
    scores = f"val_loss {row['val_loss']:.4f} val_acc {row['val_accuracy']:.4f}" if validated else "not validated"
    log(f"epoch {row['epoch']}/{config.epochs}: loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f}  "
        f"{scores}  ({row['seconds']:.1f} s)")
    if validated and row["val_loss"] < state.best["val_loss"]:
        state.best = {"val_loss": row["val_loss"], "epoch": row["epoch"]}
        run.save_state(run.best_weights, fit.scoring_model.state_dict())
    patience = config.early_stopping_patience
    stopped_early = bool(patience) and row["epoch"] - state.best["epoch"] >= patience
    if stopped_early:
        log(f"early stopping: no val_loss improvement for {patience} epochs (best epoch {state.best['epoch']})")
    state.epoch, state.step, state.perm, state.sums = state.epoch + 1, 0, None, None
    run.write_history(state.history)
    fit.save_checkpoint(state)
    return stopped_early


def _finish(fit: _Fit, state: FitState, load_seconds: float, training_started: float, kind: str,
            resumed: bool) -> dict:
    """Score the chosen weights on the test set and write the results; weights.pt last marks the run finished."""
    run, config, dataset, history = fit.run, fit.config, fit.dataset, state.history
    if fit.ema is not None:  # the averaged weights are the run's final weights
        fit.model.load_state_dict(fit.ema.module.state_dict())
    if config.evaluate_weights == "best" and run.best_weights.is_file():
        fit.model.load_state_dict(run.load_state(run.best_weights))
    eval_started = time.perf_counter()
    metrics, probabilities = evaluate(fit.model, dataset.test_images, dataset.test_labels, dataset.classes,
                                      fit.device, config.eval_batch_size, fit.channels_last, fit.precision,
                                      config.tta_flip, config.tta_shift)
    done = time.perf_counter()
    final = history[-1] if history else {}
    summary = summarize(fit.model)
    metrics.update({
        "experiment": config.name,
        "model": config.model,
        "release": dataset.release,
        "evaluated_weights": config.evaluate_weights,
        "epochs_run": len(history),
        "best_epoch": state.best["epoch"],
        "best_val_loss": state.best["val_loss"],
        "best_val_accuracy": max((r["val_accuracy"] for r in history if was_validated(r)), default=None),
        "final_train_accuracy": final.get("train_accuracy"),
        "final_train_loss": final.get("train_loss"),
        "final_val_accuracy": final.get("val_accuracy"),
        "final_val_loss": final.get("val_loss"),
        "train_seconds": round(sum(r["seconds"] for r in history), 3),
        "test_eval_seconds": round(done - eval_started, 3),
        # Wall time of this session from the start of training to the end of the test evaluation
        # (a resumed run counts only its own session, and says so; `train_seconds` sums every epoch).
        "wall_seconds": round(done - training_started, 3),
        "resumed": resumed,
        "load_seconds": round(load_seconds, 3),
        "parameters": summary.trainable,
        "train_count": int(fit.split.train_y.shape[0]),  # images learnt from: reports show it beside baselines'
        "validation_count": int(fit.split.val_y.shape[0]),
        "classes": list(dataset.classes),
    })
    for text in metrics.get("warnings", []):  # a collapse onto one or two classes (evaluation.prediction_collapse)
        warnings.warn(f"{run.path}: {text}", stacklevel=4)  # at train()'s line, past _fit and _train_locked
    run.write_metrics(metrics, kind)
    labels = np.asarray(dataset.test_labels)
    run.write_predictions(probabilities, labels, dataset.classes)
    run.write_figures(Scored(f"{config.name} ({dataset.release})", history, metrics, dataset.test_images, labels,
                             probabilities, summary.rows))
    run.save_state(run.weights, fit.model.state_dict())
    fit.environment["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run.write_json(run.environment, fit.environment)
    return metrics


def _progress_bar(enabled: bool, total: int, done: int, desc: str):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc=desc, unit="batch", leave=False, dynamic_ncols=True)


def finished_already(config: ExperimentConfig, out: str | Path) -> bool:
    """Whether `out` holds `config`'s run finished (to skip); False when it is to be trained or resumed.

    For commands that train several runs and can be started again at any point (`reproduce`,
    `train --seeds`). A finished run with other settings (beyond RUN_SETTINGS) is refused.
    """
    run = RunDir(out)
    if run.is_complete and not run.checkpoint.is_file():
        raise UserError(f"{run.path}: a finished run without its checkpoint; remove it or use another --out.")
    if not (run.is_complete or run.checkpoint.is_file()):
        return False
    # Finished or interrupted: only the same settings (epochs included) skip or continue it, so that
    # another --scale never silently extends an interrupted run.
    saved = run.read_config()
    differ = config_differences(saved, config)
    if differ:
        changes = "; ".join(f"{k} {getattr(saved, k)!r} there, {getattr(config, k)!r} asked" for k in differ)
        raise UserError(f"{run.path} holds {saved.name} with other settings ({changes}). "
                        "Use another --out for other settings (another scale, seed or config).")
    return run.is_complete


def train_unless_done(config: ExperimentConfig, out: str | Path, data_dir=None, progress: bool = True,
                      log: Callable[[str], None] = print) -> TrainResult | None:
    """Train `config` into `out`, resuming an interrupted run there; None when it is finished already."""
    run = RunDir(out)
    if finished_already(config, run.path):
        log(f"{config.name}: finished earlier, skipped ({run.path})")
        return None
    return train(config, run.path, data_dir=data_dir, resume=run.checkpoint.is_file(), progress=progress, log=log)
