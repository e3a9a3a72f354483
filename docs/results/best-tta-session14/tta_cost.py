"""Session 14: what multi-crop TTA (tta_shift 1) adds to `best`'s scoring time, 2 threads.

Times predict_logits over 10,000 images (the test set's size; their predictions are not looked at) with
flip TTA and tta_shift 0, then 1, alternating for 3 rounds, beside the machine's GEMM rate.
    python docs/results/best-tta-session14/tta_cost.py RUN_DIR     # from the repository root
(As run in session 14 the benchmarks folder was given as /work/fl-s14/benchmarks.)
"""
import sys
import time

import numpy as np
import torch

sys.path.insert(0, "benchmarks")
from machine import gemm_gflops  # noqa: E402

from fashionlab.evaluation import load_run_model, predict_logits  # noqa: E402

torch.set_num_threads(2)
loaded = load_run_model(sys.argv[1], "cpu")
config = loaded.config
x = torch.rand(10_000, 1, 28, 28)
print(f"GEMM now: {gemm_gflops('fp32'):.0f} GFLOP/s fp32, {gemm_gflops('bf16'):.0f} bf16; "
      f"{config.model}, precision {loaded.precision}, eval batch {config.eval_batch_size}, 2 threads")
times = {0: [], 1: []}
predict_logits(loaded.model, x[:2000], config.eval_batch_size, loaded.channels_last, loaded.precision, True, 0)  # warm-up
for _ in range(3):
    for shift in (0, 1):
        start = time.perf_counter()
        predict_logits(loaded.model, x, config.eval_batch_size, loaded.channels_last, loaded.precision, True, shift)
        times[shift].append(time.perf_counter() - start)
for shift, t in times.items():
    print(f"tta_shift {shift}: {np.median(t):.2f} s per 10,000 images (rounds {', '.join(f'{v:.2f}' for v in t)})")
