import time, sys, torch, torch.nn.functional as F, statistics
sys.path.insert(0, "/work/main/src")
from fashionlab.models.fast import FastNet
torch.set_num_threads(2)
def bench(f, n=10):
    for _ in range(2): f()
    t=time.perf_counter()
    for _ in range(n): f()
    return (time.perf_counter()-t)/n*1e3
cands = [tuple(map(int, c.split(","))) for c in sys.argv[1:]]
x = torch.randn(256, 1, 28, 28).contiguous(memory_format=torch.channels_last)
y = torch.randint(0, 10, (256,))
steps = {}
for widths in cands:
    m = FastNet(widths, (True, True), act="relu", pooled_stem_block=True).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    def step(m=m, opt=opt):
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", torch.bfloat16):
            loss = F.cross_entropy(m(x).float(), y)
        loss.backward(); opt.step()
    steps[widths] = (step, sum(p.numel() for p in m.parameters()))
times = {w: [] for w in cands}
for rnd in range(4):
    for w in cands:
        times[w].append(bench(steps[w][0]))
base = statistics.median(times[cands[0]])
for w in cands:
    med = statistics.median(times[w])
    print(w, f"{steps[w][1]/1e6:.2f}M, median step {med:.1f} ms ({med/base:.2f}x), all {[round(t) for t in times[w]]}")
