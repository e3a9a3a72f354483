"""oneDNN's bf16 weight gradient of a 3x3 convolution against `models.conv3x3.weight_grad` (patches and one GEMM).

Run on purpose (not in CI). For each shape (input channels, output channels, feature-map side) at
batch 256 it times the forward, oneDNN's weight gradient and the GEMM weight gradient, after a
warm-up, the two gradients taking turns, and prints their ratio beside the machine's bf16 GEMM
rate measured in the same invocation. Conv3x3 uses the GEMM on maps of at most SMALL_MAP pixels.
The tensors have the strides they have in training (see the comment in the loop): before session 17
they did not, and oneDNN's weight gradient in the stem's rows (1 input channel) was 4.5-6x too slow.

    python benchmarks/conv_weight_grad.py --threads 2
    python benchmarks/conv_weight_grad.py --glibc-defaults   # what training's malloc settings change
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import gemm_gflops  # noqa: E402

SHAPES = [(1, 16, 28), (16, 64, 14), (64, 64, 7), (64, 192, 7), (192, 192, 3),  # fastnet3 (fast), stem first
          (1, 32, 28), (32, 64, 14), (64, 128, 7), (128, 128, 3),  # fastnet2
          (1, 64, 28), (128, 256, 7), (256, 256, 3),  # fastnet2-wide (best)
          (1, 96, 28), (192, 384, 7), (384, 384, 3)]  # fastnet2-xl (max)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--glibc-defaults", action="store_true",
                        help="leave malloc at glibc's defaults (by default it is set as training sets it)")
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F

    from fashionlab.host_memory import reuse_freed_memory
    from fashionlab.models.conv3x3 import SMALL_MAP, weight_grad

    torch.set_num_threads(args.threads)

    def timed(fn, repeats=3):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        return (time.perf_counter() - start) / repeats * 1000

    # malloc as training sets it: with glibc's defaults, blocks above 32 MiB are mapped afresh at every call
    with contextlib.nullcontext() if args.glibc_defaults else reuse_freed_memory():
        print(f"GEMM now: {gemm_gflops('bf16'):.0f} GFLOP/s bf16; {args.threads} threads, batch {args.batch_size}, "
              f"median of {args.rounds} rounds", flush=True)
        print(f"{'shape':<16}{'forward':>10}{'oneDNN dW':>12}{'GEMM dW':>10}{'ratio':>8}  used by Conv3x3")
        for c_in, c_out, side in SHAPES:
            # Strides as in training: weights and gradients channels_last as Module.to(memory_format=...)
            # makes them, the input as training.py's .contiguous(memory_format=...) leaves it (a 1-channel
            # image keeps its NCHW strides). With an NCHW-strided stem weight too, as this script made it
            # before session 17, oneDNN's stem weight gradient ran 4.5-6x slower than in training.
            def channels_last(*shape):
                return torch.empty(*shape, dtype=torch.bfloat16, memory_format=torch.channels_last).normal_()

            x = torch.randn(args.batch_size, c_in, side, side, dtype=torch.bfloat16)
            x = x.contiguous(memory_format=torch.channels_last)
            w, g = channels_last(c_out, c_in, 3, 3), channels_last(args.batch_size, c_out, side, side)

            def onednn():
                return torch.ops.aten.convolution_backward(g, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                                                           [False, True, False])[1]

            def gemm():
                return weight_grad(x, g)

            exact = onednn().float()
            error = ((gemm().float() - exact).norm() / exact.norm()).item()
            assert error < 1e-2, f"the two weight gradients differ by {error:.1e}"
            forward = timed(lambda: F.conv2d(x, w, padding=1))
            rounds = [(timed(onednn), timed(gemm)) for _ in range(args.rounds)]
            a, b = statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)
            print(f"{f'{c_in}->{c_out} @{side}x{side}':<16}{forward:8.2f}ms{a:10.2f}ms{b:8.2f}ms{a / b:7.2f}x  "
                  f"{'yes' if side * side <= SMALL_MAP else 'no'}", flush=True)


if __name__ == "__main__":
    main()
