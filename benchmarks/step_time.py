"""Training-step time of FastNet widths at batch 256, as ratios to the first width in the same invocation.

Run on purpose (not in CI). Each candidate is a comma-separated width list (stem, then one width per
block, each block with a residual pair); a leading "r" gives the stem a residual pair too. The step
is the presets' bf16 step: channels_last, autocast, cross-entropy, Nesterov SGD. The candidates
take turns for `--rounds` rounds of `--steps` steps, so the machine's drift falls on all of them alike; the median round is printed beside the
machine's GEMM rates measured in the same invocation. With --plain-weight-grad each width is also
timed with oneDNN's weight gradient on the 3x3 maps (`Conv3x3.gemm_weight_grad = False`). With
--optimizers sgd muon each width is timed with each optimizer, as the training engine builds it
(the `fast` preset's parameter groups; muon: Muon on the filters, SGD on the rest). malloc is set
as training sets it (`host_memory.reuse_freed_memory`; figures before session 17 ran with glibc's
defaults).

    python benchmarks/step_time.py 32,64,128 16,64,128 16,80,160 --rounds 4
    python benchmarks/step_time.py 64,128,256 --plain-weight-grad
    python benchmarks/step_time.py 16,64,192 --optimizers sgd muon
    python benchmarks/step_time.py 96,192,384 r96,192,384 128,256,512
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import gemm_gflops  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("widths", nargs="+", help="stem,block1,block2,... (the first is the baseline)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plain-weight-grad", action="store_true",
                        help="also time each width with oneDNN's weight gradient everywhere")
    parser.add_argument("--optimizers", nargs="+", default=["sgd"], choices=["sgd", "muon"])
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F

    from fashionlab.experiment import load_config
    from fashionlab.host_memory import reuse_freed_memory
    from fashionlab.models.conv3x3 import Conv3x3
    from fashionlab.models.fast import FastNet
    from fashionlab.training import make_optimizer, parameter_groups

    with reuse_freed_memory():  # malloc as training sets it
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        x = torch.rand(args.batch_size, 1, 28, 28).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (args.batch_size,))
        steps = {}
        variants = [(text, gemm, name) for text in args.widths for name in args.optimizers
                    for gemm in ((True, False) if args.plain_weight_grad else (True,))]
        for text, gemm, name in variants:
            stem_residual = text.startswith("r")  # "r96,192,384": a residual pair after the stem too
            widths = tuple(int(w) for w in text.removeprefix("r").split(","))
            model = FastNet(widths, (True,) * (len(widths) - 1), act="relu", pooled_stem_block=True,
                            stem_residual=stem_residual)
            model = model.to(memory_format=torch.channels_last)
            config = load_config("fast", {"optimizer": name})
            optimizer = make_optimizer(config, parameter_groups(config, model))

            def step(model=model, optimizer=optimizer, gemm=gemm):
                Conv3x3.gemm_weight_grad = gemm
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast("cpu", torch.bfloat16):
                    loss = F.cross_entropy(model(x).float(), y)
                loss.backward()
                optimizer.step()

            for _ in range(3):  # warm-up: oneDNN picks and caches its kernels on the first calls
                step()
            tag = text + ("" if gemm else " oneDNN dW") + (f" {name}" if len(args.optimizers) > 1 else "")
            steps[tag] = (step, sum(p.numel() for p in model.parameters()))

        print(f"GEMM now: {gemm_gflops('fp32'):.0f} GFLOP/s fp32, {gemm_gflops('bf16'):.0f} bf16; "
              f"{args.threads} threads, batch {args.batch_size}", flush=True)
        times = {text: [] for text in steps}
        for _ in range(args.rounds):
            for text, (step, _) in steps.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    step()
                times[text].append((time.perf_counter() - start) / args.steps * 1000)
        base = statistics.median(next(iter(times.values())))
        for text, (_, parameters) in steps.items():
            median = statistics.median(times[text])
            print(f"{text:<26} {parameters / 1e6:5.2f}M parameters  {median:6.1f} ms/step  {median / base:4.2f}x  "
                  f"rounds {', '.join(f'{t:.0f}' for t in times[text])}")


if __name__ == "__main__":
    main()
