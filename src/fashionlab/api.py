"""The Python API for notebooks and scripts: `train`, `load_run`, `evaluate` (and `load_dataset`).

The same work as the CLI, returning objects instead of printing. Importing this module is cheap:
PyTorch and the models load on the first call that needs them, so `import fashionlab` stays fast.

    run = fashionlab.train("fast", "runs/nb-fast", epochs=1, train_limit=5000)
    run.metrics["test_accuracy"], run.history[-1]["val_accuracy"]
    run.predict(images)  # uint8 (N, 28, 28) arrays, or image files
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class Run:
    """A finished run: its config, environment, metrics and history (one dict per epoch, ready for
    `pandas.DataFrame(run.history)`), and its model for predictions (loaded on first use)."""

    def __init__(self, path: str | os.PathLike, device: str = "auto"):
        from .runs import load_run as read_run

        self._record = read_run(path)
        self._device = device
        self._classifier = None

    path = property(lambda self: self._record.path)
    config = property(lambda self: self._record.config, doc="config.toml as a dict")
    environment = property(lambda self: self._record.environment, doc="environment.json as a dict")
    metrics = property(lambda self: self._record.metrics, doc="metrics.json as a dict")
    history = property(lambda self: self._record.history, doc="history.csv: one dict per epoch")
    kind = property(lambda self: self._record.kind)

    @property
    def classes(self) -> list[str]:
        return list(self.metrics["classes"])

    def __repr__(self) -> str:
        m = self.metrics
        return (f"<fashionlab.Run {str(self.path)!r}: {self._record.name} ({self.config.get('model', self.kind)}), "
                f"test accuracy {m['test_accuracy']:.4f}, {len(self.history)} epochs, release {self._record.release}>")

    def probabilities(self, images) -> np.ndarray:
        """Class probabilities (N, classes) for uint8 images (N, 28, 28) in the dataset's form
        (a light item on a dark background), or for image files, prepared as `fashionlab predict` does."""
        from .errors import UserError
        from .predict import Classifier, prepare_image

        if isinstance(images, (str, os.PathLike)):
            images = [images]
        if isinstance(images, (list, tuple)) and images and isinstance(images[0], (str, os.PathLike)):
            images = np.stack([prepare_image(p).image for p in images])
        images = np.asarray(images)
        if images.ndim == 2:
            images = images[None]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise UserError(f"images: give uint8 arrays of shape (N, 28, 28) or image files; got {images.dtype} "
                            f"{images.shape}.")
        if self._classifier is None:
            self._classifier = Classifier(self.path, self._device)
        return self._classifier.probabilities(images)

    def predict(self, images) -> list[str]:
        """The most likely class name of each image (see `probabilities` for what images may be)."""
        return [self.classes[i] for i in self.probabilities(images).argmax(1)]


def load_run(path: str | os.PathLike, device: str = "auto") -> Run:
    """A finished run directory (from `train`, the CLI, `reproduce` or `baselines`) as a Run."""
    return Run(path, device)


def train(experiment="fast", out: str | os.PathLike | None = None, *, seeds=None, data_dir=None,
          resume: bool = False, progress: bool = True, log=print, **overrides):
    """Train a preset (`"cnn-2"`), a TOML file or an ExperimentConfig into `out`; returns its Run.

    `overrides` are config keys (`epochs=1, train_limit=5000, precision="fp32"`). With `seeds`
    (e.g. `[0, 1, 2]`), each seed trains into OUT/seed-N and the result is the seeds summary
    (a dict: each metric's mean, sd and n; also in OUT/seeds.json). Default `out`:
    runs/NAME-TIMESTAMP, as the CLI. A compiled run (`compile="on"`, or CUDA) first calls
    `torch._dynamo.reset()`: your own compiled functions in this process compile again afterwards.
    """
    from .experiment import ExperimentConfig, config_from_dict, load_config

    if isinstance(experiment, ExperimentConfig):
        config = config_from_dict({**experiment.to_dict(), **overrides}, "train(...) overrides")
    else:
        config = load_config(str(experiment), overrides)
    out = Path(out) if out is not None else default_run_dir(config)
    if seeds is not None:
        from .seeds import train_seeds

        return train_seeds(config, seeds, out, data_dir=data_dir, progress=progress, log=log).summary
    from .training import train as fit

    result = fit(config, out, data_dir=data_dir, resume=resume, progress=progress, log=log)
    return Run(result.run_dir)


def evaluate(run, data_dir=None, device: str = "auto", split: str = "test", tta_flip: bool | None = None,
             tta_shift: int | None = None) -> dict:
    """Recompute a run's metrics from its saved weights (a Run or a run directory).

    `split="validation"` scores the images the run held out (keys `validation_*`), `tta_flip` and
    `tta_shift` override its test-time augmentation: `fashionlab evaluate --split --tta --tta-shift`.
    The dict is metrics.json's form, plus "agrees_with_saved": whether it matches what the run
    recorded (metrics.json, or history.csv for the validation split; the check `fashionlab evaluate`
    makes), None when there is nothing to compare with or an override makes the numbers differ.
    """
    from .evaluation import evaluate_run

    metrics, disagreements = evaluate_run(run.path if isinstance(run, Run) else run, data_dir, device,
                                          tta_flip=tta_flip, tta_shift=tta_shift, split=split)
    metrics["agrees_with_saved"] = None if disagreements is None else not disagreements
    return metrics


def default_run_dir(config) -> Path:
    """runs/NAME-TIMESTAMP: where a run goes when no folder is given."""
    from datetime import datetime

    return Path(f"runs/{config.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}")
