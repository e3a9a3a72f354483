"""Export a trained run to ONNX (or TorchScript), checked against PyTorch before it counts.

The exported graph takes `images`, float32 of shape (N, 1, 28, 28) for any N, pixels scaled to
[0, 1] as the dataset's (value / 255, a light item on a dark background, as `fashionlab predict`
prepares photos), and returns `probabilities`, float32 (N, 10), the softmax of the model's
logits. A run trained with flip test-time augmentation exports the averaged model: the mean of
the logits of each image and its mirror, as fashionlab scores it.

Before the file is put in place, the exported model scores the run's whole test set in
onnxruntime (or TorchScript) and must give the same class as PyTorch for every image; the
largest probability difference is reported. A file that fails the check is never written.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .version import __version__
from .errors import UserError

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}
INPUT_SCALING = "float32 (N, 1, 28, 28), pixel value / 255, light item on dark background"


class ExportCheckFailed(Exception):
    """The exported model disagrees with PyTorch (exit code 1: a bug, not a user error)."""


class ProbabilityModel(nn.Module):
    """The run's model as it scores: softmax of the logits, averaged over its test-time views (evaluation.tta_logits)."""

    def __init__(self, model: nn.Module, tta_flip: bool, tta_shift: int = 0):
        super().__init__()
        self.model, self.tta_flip, self.tta_shift = model, tta_flip, tta_shift

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        from .evaluation import tta_logits

        return tta_logits(self.model, images, self.tta_flip, self.tta_shift).softmax(-1)


@dataclass
class ExportResult:
    path: Path
    format: str
    images_checked: int
    argmax_agree: int
    max_probability_diff: float
    test_accuracy: float  # of the exported file on the test set


def _metadata(run_dir: Path, config, metrics: dict, release: str, classes) -> dict[str, str]:
    return {
        "fashionlab_version": __version__,
        "experiment": config.name,
        "model": config.model,
        "release": release,
        "class_names": json.dumps(list(classes)),
        "test_accuracy": f"{metrics.get('test_accuracy', float('nan')):.6f}",
        "input_scaling": INPUT_SCALING,
        "tta_flip": str(bool(config.tta_flip)).lower(),
        "tta_shift": str(config.tta_shift),
        "source_run": str(run_dir),
    }


def _torch_probabilities(module: nn.Module, x: torch.Tensor, batch: int = 1000) -> np.ndarray:
    with torch.inference_mode():
        return torch.cat([module(x[i : i + batch]) for i in range(0, len(x), batch)]).numpy()


def _write_onnx(module: nn.Module, path: Path, metadata: dict[str, str]) -> None:
    import contextlib
    import io
    import logging

    import onnx

    example = torch.zeros(2, 1, 28, 28)
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # e.g. "torchvision is not installed": not ours to fix
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter narrates its steps
        program = torch.onnx.export(module, (example,), input_names=["images"], output_names=["probabilities"],
                                    dynamic_shapes={"images": {0: torch.export.Dim("batch")}}, dynamo=True,
                                    verbose=False)
    proto = program.model_proto
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def _onnx_probabilities(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(["probabilities"], {"images": x[i : i + 1000]})[0] for i in range(0, len(x), 1000)])


def _write_torchscript(module: nn.Module, path: Path, metadata: dict[str, str]) -> None:
    with warnings.catch_warnings():  # PyTorch deprecates TorchScript in favour of torch.export; the README says so
        warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated")
        traced = torch.jit.trace(module, torch.zeros(2, 1, 28, 28))
        torch.jit.save(traced, str(path), _extra_files={"metadata.json": json.dumps(metadata)})


def _torchscript_probabilities(path: Path, x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.* is deprecated")
        module = torch.jit.load(str(path), map_location="cpu")
    return _torch_probabilities(module, torch.from_numpy(x))


def read_onnx_metadata(path: str | Path) -> dict[str, str]:
    import onnx

    return {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}


def export_run(run_dir, fmt: str = "onnx", out=None, data_dir=None) -> ExportResult:
    """Export `run_dir`'s model to `out` (default: RUN_DIR/model.onnx or model.pt), checked on the test set."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError:
            raise UserError("ONNX export needs onnx and onnxruntime: pip install 'fashionlab[export]'.") from None
    from .data import load_dataset
    from .evaluation import load_run_model, to_input
    from .fileio import atomic_write_bytes, check_output_file
    from .runs import RunDir

    run_dir = Path(run_dir)
    loaded = load_run_model(run_dir, device="cpu")
    # Checked as given (a trailing slash names a folder), before the test set is scored twice.
    out = check_output_file(out or run_dir / f"model{SUFFIX[fmt]}", "--out", f"model{SUFFIX[fmt]}")
    named = next((other for other, suffix in SUFFIX.items() if other != fmt and out.suffix.lower() == suffix), None)
    if named:  # a TorchScript file named .onnx fails later, in whatever tries to open it as ONNX
        raise UserError(f"--out {out}: the name says {named}, but --format {fmt} writes {fmt}; name it "
                        f"*{SUFFIX[fmt]} or give --format {named}.")
    run = RunDir(run_dir)
    metrics = run.read_metrics() if run.metrics.is_file() else {}
    dataset = load_dataset(loaded.config.release, data_dir)

    # Export the fp32, contiguous-format model: the graph must not depend on this machine's settings.
    module = ProbabilityModel(loaded.model.float().to(memory_format=torch.contiguous_format), loaded.config.tta_flip,
                              loaded.config.tta_shift).eval()
    metadata = _metadata(run_dir, loaded.config, metrics, dataset.release, dataset.classes)
    x = to_input(dataset.test_images, torch.device("cpu"))
    reference = _torch_probabilities(module, x)
    with tempfile.TemporaryDirectory(prefix="fashionlab-export-") as tmp:
        candidate = Path(tmp) / f"model{SUFFIX[fmt]}"
        if fmt == "onnx":
            _write_onnx(module, candidate, metadata)
            exported = _onnx_probabilities(candidate, x.numpy())
        else:
            _write_torchscript(module, candidate, metadata)
            exported = _torchscript_probabilities(candidate, x.numpy())
        agree = int((exported.argmax(1) == reference.argmax(1)).sum())
        diff = float(np.abs(exported - reference).max())
        if agree != len(reference):
            raise ExportCheckFailed(
                f"the exported {fmt} model gives another class than PyTorch for {len(reference) - agree} of "
                f"{len(reference)} test images (largest probability difference {diff:.2e}); nothing was written."
            )
        atomic_write_bytes(out, candidate.read_bytes())
    accuracy = float((exported.argmax(1) == np.asarray(dataset.test_labels)).mean())
    return ExportResult(out, fmt, len(reference), agree, diff, accuracy)
