"""TensorBoard logging of a training run, as Keras's TensorBoard callback does it: per-epoch scalars
(loss, accuracy, learning rate, epoch time), the model graph, and the test results at the end.

Written through `torch.utils.tensorboard` into `<config.tensorboard>/<run folder name>`, so one
`tensorboard --logdir DIR` shows every run logged there side by side. Needs the `tensorboard`
extra; a run that asks for it without the extra is refused before any work.
"""

from __future__ import annotations

import sys
import types
import warnings
from pathlib import Path

from .errors import UserError


def _summary_writer():
    """torch.utils.tensorboard's SummaryWriter, kept from importing TensorFlow.

    TensorBoard imports TensorFlow when it is installed (the `peer` extra installs it), which
    costs seconds, floods stderr, and TensorFlow beside PyTorch in one process has segfaulted on
    this project's machine. `tensorboard.compat.notf` is TensorBoard's own switch to its
    TensorFlow-free stub: its presence alone selects the stub.
    """
    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise UserError("--tensorboard (config key tensorboard) needs the tensorboard extra: "
                        "pip install 'fashionlab[tensorboard]'.") from None
    return SummaryWriter


class TensorBoardLog:
    """One run's event files: call `graph` once, `epoch` after every epoch, `finish` at the end."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.writer = _summary_writer()(log_dir=str(folder), flush_secs=30)

    def graph(self, model, example) -> None:
        """The model graph, traced in eval mode on one image (no running statistics change, no RNG drawn).

        Tracing can fail for a model TorchScript cannot follow; the graph is then left out, with a warning.
        """
        was_training = model.training
        model.eval()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer chatter about Python values in the graph
                self.writer.add_graph(model, example.contiguous())
        except Exception as exc:  # noqa: BLE001  (a missing graph must never stop training)
            warnings.warn(f"TensorBoard: the model graph was left out ({type(exc).__name__}: {exc}).", stacklevel=2)
        finally:
            model.train(was_training)

    def epoch(self, row: dict) -> None:
        step = row["epoch"]
        for tag, key in (("loss/train", "train_loss"), ("loss/validation", "val_loss"),
                         ("accuracy/train", "train_accuracy"), ("accuracy/validation", "val_accuracy"),
                         ("learning_rate", "lr"), ("epoch_seconds", "seconds")):
            if row[key] is not None:  # validation figures: None for an epoch left unvalidated
                self.writer.add_scalar(tag, row[key], step)
        self.writer.flush()

    def finish(self, metrics: dict, run_path: Path) -> None:
        """Test accuracy and loss at the last epoch, the confusion matrix figure, then close."""
        import numpy as np
        from PIL import Image

        step = metrics.get("epochs_run", 0)
        self.writer.add_scalar("test/accuracy", metrics["test_accuracy"], step)
        self.writer.add_scalar("test/loss", metrics["test_loss"], step)
        figure = run_path / "confusion_matrix.png"
        if figure.is_file():
            with Image.open(figure) as image:
                self.writer.add_image("test/confusion_matrix", np.asarray(image.convert("RGB")), step, dataformats="HWC")
        self.writer.close()


def open_board(config, run_path: Path) -> TensorBoardLog | None:
    """The run's TensorBoard log when `config.tensorboard` names a folder, else None."""
    if not config.tensorboard:
        return None
    return TensorBoardLog(Path(config.tensorboard) / Path(run_path).resolve().name)
