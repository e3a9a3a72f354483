# Session 26: the Muon step of best's network (fastnet2-wide-deep, bf16, batch 256, 2 threads) at input sizes 28, 24, 20, 16 pixels,
# 4 alternating rounds of 8 steps, median round; from the repository root: python docs/results/best-epochs-session26/step_by_size.py 28 24 20 16
import statistics, sys, time
sys.path.insert(0, "benchmarks")
import torch, torch.nn.functional as F
from machine import gemm_gflops
from fashionlab.experiment import load_config
from fashionlab.host_memory import reuse_freed_memory
from fashionlab.models.registry import build_model
from fashionlab.training import make_optimizer, parameter_groups
sizes = [int(s) for s in sys.argv[1:]]
with reuse_freed_memory():
    torch.set_num_threads(2); torch.manual_seed(0)
    steps = {}
    for size in sizes:
        model = build_model("fastnet2-wide-deep").to(memory_format=torch.channels_last)
        config = load_config("best", {})
        opt = make_optimizer(config, parameter_groups(config, model))
        x = torch.rand(256, 1, size, size).contiguous(memory_format=torch.channels_last); y = torch.randint(0, 10, (256,))
        def step(model=model, opt=opt, x=x):
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", torch.bfloat16):
                loss = F.cross_entropy(model(x).float(), y)
            loss.backward(); opt.step()
        for _ in range(3): step()
        steps[size] = step
    print(f"GEMM {gemm_gflops('fp32'):.0f} fp32 {gemm_gflops('bf16'):.0f} bf16")
    times = {s: [] for s in steps}
    for _ in range(4):
        for s, step in steps.items():
            t = time.perf_counter()
            for _ in range(8): step()
            times[s].append((time.perf_counter() - t) / 8 * 1000)
    base = statistics.median(times[sizes[0]])
    for s in sizes:
        m = statistics.median(times[s]); print(s, f"{m:.1f} ms {m/base:.2f}x", [round(t) for t in times[s]])
