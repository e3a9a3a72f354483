# Session 17: the stem convolution of max (1->96) with the tensors of a real bf16 training step (captured by a
# backward hook) against random ones. Run from the repository root: .venv/bin/python docs/results/stem-weight-grad-session17/stem-strides.py
import torch, time, torch.nn.functional as F
torch.set_num_threads(2)
from fashionlab.host_memory import reuse_freed_memory
from fashionlab.models.fast import FastNet
def timed(fn, r=5):
    fn(); s=time.perf_counter()
    for _ in range(r): fn()
    return (time.perf_counter()-s)/r*1000
cl=torch.channels_last
with reuse_freed_memory():
  m = FastNet((96,192,384),(True,True),act="relu",pooled_stem_block=True).to(memory_format=cl)
  conv=m.stem.conv
  x32 = torch.rand(256,1,28,28).contiguous(memory_format=cl)
  captured={}
  def hook(mod, gin, gout): captured['g']=gout[0].detach().clone(memory_format=torch.preserve_format)
  conv.register_full_backward_hook(hook)
  with torch.autocast("cpu", torch.bfloat16):
      out = m(x32)
  out.float().sum().backward()
  g=captured['g']; x=x32.to(torch.bfloat16); w=conv.weight.detach().to(torch.bfloat16)
  print("strides", x.stride(), w.stride(), g.stride(), g.dtype, (g==0).float().mean().item())
  f=lambda: torch.ops.aten.convolution_backward(g, x, w, None, [1,1],[1,1],[1,1],False,[0,0],1,[False,True,False])
  print("real tensors", f"{timed(f):.2f} ms")
  g2=torch.randn_like(g)
  print("randn_like strides", g2.stride())
  f=lambda: torch.ops.aten.convolution_backward(g2, x, w, None, [1,1],[1,1],[1,1],False,[0,0],1,[False,True,False])
  print("randn g", f"{timed(f):.2f} ms")
  g3=g.clone(); g3[g3==0]=1e-3
  f=lambda: torch.ops.aten.convolution_backward(g3, x, w, None, [1,1],[1,1],[1,1],False,[0,0],1,[False,True,False])
  print("real g zeros filled", f"{timed(f):.2f} ms")
  print("real g abs max/min nonzero", g.abs().max().item(), g[g!=0].abs().min().item())
