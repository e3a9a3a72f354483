"""CNN-2 bf16 training throughput on the CPU, eager against compiled (throughput.py's measurement), with
fashionlab's NumPy dropout (`numpy`: on the CPU its mask draw breaks Dynamo's graph) or with nn.Dropout
(`torchdrop`: no graph break; Inductor draws the masks). Session 16, on the 2-core AMD EPYC. Run by run.sh."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import torch
from throughput import fashionlab_images_per_second
from machine import gemm_gflops
from fashionlab.models import layers
mode = sys.argv[1]
model = sys.argv[2] if len(sys.argv) > 2 else "cnn-2"
if mode == "torchdrop":  # nn.Dropout everywhere: under compile, Inductor's own fused RNG, no graph break
    layers.Dropout.forward = lambda self, x: torch.nn.Dropout.forward(self, x)
torch.set_num_threads(2)
print("GEMM bf16", round(gemm_gflops("bf16")))
for compiled in (False, True):
    r = fashionlab_images_per_second(model, "cpu", 150, 3, "bf16", compiled=compiled)
    print(mode, model, "compiled" if compiled else "eager", f"{r['images_per_second']:.0f} img/s", f"{32/r['images_per_second']*1e3:.2f} ms/step", [round(x) for x in r["runs"]], flush=True)
