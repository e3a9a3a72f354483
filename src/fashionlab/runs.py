"""The run directory: what a training run writes where, always atomically.

    config.toml        the resolved experiment config
    environment.json   versions, device, threads, dataset release and checksums, seed, times
    history.csv        one row per epoch: epoch, train_loss, train_accuracy, val_loss, val_accuracy, lr, seconds
    metrics.json       test_accuracy, test_loss, per_class, confusion_matrix, ...
    predictions.csv    index, label, predicted, one probability column per class
    weights.pt         the weights scored on the test set (a plain state dict)
    best.pt            the weights with the best validation loss
    checkpoint.pt      everything needed to resume (model, optimizer, RNG states, history)
    summary.txt        the model summary
    learning_curves.png, confusion_matrix.png
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

from .errors import UserError
from .fileio import atomic_write_bytes, atomic_write_json, atomic_write_text

HISTORY_COLUMNS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds")


class RunDir:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    config = property(lambda self: self.path / "config.toml")
    environment = property(lambda self: self.path / "environment.json")
    history = property(lambda self: self.path / "history.csv")
    metrics = property(lambda self: self.path / "metrics.json")
    predictions = property(lambda self: self.path / "predictions.csv")
    weights = property(lambda self: self.path / "weights.pt")
    best_weights = property(lambda self: self.path / "best.pt")
    checkpoint = property(lambda self: self.path / "checkpoint.pt")
    summary = property(lambda self: self.path / "summary.txt")

    @property
    def is_complete(self) -> bool:
        return self.metrics.is_file() and self.weights.is_file()

    def require(self, *names: str) -> None:
        """Error (exit 2) unless this looks like a run directory holding `names`."""
        if not self.path.is_dir():
            raise UserError(f"{self.path}: no such run directory.")
        missing = [n for n in names if not (self.path / n).is_file()]
        if missing:
            raise UserError(
                f"{self.path}: not a complete run directory (missing {', '.join(missing)}). "
                "Finish it with `fashionlab train ... --out DIR --resume`."
            )

    def require_network(self) -> None:
        """Error unless this is a trained network's run (a baseline has no saved model to load)."""
        if self.config.is_file() and 'kind = "baseline"' in self.config.read_text():
            raise UserError(f"{self.path} is a classical baseline: its metrics were computed when it was fitted, "
                            "and its model is not saved. Run `fashionlab baselines` again to refit it.")
        self.require("config.toml", "weights.pt")

    def write_history(self, rows: list[dict]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row[k] for k in HISTORY_COLUMNS})
        atomic_write_text(self.history, buffer.getvalue())

    def read_history(self) -> list[dict]:
        with open(self.history, newline="") as fh:
            return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()} for row in csv.DictReader(fh)]

    def write_json(self, path: Path, obj) -> None:
        atomic_write_json(path, obj)

    def read_json(self, path: Path):
        return json.loads(path.read_text())

    def save_state(self, path: Path, state) -> None:
        import torch

        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(path, buffer.getvalue())

    def load_state(self, path: Path):
        """Load with weights_only=True: opening a model file never runs code from it."""
        import torch

        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise UserError(f"{path}: file not found.") from None
        except Exception as exc:  # a truncated or foreign file
            raise UserError(f"{path}: cannot load ({type(exc).__name__}: {exc}). The file is damaged.") from None


def environment_record(seed: int, dataset, device=None, threads: int | None = None) -> dict:
    """Versions, machine, device and dataset of a run. `device` None means the CPU, as scikit-learn uses."""
    import numpy
    import sklearn
    import torch

    from . import __version__

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
