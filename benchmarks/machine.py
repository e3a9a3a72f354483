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


def reference_workload_seconds(steps: int = 1500, threads: int | None = None, precision: str = "fp32") -> float:
    """Seconds for a fixed plain-PyTorch training loop of CNN-2's shape at batch 32 on the CPU.

    A yardstick that does not change when fashionlab's engine does: written out here with torch.nn
    only (no fashionlab import), random data, SGD, no augmentation. A benchmark's time divided by
    this one, measured in the same invocation, survives the machine's drift from hour to hour.
    1,500 steps is one epoch of CNN-2's protocol (48,000 images at batch 32).

    precision "bf16" runs the same loop under bf16 autocast, channels_last, as the presets train
    where bf16 is native. On the Intel Xeon with AMX the bf16 units drift apart from the fp32 ones
    (session 22: the fp32 workload ran faster while `max`'s bf16 epochs ran slower), so a bf16
    preset's time is read against this one.
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
    bf16 = precision == "bf16"
    if bf16:
        model, x = model.to(memory_format=torch.channels_last), x.to(memory_format=torch.channels_last)
    elif precision != "fp32":
        raise ValueError(f"precision must be fp32 or bf16, got {precision!r}")

    def step(i):
        j = (i % batches) * 32
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = nn.functional.cross_entropy(model(x[j:j + 32]), y[j:j + 32])
        loss.backward()
        optimizer.step()

    for i in range(10):  # warm-up: allocator and oneDNN primitive caches
        step(i)
    started = time.perf_counter()
    for i in range(steps):
        step(i)
    return time.perf_counter() - started


def measure_machine_state(reference_steps: int = 1500) -> dict:
    """GEMM rates and the reference workload in fp32 and bf16, measured now and printed: put right before
    the timed work. `reference_seconds` is the fp32 workload's (the figure of every result before
    session 23); `reference_seconds_bf16` the bf16 one's."""
    state = {"gemm_gflops_fp32": gemm_gflops("fp32"), "gemm_gflops_bf16": gemm_gflops("bf16")}
    line = f"machine: GEMM {state['gemm_gflops_fp32']:,.0f} GFLOP/s fp32, {state['gemm_gflops_bf16']:,.0f} bf16"
    if reference_steps:
        state["reference_steps"] = reference_steps
        state["reference_seconds"] = reference_workload_seconds(reference_steps)
        state["reference_seconds_bf16"] = reference_workload_seconds(reference_steps, precision="bf16")
        line += (f"; reference workload (plain PyTorch, CNN-2's shape, batch 32): {reference_steps:,} steps in "
                 f"{state['reference_seconds']:.1f} s fp32, {state['reference_seconds_bf16']:.1f} s bf16")
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
