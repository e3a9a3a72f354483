"""Compiled ann-1, then compiled cnn-2, in one process, on synthetic data; run by run.sh.

With --no-reset, training's `torch._dynamo.reset()` is made a no-op: the code before session 16.
TORCH_LOGS=recompiles,dynamic (set by run.sh) shows on which frame each model compiled, and whether
its batch size was symbolic from its first step.
"""
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from conftest import write_dataset  # noqa: E402

from fashionlab.experiment import load_config  # noqa: E402
from fashionlab.training import train  # noqa: E402

if "--no-reset" in sys.argv:
    torch._dynamo.reset = lambda: None
with tempfile.TemporaryDirectory() as tmp:
    data = write_dataset(Path(tmp) / "data")
    for name in ("ann-1", "cnn-2"):
        config = load_config(name, {"epochs": 3, "batch_size": 32, "device": "cpu", "compile": "on",
                                    "precision": "bf16"})
        started = time.perf_counter()
        result = train(config, Path(tmp) / name, data_dir=data, progress=False, log=lambda s: None)
        print(f"{name}: {time.perf_counter() - started:.1f} s, test accuracy {result.metrics['test_accuracy']}, "
              f"final val_loss {result.history[-1]['val_loss']!r}", flush=True)
