"""Per-step cost of CNN-2's dropout on the CPU: fashionlab's NumPy-drawn mask against torch's own
nn.functional.dropout (bernoulli_), forward and backward, at CNN-2's dropout inputs (batch 32, bf16
autocast, channels_last), alternating rounds. Prints the median per-step time of each."""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from machine import gemm_gflops  # noqa: E402
from fashionlab.device import place_model  # noqa: E402
from fashionlab.models import build_model, layers  # noqa: E402

torch.set_num_threads(2)
model, channels_last = place_model(build_model("cnn-2"), torch.device("cpu"))
inputs = []
hooks = [m.register_forward_hook(lambda m, i, o: inputs.append((i[0].detach().clone(), m.p)))
         for m in model.modules() if isinstance(m, layers.Dropout)]
x = torch.rand(32, 1, 28, 28)
if channels_last:
    x = x.contiguous(memory_format=torch.channels_last)
with torch.autocast("cpu", torch.bfloat16):
    model.train()(x)
for h in hooks:
    h.remove()
print("dropout inputs:", [(tuple(t.shape), t.dtype, p, t.is_contiguous(memory_format=torch.channels_last)) for t, p in inputs])
print("GEMM bf16", round(gemm_gflops("bf16")), "GFLOP/s")


def numpy_mask(t, p):
    return layers._MaskMultiply.apply(t, layers._keep_mask(t, p))


def torch_dropout(t, p):
    return F.dropout(t, p, training=True)


def step_seconds(fn, reps=300):
    leaves = [t.requires_grad_() for t, _ in inputs]
    started = time.perf_counter()
    for _ in range(reps):
        for leaf, (_, p) in zip(leaves, inputs):
            fn(leaf, p).sum().backward()
    return (time.perf_counter() - started) / reps


times = {"numpy": [], "torch": []}
for _ in range(5):
    for name, fn in (("numpy", numpy_mask), ("torch", torch_dropout)):
        step_seconds(fn, 30)
        times[name].append(step_seconds(fn))
for name, values in times.items():
    print(f"{name}: median {statistics.median(values) * 1e3:.3f} ms per step (every dropout, forward and "
          f"backward, with a sum's backward each), rounds {[round(v * 1e3, 3) for v in values]}")
