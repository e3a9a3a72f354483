import time, torch, torch.nn.functional as F, sys
sys.path.insert(0, "src")
from fashionlab.models.fast import FastNet
torch.manual_seed(0)
cands = {"wide": dict(widths=(64,128,256)), "w1.5": dict(widths=(96,192,384)), "w2": dict(widths=(128,256,512)),
         "4stage": dict(widths=(32,64,128,256), residual=(True,True,True))}
x = torch.rand(256,1,28,28).contiguous(memory_format=torch.channels_last); y = torch.randint(0,10,(256,))
for name, kw in cands.items():
    m = FastNet(act="relu", pooled_stem_block=True, **kw).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    def step():
        with torch.autocast("cpu", torch.bfloat16):
            loss = F.cross_entropy(m(x).float(), y)
        opt.zero_grad(); loss.backward(); opt.step()
    for _ in range(3): step()
    t = time.perf_counter(); n = 15
    for _ in range(n): step()
    dt = (time.perf_counter() - t) / n
    print(name, sum(p.numel() for p in m.parameters()), f"{dt*1000:.1f} ms/step, {dt*60000/256:.1f} s/epoch", flush=True)
