"""The machine's state, measured beside every benchmark: a time means little without it.

This project's development machine drifts by up to 2x in speed from hour to hour, so each
benchmark prints the GEMM rate it measured in the same invocation, right before its timed work.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path


def gemm_gflops(precision: str = "fp32", n: int = 1024, seconds: float = 1.0) -> float:
    """Median GFLOP/s of n x n matrix products in PyTorch on the CPU over about `seconds`."""
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a, b = torch.rand(n, n, dtype=dtype), torch.rand(n, n, dtype=dtype)
    a @ b  # warm-up
    rates, deadline = [], time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(rates) < 3:
        t0 = time.perf_counter()
        a @ b
        rates.append(2 * n**3 / (time.perf_counter() - t0) / 1e9)
    rates.sort()
    return rates[len(rates) // 2]


def machine_record() -> dict:
    processor = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            processor = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), processor)
    except OSError:
        pass
    return {"platform": platform.platform(), "processor": processor, "cpus": os.cpu_count()}


def write_record(path: str | os.PathLike, record: dict) -> None:
    """Write a benchmark's figures as JSON beside its printed table."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")
