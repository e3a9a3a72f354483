# Session 17: oneDNN bf16 stem convolution (1 input channel, 28x28, batch 256, 2 threads) for each combination of
# input and weight strides. Run from the repository root: .venv/bin/python docs/results/stem-weight-grad-session17/stem-layouts.py
import torch, time, torch.nn.functional as F
torch.set_num_threads(2)
from fashionlab.host_memory import reuse_freed_memory
def timed(fn, r=7):
    fn(); s=time.perf_counter()
    for _ in range(r): fn()
    return (time.perf_counter()-s)/r*1000
cl=torch.channels_last
with reuse_freed_memory():
  for c in (16, 64, 96):
    g=torch.empty(256,c,28,28,dtype=torch.bfloat16,memory_format=cl).normal_()
    for xs in ("x .contiguous(cl)", "x .to(cl)"):
      x=torch.rand(256,1,28,28,dtype=torch.bfloat16)
      x = x.contiguous(memory_format=cl) if xs.endswith("contiguous(cl)") else x.to(memory_format=cl)
      for ws in ("w randn.contiguous(cl)", "w empty(cl)"):
        w = torch.randn(c,1,3,3,dtype=torch.bfloat16).contiguous(memory_format=cl) if "randn" in ws else torch.empty(c,1,3,3,dtype=torch.bfloat16,memory_format=cl).normal_()
        fw=timed(lambda: F.conv2d(x,w,padding=1))
        bw=timed(lambda: torch.ops.aten.convolution_backward(g, x, w, None, [1,1],[1,1],[1,1],False,[0,0],1,[False,True,False]))
        print(f"1->{c}: {xs:18s} {str(x.stride()):18s} {ws:22s} {str(w.stride()):14s} forward {fw:6.2f} ms  dW {bw:6.2f} ms", flush=True)
