"""Where a training step's time goes: torch.profiler over fashionlab's real step, grouped by kind.

Run on purpose (not in CI). Times `--steps` optimizer steps of a preset's protocol (CNN-2's by
default: batch 32, SGD, flip + zoom, dropout, unit-norm constraint) after a warm-up, prints the
profiler's table of the heaviest operators, then each kind's share of the step (convolutions,
BatchNorm, activations, pooling, dense layers, dropout, optimizer, dtype casts, the rest), and the
convolutions' achieved GFLOP/s beside the machine's GEMM rate measured in the same invocation.

    python benchmarks/profile_step.py                      # cnn-2, bf16
    python benchmarks/profile_step.py fast --precision bf16 --steps 30
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import gemm_gflops  # noqa: E402

# Operator name fragments -> the kind of work they are (the first match wins). Every operator run
# inside Conv3x3's weight gradient (`_GemmWeightGradBackward`: the patches' gather, one aten::mm) is
# convolution work whatever its own name (before session 16 its GEMM counted as a dense layer).
KINDS = [
    ("convolution", ("convolution", "conv2d", "mkldnn_conv", "gemmweightgrad")),
    ("BatchNorm", ("batch_norm",)),
    ("activation", ("relu", "threshold", "gelu", "clamp_min")),
    ("pooling", ("max_pool", "adaptive_max")),
    ("dense layers", ("aten::mm", "aten::addmm", "aten::bmm")),
    ("dropout", ("bernoulli", "dropout", "maskmultiply")),
    ("optimizer", ("optimizer.", "sgd", "_foreach")),
    ("dtype casts and copies", ("aten::copy_", "aten::_to_copy", "aten::to")),
]


def kind_of(event) -> str:
    """The kind of one profiled call: a convolution's if it ran inside Conv3x3's weight gradient,
    else by its own name."""
    caller = event
    while caller is not None:
        # The node itself, not the autograd engine's wrapper around it: the engine also sums a
        # tensor's gradients from its several users there, as it does for every other node.
        if caller.name == "_GemmWeightGradBackward":
            return "convolution"
        caller = caller.cpu_parent
    name = event.name.lower()
    return next((kind for kind, fragments in KINDS if any(f in name for f in fragments)), "the rest")


def conv_flops_per_image(model, image) -> float:
    """Multiply-adds x 2 of every Conv2d forward for one image; the backward costs twice that
    (gradients of input and weight), except the first layer's, whose input needs no gradient."""
    import torch

    total, first = [0.0], [None]

    def hook(module, inputs, output):
        flops = 2 * output.numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        total[0] += 3 * flops
        if first[0] is None:
            first[0] = flops
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model.eval()(image)
    for h in handles:
        h.remove()
    return total[0] - (first[0] or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", nargs="?", default="cnn-2")
    parser.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rows", type=int, default=20, help="operators in the profiler's table")
    args = parser.parse_args()

    import torch
    from torch.profiler import ProfilerActivity, profile

    from fashionlab.device import place_model, resolve_device
    from fashionlab.experiment import load_config
    from fashionlab.host_memory import reuse_freed_memory
    from fashionlab.models import build_model
    from fashionlab.training import TrainStep, make_optimizer

    config = load_config(args.experiment, {"precision": args.precision, "device": "cpu"})
    device = resolve_device("cpu")
    torch.manual_seed(0)
    model, channels_last = place_model(build_model(config.model), device)
    step = TrainStep(model, make_optimizer(config, model.parameters()), config, torch.Generator().manual_seed(1),
                     channels_last, args.precision)
    data, labels = torch.rand(8192, 1, 28, 28), torch.randint(0, 10, (8192,))
    bs = config.batch_size

    def window(n: int) -> float:
        started = time.perf_counter()
        perm = torch.randperm(data.shape[0])
        for i in range(n):
            index = perm[(i * bs) % (data.shape[0] - bs):][:bs]
            step(data[index], labels[index])
        return (time.perf_counter() - started) / n

    gemm = gemm_gflops(args.precision)
    model.train()
    with reuse_freed_memory():  # malloc as training sets it
        window(max(10, args.steps // 5))
        seconds = window(args.steps)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            window(args.steps)
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=45))

    profiled = sum(e.self_cpu_time_total for e in events) / 1e6 / args.steps
    shares = {kind: 0.0 for kind, _ in KINDS} | {"the rest": 0.0}
    for e in prof.events():  # each call, so that its callers are known
        shares[kind_of(e)] += e.self_cpu_time_total / 1e6 / args.steps
    flops = conv_flops_per_image(model, data[:1].contiguous(memory_format=torch.channels_last) if channels_last
                                 else data[:1]) * bs
    print(f"{config.name}, batch {bs}, {args.precision}, {torch.get_num_threads()} threads: "
          f"{seconds * 1e3:.2f} ms per step unprofiled ({bs / seconds:,.0f} images/s), "
          f"{profiled * 1e3:.2f} ms profiled (operators' own time)")
    for kind, value in sorted(shares.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:<24} {value * 1e3:6.2f} ms  {value / profiled:5.1%}")
    conv = shares["convolution"]
    print(f"convolutions: {flops / 1e9:.2f} GFLOP per step in {conv * 1e3:.2f} ms = {flops / conv / 1e9:,.0f} GFLOP/s, "
          f"{flops / conv / 1e9 / gemm:.0%} of this machine's {args.precision} GEMM rate measured now "
          f"({gemm:,.0f} GFLOP/s)")


if __name__ == "__main__":
    main()
