import time, sys, statistics, torch, torch.nn.functional as F
from fashionlab.models.registry import build_model
torch.set_num_threads(2)
x = torch.rand(256, 1, 28, 28).contiguous(memory_format=torch.channels_last); y = torch.randint(0, 10, (256,))
steps = {}
for name in sys.argv[1:]:
    m = build_model(name).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    def step(m=m, opt=opt):
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", torch.bfloat16):
            loss = F.cross_entropy(m(x).float(), y)
        loss.backward(); opt.step()
    for _ in range(3): step()
    steps[name] = step
times = {n: [] for n in steps}
for r in range(3):
    for n, s in steps.items():
        t = time.perf_counter()
        for _ in range(8): s()
        times[n].append((time.perf_counter() - t) / 8 * 1000)
b = statistics.median(times[sys.argv[1]])
for n in steps: print(n, f"{statistics.median(times[n]):.1f} ms {statistics.median(times[n])/b:.2f}x")
