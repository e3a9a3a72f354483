"""The run directory: the one owner of every file in it, each written atomically.

    config.toml        the resolved experiment config (networks), or what was fitted (baselines, ensembles)
    environment.json   versions, device, threads, dataset release and checksums, seed, precision, times
    history.csv        one row per epoch: epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr, seconds
                       (the val_ cells empty for an epoch left unvalidated by validation_freq)
    metrics.json       test_accuracy, test_loss, per_class, confusion_matrix, ..., and the run's `kind`
    predictions.csv    index, label, predicted, one probability column per class
    weights.pt         the weights scored on the test set (a plain state dict)
    best.pt            the weights with the best validation loss
    checkpoint.pt      everything needed to resume (model, optimizer, RNG states, history)
    summary.txt        the model summary
    trial.json         a sweep trial's record: study, trial number, parameters, state, objective value
    the figures        RUN_FIGURES: one list of file names and captions, drawn here, shown by reports

Other modules go through `RunDir` and `load_run`; none opens these files by name. They ask a run
its `kind` (KINDS), never the text of its config. The kind is recorded in metrics.json, with the
results that make a run finished. Runs recorded before `kind` existed lack it: baselines and
ensembles always wrote theirs, so such a run is a network; so is a directory without
metrics.json that holds a checkpoint or weights (a network is the one kind written in steps).

A sweep trial (kind `trial`) is a network run that a sweep started, with trial.json beside its
files. A trial the sweep pruned, or one that failed, has trial.json and no metrics.json: it is
not a finished run, and commands that need one say what it is.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import platform
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .errors import ConfigError, UserError
from .fileio import (LINK_LOOP, atomic_write_bytes, atomic_write_json, atomic_write_text, entry_kind, missing_folders,
                     remove_empty_folders, write_failure)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HISTORY_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")
VALIDATION_COLUMNS = ("val_loss", "val_accuracy")  # None in a row, empty in history.csv: the epoch was not validated
KINDS = ("network", "baseline", "ensemble", "trial")
TRIAL_STATES = ("running", "complete", "pruned", "failed", "diverged")  # trial.json's `state`
RUN_FIGURES = (  # file name, caption: in the order reports show them
    ("learning_curves.png", "Learning curves: accuracy and loss, train against validation"),
    ("confusion_matrix.png", "Confusion matrix on the test set (counts)"),
    ("confusion_matrix_normalized.png", "Confusion matrix, normalised per true class"),
    ("per_class_accuracy.png", "Per-class test accuracy"),
    ("misclassified.png", "Most confidently misclassified test images"),
    ("model.png", "Model diagram"),
)
_NO_MODEL = {  # why a run of this kind cannot be evaluated or predicted with
    "baseline": "is a classical baseline: its metrics were computed when it was fitted, and its model is not "
                "saved. Run `fashionlab baselines` again to refit it.",
    "ensemble": "is an ensemble: its metrics average its members' saved predictions, and it has no model of "
                "its own. Evaluate or predict with one of its members.",
}


def was_validated(row: dict) -> bool:
    """Whether this history row's epoch scored the validation images (every epoch unless validation_freq > 1)."""
    return row["val_loss"] is not None


@dataclass
class Scored:
    """What a run's figures are drawn from: its results on the test set."""

    title: str
    history: list[dict]
    metrics: dict
    images: np.ndarray  # the test images, uint8 (N, 28, 28)
    labels: np.ndarray
    probabilities: np.ndarray  # (N, K)
    layers: list | None = None  # a network's summary rows (models.summary.LayerRow); None for other kinds


def refuse_non_file(path: Path, belongs: str) -> None:
    """UserError when something other than a file (a folder, a FIFO, ...) sits at `path`, where `belongs` will be written."""
    kind = entry_kind(path)
    if kind not in (None, "a file"):
        raise UserError(f"{path} is {kind} where {belongs} belongs; move it or choose another --out.")


def refuse_repeated_runs(run_dirs, why: str) -> dict[Path, str]:
    """One line naming a run directory given twice (the same folder by any spelling); returns the
    resolved paths, each mapped to the spelling given."""
    seen: dict[Path, str] = {}
    for path in run_dirs:
        # Asked before resolve(), which raises RuntimeError on a loop before Python 3.13 and returns a path since.
        if entry_kind(path) == LINK_LOOP:
            raise UserError(f"{path} is {LINK_LOOP}; give the run folder's own path.")
        key = Path(path).resolve()
        if key in seen:
            raise UserError(f"{path} is given twice (as {seen[key]}); {why}.")
        seen[key] = str(path)
    return seen


def refuse_run_file_as_output(out: str | os.PathLike, flag: str) -> None:
    """UserError when `out` would overwrite a run's own file: any run's, not only the one a command reads
    (a report or export written beside them is fine: its name is not one of theirs)."""
    out = Path(out)
    folder = RunDir(out.parent)
    if out.name in RunDir.OWN_FILES and folder.is_marked_as_run:
        raise UserError(f"{flag} {out} is the run {out.parent}'s own {out.name}; writing there would destroy that "
                        "run. Give another file name.")


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    config = property(lambda self: self.path / "config.toml")
    environment = property(lambda self: self.path / "environment.json")
    history = property(lambda self: self.path / "history.csv")
    metrics = property(lambda self: self.path / "metrics.json")
    predictions = property(lambda self: self.path / "predictions.csv")
    weights = property(lambda self: self.path / "weights.pt")
    best_weights = property(lambda self: self.path / "best.pt")
    checkpoint = property(lambda self: self.path / "checkpoint.pt")
    summary = property(lambda self: self.path / "summary.txt")
    trial = property(lambda self: self.path / "trial.json")

    OWN_FILES = ("config.toml", "environment.json", "history.csv", "metrics.json", "predictions.csv", "weights.pt",
                 "best.pt", "checkpoint.pt", "summary.txt", "trial.json", *(name for name, _ in RUN_FIGURES))

    def refuse_things_in_the_way(self) -> None:
        """UserError when a folder (or other non-file) sits where one of the run's files will be written,
        checked before training so that the work is not lost when the write fails at the end."""
        for name in self.OWN_FILES:
            refuse_non_file(self.path / name, f"the run's {name}")

    @property
    def holds_results_or_state(self) -> bool:
        """A checkpoint, metrics or weights: a run is here (config.toml or a sweep's trial.json alone is not)."""
        return self.checkpoint.is_file() or self.metrics.is_file() or self.weights.is_file()

    @property
    def is_complete(self) -> bool:
        return self.metrics.is_file() and self.weights.is_file()

    @property
    def is_marked_as_run(self) -> bool:
        """A run writes config.toml (a sweep trial trial.json) first: either marks the folder as a run's."""
        return self.config.is_file() or self.trial.is_file()

    @property
    def files_not_from_a_run(self) -> list[str]:
        """Names of a run's files present in a folder that is no run (no config.toml nor trial.json): a user's
        own summary.txt or predictions.csv, which training there would overwrite."""
        if self.is_marked_as_run:
            return []
        return [name for name in self.OWN_FILES if (self.path / name).exists()]

    @property
    def holds_files(self) -> bool:
        return self.path.is_dir() and any(self.path.iterdir())

    @contextmanager
    def writing(self):
        """Hold an exclusive lock on the directory for as long as anything writes to it.

        An OS lock (flock) on the directory itself: the kernel releases it when the process ends,
        however it ends, so no stale lock file is ever left behind. A second writer is refused at
        once. The folders this call created and left empty are removed again, its parents included.
        """
        created = missing_folders(self.path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDONLY)
        except NotADirectoryError:
            raise UserError(f"{self.path}: a file is in the way (or in its path); choose another --out.") from None
        except OSError as exc:
            remove_empty_folders(created)  # e.g. runs/ when the run's own name was too long
            failure = write_failure(self.path, exc)
            if failure is None:
                raise
            raise failure from None
        try:
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except ImportError:  # pragma: no cover - not on POSIX: no lock
                pass
            except BlockingIOError:
                raise UserError(f"{self.path} is being written by another fashionlab process right now. "
                                "Wait for it to finish, or choose another --out.") from None
            yield self
        finally:
            os.close(fd)
            remove_empty_folders(created)

    @property
    def kind(self) -> str | None:
        """network, baseline, ensemble or trial; None where no run has been started (see the module docstring)."""
        if self.metrics.is_file():
            kind = self.read_json(self.metrics).get("kind", "network")
            return kind if kind in KINDS else "network"
        if self.trial.is_file():
            return "trial"
        if self.checkpoint.is_file() or self.weights.is_file():
            return "network"
        return None

    def require(self, *names: str) -> None:
        """Error (exit 2) unless this looks like a run directory holding `names`."""
        if not self.path.is_dir():
            kind = entry_kind(self.path)
            if kind is None:
                raise UserError(f"{self.path}: no such run directory.")
            raise UserError(f"{self.path} is {kind}, not a run directory. Give the folder a run was trained into "
                            "(train's --out).")
        missing = [n for n in names if not (self.path / n).is_file()]
        if missing and self.trial.is_file() and not self.metrics.is_file():
            record = self.read_trial()
            raise UserError(
                f"{self.path} is trial {record.get('number')} of sweep {record.get('study')!r}, "
                f"{record.get('state')} after {record.get('epochs_run', 0)} epoch(s): it has no test results. "
                f"Train its config fully with `fashionlab train {self.config}`."
            )
        if missing and not any(p.is_file() for p in (self.config, self.trial, self.checkpoint, self.metrics, self.weights)):
            inside = list(itertools.islice(_iter_runs(self.path, max_depth=3), 3))  # `evaluate runs`, a sweep folder
            example = (f"; it holds runs, such as {', '.join(str(p) for p in inside[:2])} (`fashionlab runs "
                       f"{self.path}` lists them)" if inside else "")
            raise UserError(f"{self.path} is no run directory (no config.toml, metrics.json or weights.pt){example}. "
                            "Give the folder a run was trained into (train's --out).")
        if missing:
            how = (f"Finish it with `fashionlab train --out {self.path} --resume`." if self.checkpoint.is_file()
                   else "Its checkpoint.pt is gone too, so it cannot be finished: train it again with another --out.")
            raise UserError(f"{self.path}: not a complete run directory (missing {', '.join(missing)}). {how}")

    def require_network(self) -> None:
        """Error unless this is a trained network's run (other kinds have no saved model to load)."""
        self.require("config.toml")
        kind = self.kind
        if kind in _NO_MODEL:
            raise UserError(f"{self.path} {_NO_MODEL[kind]}")
        self.require("weights.pt")

    # ------------------------------------------------------------ config and summary

    def write_config(self, values: dict) -> None:
        import tomli_w

        atomic_write_text(self.config, tomli_w.dumps(values))

    def read_config_values(self) -> dict:
        """config.toml as a plain dict, whatever the run's kind."""
        try:
            return tomllib.loads(self.config.read_text(encoding="utf-8-sig"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{self.config}: a run file is damaged ({exc}).") from None
        except RecursionError:
            raise UserError(f"{self.config}: a run file is damaged (nested too deeply to read).") from None

    def read_config(self):
        """A network run's config.toml as a validated ExperimentConfig."""
        from .experiment import load_config

        try:
            return load_config(str(self.config))  # its checks first: a FIFO or a huge file is never read here
        except ConfigError:
            if not self.read_config_values():  # empty: load_config's advice is for a user's own config
                raise UserError(f"{self.config}: a run file is damaged (it holds no settings).") from None
            raise

    def write_summary(self, text: str) -> None:
        atomic_write_text(self.summary, text)

    # ------------------------------------------------------------ history, metrics, environment

    def write_history(self, rows: list[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in HISTORY_COLUMNS})
        atomic_write_text(self.history, buffer.getvalue())

    def read_history(self) -> list[dict]:
        """history.csv's rows; a damaged file (a short row, text where a number belongs) is a UserError naming it."""
        try:
            with open(self.history, newline="", encoding="utf-8-sig") as fh:  # -sig: a spreadsheet's BOM
                reader = csv.DictReader(fh)
                if reader.fieldnames is not None and not set(HISTORY_COLUMNS) - {"lr"} <= set(reader.fieldnames):
                    raise ValueError(f"its header lacks {', '.join(sorted(set(HISTORY_COLUMNS) - set(reader.fieldnames)))}")
                rows = []
                for row in reader:
                    if None in row.values() or None in row:
                        raise ValueError(f"line {reader.line_num} has {'too few' if None in row.values() else 'too many'} fields")
                    unvalidated = all(row.get(k) == "" for k in VALIDATION_COLUMNS)  # both empty, or it is damaged
                    rows.append({k: (int(v) if k == "epoch" else None if unvalidated and k in VALIDATION_COLUMNS
                                     else float(v)) for k, v in row.items()})
                return rows
        except FileNotFoundError:
            raise UserError(f"{self.history}: missing; the run directory is incomplete.") from None
        except (ValueError, UnicodeDecodeError, csv.Error) as exc:  # csv.Error: e.g. a field of zero bytes
            raise UserError(f"{self.history}: a run file is damaged ({exc}).") from None

    def write_metrics(self, metrics: dict, kind: str) -> None:
        """metrics.json, with the run's kind; written when a run's results are final."""
        if kind not in KINDS:
            raise ValueError(f"unknown run kind {kind!r}")
        metrics["kind"] = kind
        self.write_json(self.metrics, metrics)

    def write_trial(self, record: dict) -> None:
        """trial.json: a sweep trial's study, number, parameters, state (TRIAL_STATES) and objective value."""
        if record.get("state") not in TRIAL_STATES:
            raise ValueError(f"unknown trial state {record.get('state')!r}")
        self.path.mkdir(parents=True, exist_ok=True)
        self.write_json(self.trial, record)

    def read_trial(self) -> dict | None:
        """trial.json as written by write_trial; None when this run is not a sweep trial."""
        return self.read_json(self.trial) if self.trial.is_file() else None

    def write_json(self, path: Path, obj) -> None:
        atomic_write_json(path, obj)

    def read_json(self, path: Path) -> dict:
        try:
            value = json.loads(path.read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            raise UserError(f"{path}: missing; the run directory is incomplete.") from None
        except IsADirectoryError:
            raise UserError(f"{path}: a directory where a run file belongs.") from None
        except ValueError as exc:  # invalid JSON or not UTF-8
            # Python's own advice for a number of thousands of digits (raise the limit) is not the user's fix.
            reason = "a number of thousands of digits" if "int_max_str_digits" in str(exc) else exc
            raise UserError(f"{path}: a run file is damaged ({reason}).") from None
        except RecursionError:
            raise UserError(f"{path}: a run file is damaged (nested too deeply to read).") from None
        if not isinstance(value, dict):
            raise UserError(f"{path}: a run file is damaged (a JSON object was expected).")
        return value

    def read_metrics(self) -> dict:
        """metrics.json, checked: the fields every kind of run writes, with the types readers rely on."""
        metrics = self.read_json(self.metrics)
        problem = _metrics_problem(metrics)
        if problem:
            raise UserError(f"{self.metrics}: a run file is damaged ({problem}).")
        return metrics

    def read_environment(self) -> dict:
        """environment.json, checked: the dataset record (release and checksums) that comparisons rely on."""
        environment = self.read_json(self.environment)
        dataset = environment.get("dataset")
        if not (isinstance(dataset, dict) and isinstance(dataset.get("checksums", {}), dict)
                and isinstance(dataset.get("release", ""), str)):
            raise UserError(f"{self.environment}: a run file is damaged (no dataset record of release and checksums).")
        return environment

    # ------------------------------------------------------------ predictions

    def write_predictions(self, probabilities: np.ndarray, labels: np.ndarray, classes) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["index", "label", "predicted", *classes])
        for i, (label, row) in enumerate(zip(labels, probabilities)):
            writer.writerow([i, int(label), int(row.argmax()), *(f"{p:.6g}" for p in row)])
        atomic_write_text(self.predictions, buffer.getvalue())

    def read_predictions(self) -> tuple[np.ndarray, np.ndarray]:
        """Labels and the (N, K) probability matrix of predictions.csv; a damaged file is a UserError naming it."""
        try:
            with open(self.predictions, newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.reader(fh))
            header, body = rows[0], rows[1:]
            if header[:3] != ["index", "label", "predicted"] or len(header) < 5 or not body:
                raise ValueError("not a predictions table with rows")
            if any(len(row) != len(header) for row in body):
                raise ValueError("a row of the wrong length (truncated?)")
            table = np.array(body, dtype=np.float64)
        except FileNotFoundError:
            raise UserError(f"{self.predictions}: missing; the run has no saved test predictions.") from None
        except (ValueError, IndexError, UnicodeDecodeError, IsADirectoryError, csv.Error) as exc:
            raise UserError(f"{self.predictions}: a run file is damaged ({exc or 'empty'}).") from None
        probabilities = table[:, 3:]
        if not np.isfinite(probabilities).all() or (probabilities < 0).any() or (probabilities > 1).any():
            raise UserError(f"{self.predictions}: a run file is damaged (probabilities outside [0, 1]).")
        labels = table[:, 1]
        if (labels != np.round(labels)).any() or labels.min() < 0 or labels.max() >= probabilities.shape[1]:
            raise UserError(f"{self.predictions}: a run file is damaged (labels are not class numbers).")
        return labels.astype(np.int64), probabilities

    # ------------------------------------------------------------ weights and checkpoints

    def save_state(self, path: Path, state) -> None:
        import torch

        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(path, buffer.getvalue())

    def load_state(self, path: Path):
        """Load with weights_only=True: opening a model file never runs code from it."""
        import torch

        what = entry_kind(path)
        if what is None:
            raise UserError(f"{path}: file not found.")
        if what != "a file":
            raise UserError(f"{path}: {what}, not a weights file.")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except PermissionError:
            raise UserError(f"{path}: cannot read the file (Permission denied); check its permissions.") from None
        except Exception as exc:  # a truncated or foreign file; torch's message would suggest weights_only=False
            raise UserError(f"{path}: damaged or not a fashionlab weights file ({type(exc).__name__}).") from None

    # ------------------------------------------------------------ figures

    def write_figures(self, scored: Scored) -> list[str]:
        """Draw every figure of RUN_FIGURES that applies to this run; returns the file names written."""
        from . import figures

        m, title = scored.metrics, scored.title
        classes = m["classes"]
        draw = {
            "learning_curves.png": scored.history and (lambda p: figures.learning_curves(scored.history, p, title=title)),
            "confusion_matrix.png": lambda p: figures.confusion_matrix_figure(
                m["confusion_matrix"], classes, p, title=f"{title}: test accuracy {m['test_accuracy']:.4f}"),
            "confusion_matrix_normalized.png": lambda p: figures.confusion_matrix_figure(
                m["confusion_matrix"], classes, p, title=f"{title}: share of each true class", normalize=True),
            "per_class_accuracy.png": lambda p: figures.per_class_accuracy_bars(
                {title: [m["per_class"][c]["accuracy"] for c in classes]}, classes, p, title="per-class test accuracy"),
            "misclassified.png": lambda p: figures.misclassified_grid(
                scored.images, scored.labels, scored.probabilities, classes, p),
            "model.png": scored.layers is not None and (  # networks only; other kinds have no layer stack
                lambda p: figures.model_diagram(scored.layers, p, title=title.split(" (")[0])),
        }
        written = []
        for name, _caption in RUN_FIGURES:
            if draw[name]:
                draw[name](self.path / name)
                written.append(name)
        return written

    def read_figures(self, names=None) -> list[tuple[str, str, bytes]]:
        """(file name, caption, PNG bytes) of the run's figures that exist, in RUN_FIGURES order."""
        return [(name, caption, (self.path / name).read_bytes()) for name, caption in RUN_FIGURES
                if (names is None or name in names) and (self.path / name).is_file()]


def _number(value, kind=float):
    """`value` if it is a number of `kind` (an int counts as a float, a bool as neither), else None."""
    ok = isinstance(value, (int, float) if kind is float else int) and not isinstance(value, bool)
    try:
        return value if ok and (kind is int or math.isfinite(value)) else None
    except OverflowError:  # an int of hundreds of digits is no float
        return None


def _text(value, default: str = "") -> str:
    return value if isinstance(value, str) else default


PER_CLASS_FIELDS = ("precision", "recall", "f1", "accuracy")  # what reports print of each class (evaluation.py)


def _metrics_problem(metrics: dict) -> str | None:
    """What is wrong with a metrics.json's content, or None."""
    def is_number(value) -> bool:
        return _number(value) is not None

    accuracy = metrics.get("test_accuracy")
    if not (is_number(accuracy) and 0 <= accuracy <= 1):
        return "test_accuracy is missing or not a number in [0, 1]"
    # Every figure a report or an ensemble formats or sums (None where a kind of run has none).
    for key in ("test_loss", "train_seconds", "train_count", "parameters", "final_val_accuracy", "best_val_accuracy",
                "final_val_loss", "best_val_loss"):
        if metrics.get(key) is not None and not is_number(metrics[key]):
            return f"{key} is not a number"
    classes, per_class, matrix = metrics.get("classes"), metrics.get("per_class"), metrics.get("confusion_matrix")
    if classes is not None and not (isinstance(classes, list) and classes and all(isinstance(c, str) for c in classes)):
        return "classes is not a list of names"
    if matrix is not None:
        size = len(classes) if classes else len(matrix) if isinstance(matrix, list) else 0
        if not (isinstance(matrix, list) and len(matrix) == size > 0 and all(
                isinstance(r, list) and len(r) == size and all(is_number(v) and 0 <= v < 2**53 for v in r) for r in matrix)):
            return "confusion_matrix is not a square table of counts, one row per class"
    if per_class is not None:
        if not (isinstance(per_class, dict) and all(isinstance(v, dict) and all(is_number(v.get(k)) for k in PER_CLASS_FIELDS)
                                                    for v in per_class.values())):
            return f"per_class is not a table of {', '.join(PER_CLASS_FIELDS)} per class"
        if classes is not None and set(per_class) != set(classes):
            return "per_class does not name the same classes as classes"
    if metrics.get("kind", "network") not in KINDS:
        return f"unknown kind {metrics.get('kind')!r}"
    return None


def write_scored_run(run: RunDir, kind: str, config: dict, environment: dict, metrics: dict, probabilities,
                     dataset, title: str) -> None:
    """A run directory for test predictions made without training a network here (baselines, ensembles).

    metrics.json comes last: until it is there, the directory holds no finished run. A directory
    holding a run of another kind is refused; one of the same kind (a baseline fitted again) is replaced.
    """
    if run.kind not in (None, kind):
        raise UserError(f"{run.path} holds a {run.kind} run; write this {kind} to another folder.")
    with run.writing():
        _write_scored_files(run, kind, config, environment, metrics, probabilities, dataset, title)


def _write_scored_files(run: RunDir, kind: str, config: dict, environment: dict, metrics: dict, probabilities,
                        dataset, title: str) -> None:
    run.write_config(config)
    run.write_history([])
    labels = np.asarray(dataset.test_labels)
    run.write_predictions(probabilities, labels, dataset.classes)
    run.write_figures(Scored(title, [], metrics, dataset.test_images, labels, probabilities))
    environment["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    run.write_json(run.environment, environment)
    run.write_metrics(metrics, kind)


@dataclass
class RunRecord:
    """A finished run as read back: its config, environment, metrics and history."""

    path: Path
    config: dict
    environment: dict
    metrics: dict
    history: list[dict]

    @property
    def name(self) -> str:
        return self.config.get("name", self.path.name)

    @property
    def release(self) -> str:
        return self.environment.get("dataset", {}).get("release", "unknown")

    @property
    def kind(self) -> str:
        return self.metrics.get("kind", "network")

    @property
    def family(self) -> str | None:
        """A network's (or sweep trial's) model family as the model registry records it ('ann', 'cnn'); None for other kinds."""
        from .models.registry import MODELS

        entry = MODELS.get(self.config.get("model", "")) if self.kind in ("network", "trial") else None
        return entry.family if entry else None

    @property
    def run(self) -> RunDir:
        return RunDir(self.path)


def load_run(path: str | Path) -> RunRecord:
    run = RunDir(path)
    run.require("config.toml", "environment.json", "metrics.json", "history.csv")
    try:
        return RunRecord(run.path, run.read_config_values(), run.read_environment(),
                         run.read_metrics(), run.read_history())
    except (ValueError, KeyError, json.JSONDecodeError) as exc:
        raise UserError(f"{run.path}: a run file is damaged ({exc}).") from None


def environment_record(seed: int, dataset, device=None, threads: int | None = None) -> dict:
    """Versions, machine, device and dataset of a run. `device` None means the CPU, as scikit-learn uses."""
    import numpy
    import sklearn
    import torch

    from .version import __version__

    on_cuda = device is not None and device.type == "cuda"
    return {
        "fashionlab": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit_learn": sklearn.__version__,
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "device": str(device) if device is not None else "cpu",
        "device_name": torch.cuda.get_device_name(device) if on_cuda else _cpu_name(),
        "threads": threads if threads is not None else os.cpu_count(),
        "seed": seed,
        "dataset": {
            "release": dataset.release,
            "checksums": dataset.checksums,
            "data_dir": str(dataset.data_dir),
        },
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---------------------------------------------------------------- seed groups (`train --seeds`)

SEED_SUMMARY = "seeds.json"  # in the folder above the seed-N run directories


def seed_run_dir(group: str | os.PathLike, seed: int) -> Path:
    return Path(group) / f"seed-{seed}"


def refuse_seed_summary_in_the_way(group: str | os.PathLike) -> None:
    """UserError when a folder (or other non-file) sits where seeds.json belongs, checked before any seed trains."""
    refuse_non_file(Path(group) / SEED_SUMMARY, f"the group's {SEED_SUMMARY}")


def write_seed_summary(group: str | os.PathLike, summary: dict) -> Path:
    """seeds.json: the group's experiment, seeds, run folders and each metric's mean, sd and n."""
    path = Path(group) / SEED_SUMMARY
    atomic_write_json(path, summary)
    return path


def read_seed_summary(group: str | os.PathLike) -> dict:
    path = Path(group) / SEED_SUMMARY
    if not path.is_file():
        raise UserError(f"{group}: no {SEED_SUMMARY} here; it is written by `fashionlab train EXPERIMENT --seeds ...`.")
    return RunDir(group).read_json(path)


# ---------------------------------------------------------------- listing runs (`fashionlab runs`)

# Every known release has 60,000 training images: the training-set size of a run recorded before
# metrics.json held `train_count` follows from its config (train_limit, validation_split).
_KNOWN_TRAIN_IMAGES = 60_000


@dataclass
class RunOverview:
    """One line of `fashionlab runs`: read from config.toml, environment.json and metrics.json only."""

    path: Path
    name: str  # the folder, relative to the listed root: unique, unlike experiment names
    experiment: str
    label: str
    kind: str
    model: str
    release: str
    precision: str
    epochs: int | None
    train_count: int | None
    test_accuracy: float | None  # None: not finished
    train_seconds: float | None
    started: str  # ISO date and time (UTC), "" when unknown

    @property
    def status(self) -> str:
        return "finished" if self.test_accuracy is not None else "unfinished"


def _looks_like_run(names: set[str]) -> bool:
    return "config.toml" in names and ("metrics.json" in names or "checkpoint.pt" in names)


def find_runs(root: str | os.PathLike) -> list[Path]:
    """Run directories at or under `root` (hidden folders skipped; runs do not hold runs)."""
    root = Path(root)
    if not root.is_dir():
        what = "a file, not a folder" if root.exists() else "no such folder"
        raise UserError(f"{root}: {what}. Give the folder your runs are in (default: runs).")
    return list(_iter_runs(root))


def _iter_runs(root: Path, max_depth: int | None = None):
    """Run directories at or under `root`, in sorted walk order, at most `max_depth` folders down."""
    for folder, subfolders, files in os.walk(root):
        if _looks_like_run(set(files)):
            yield Path(folder)
            subfolders.clear()
        elif max_depth is not None and len(Path(folder).relative_to(root).parts) >= max_depth:
            subfolders.clear()
        else:
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))


def run_overview(path: Path, root: Path) -> RunOverview:
    """What `fashionlab runs` shows of one run; a damaged or unreadable file, or a value of the wrong
    type in one, leaves its fields unknown rather than stopping the list."""
    run = RunDir(path)

    def read(reader, file):
        try:
            values = reader(file) if file.is_file() else {}
        except (UserError, OSError):
            return {}
        return values if isinstance(values, dict) else {}

    config = read(_overview_config_values, run.config)
    env = read(run.read_json, run.environment)
    metrics = read(run.read_json, run.metrics)
    dataset = env.get("dataset") if isinstance(env.get("dataset"), dict) else {}
    test_accuracy = _number(metrics.get("test_accuracy"))
    kind = _text(metrics.get("kind"), "network")
    release = _text(dataset.get("release")) or _text(metrics.get("release")) or _text(config.get("release"), "?")
    epochs = _number(metrics.get("epochs_run"), int)
    if epochs is None and kind == "network" and run.history.is_file():
        try:
            epochs = max(0, len(run.history.read_text(encoding="utf-8", errors="replace").splitlines()) - 1)
        except OSError:
            epochs = None
    train_count = _number(metrics.get("train_count"), int)
    if train_count is None and kind == "network" and release in _known_releases():
        # Keras's split of the first train_limit (or all) images; see data.validation_split.
        limit, split = _number(config.get("train_limit", 0), int), _number(config.get("validation_split", 0.2))
        if limit is not None and split is not None:
            train_count = int(min(limit or _KNOWN_TRAIN_IMAGES, _KNOWN_TRAIN_IMAGES) * (1.0 - split))
    try:
        relative = str(path.relative_to(root)) if path != root else path.name
    except ValueError:
        relative = str(path)
    return RunOverview(
        path=path, name=relative, experiment=str(config.get("name", metrics.get("experiment", path.name))),
        label=str(config.get("label", "")), kind=kind, model=str(metrics.get("model") or config.get("model", "-")),
        release=release, precision=_text(env.get("precision"), "fp32" if kind == "network" else "-"),
        epochs=epochs, train_count=train_count, test_accuracy=test_accuracy,
        train_seconds=_number(metrics.get("train_seconds")), started=_text(env.get("started")),
    )


_OVERVIEW_KEYS = ("name", "label", "model", "release", "train_limit", "validation_split")


def _overview_config_values(path: Path) -> dict:
    """The keys of config.toml that a listing needs. Parsing only their lines is 4x faster than the
    whole file (tomllib is pure Python): config.toml is flat, one `key = value` per line, as
    tomli_w writes it. A file in another form is parsed whole."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    lines = [line for line in text.splitlines() if line.split("=", 1)[0].strip() in _OVERVIEW_KEYS]
    try:
        return tomllib.loads("\n".join(lines))
    except (tomllib.TOMLDecodeError, RecursionError):
        return RunDir(path.parent).read_config_values()


def _known_releases() -> set[str]:
    from .data.releases import RELEASES

    return set(RELEASES)
