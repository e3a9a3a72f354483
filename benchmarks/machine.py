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


def reference_workload_seconds(steps: int = 1500, threads: int | None = None) -> float:
    """Seconds for a fixed plain-PyTorch training loop of CNN-2's shape at batch 32, fp32, on the CPU.

    A yardstick that does not change when fashionlab's engine does: written out here with torch.nn
    only (no fashionlab import), random data, SGD, no augmentation. A benchmark's time divided by
    this one, measured in the same invocation, survives the machine's drift from hour to hour.
    1,500 steps is one epoch of CNN-2's protocol (48,000 images at batch 32).
    """
    import torch
    from torch import nn

    if threads:
        torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)

    def block(c_in, c_out, second_bn):
        layers = [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.BatchNorm2d(c_out),
                  nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU()]
        return layers + ([nn.BatchNorm2d(c_out)] if second_bn else []) + [nn.MaxPool2d(2), nn.Dropout(0.2)]

    model = nn.Sequential(*block(1, 32, True), *block(32, 64, False), nn.Flatten(), nn.Linear(64 * 7 * 7, 256),
                          nn.ReLU(), nn.BatchNorm1d(256), nn.Dropout(0.2), nn.Linear(256, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.rand(1600, 1, 28, 28, generator=generator)  # 50 batches, cycled
    y = torch.randint(0, 10, (x.shape[0],), generator=generator)
    batches = x.shape[0] // 32

    def step(i):
        j = (i % batches) * 32
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x[j:j + 32]), y[j:j + 32]).backward()
        optimizer.step()

    for i in range(10):  # warm-up: allocator and oneDNN primitive caches
        step(i)
    started = time.perf_counter()
    for i in range(steps):
        step(i)
    return time.perf_counter() - started


def measure_machine_state(reference_steps: int = 1500) -> dict:
    """GEMM rates and the reference workload, measured now and printed: put right before the timed work."""
    state = {"gemm_gflops_fp32": gemm_gflops("fp32"), "gemm_gflops_bf16": gemm_gflops("bf16")}
    line = f"machine: GEMM {state['gemm_gflops_fp32']:,.0f} GFLOP/s fp32, {state['gemm_gflops_bf16']:,.0f} bf16"
    if reference_steps:
        state["reference_steps"] = reference_steps
        state["reference_seconds"] = reference_workload_seconds(reference_steps)
        line += (f"; reference workload (plain PyTorch, CNN-2's shape, batch 32, fp32): "
                 f"{reference_steps:,} steps in {state['reference_seconds']:.1f} s")
    print(line, flush=True)
    return state


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
