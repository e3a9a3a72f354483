"""Keras-flavoured building blocks, so the paper's models behave as they did in Keras 2.4.

- Dense and Conv2D start from Glorot-uniform weights and zero biases (Keras's defaults; PyTorch's
  own default init is different and trains differently).
- BatchNormalization uses Keras's momentum 0.99 (PyTorch calls it 0.01) and epsilon 1e-3.
- `UnitNormConv2d` carries Keras's `unit_norm()` kernel constraint: after every optimizer step
  (never at initialisation, as in Keras) the kernel is divided by (1e-7 + its L2 norm) along an
  axis. Keras's default, `axis=0`, which the paper called, is the kernel's *rows* axis: for a Keras
  kernel (rows, cols, in, out) each length-3 column vector, one per (col, in, out), is normalised.
  `filter` (Keras `axis=[0, 1, 2]`) normalises each output filter's 3x3xC_in weights instead.
- `Dropout` is nn.Dropout with CPU masks drawn from NumPy: the same rate and the same inverted
  scaling. A 32x32x14x14 bf16 mask takes 0.35 ms against 1.35 ms for torch's CPU bernoulli_ (which
  was 14% of CNN-2's profiled bf16 step); the layer's forward and backward run 2.1x faster.
"""

from __future__ import annotations

import functools
import operator

import numpy as np
import torch
from torch import nn

KERAS_EPSILON = 1e-7


def glorot_(layer: nn.Module) -> nn.Module:
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


def dense(n_in: int, n_out: int) -> nn.Linear:
    return glorot_(nn.Linear(n_in, n_out))


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    """3x3, stride 1, 'same' padding."""
    return glorot_(nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1))


# Keras kernel axes mapped to PyTorch's (out, in, rows, cols) weight layout.
UNIT_NORM_DIMS = {
    "rows": (2,),  # Keras unit_norm(axis=0), its default and the paper's call
    "filter": (1, 2, 3),  # Keras unit_norm(axis=[0, 1, 2]): one norm per output filter
}


class UnitNormConv2d(nn.Conv2d):
    """A 3x3 'same' convolution whose kernel the trainer keeps at unit L2 norm along an axis."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(c_in, c_out, kernel_size=3, stride=1, padding=1)
        glorot_(self)

    @torch.no_grad()
    def apply_constraint(self, axis: str = "rows") -> None:
        w = self.weight
        squares = w * w
        if axis == "rows":  # the 3 row slices added: torch's reduction over a middle dim of 3 was 2x slower
            sums = functools.reduce(operator.add, (squares.narrow(2, i, 1) for i in range(w.shape[2])))
        else:
            sums = squares.sum(dim=UNIT_NORM_DIMS[axis], keepdim=True)
        w.div_(sums.sqrt_().add_(KERAS_EPSILON))


class Dropout(nn.Dropout):
    """nn.Dropout whose CPU masks come from NumPy's SFC64 generator; elsewhere it is nn.Dropout.

    Torch's CPU generator (mt19937, one thread) cost about 1.4 ms per 32x32x14x14 mask. Here each
    element keeps with probability 1 - p to within 2^-32, as a float draw would (a 32-bit word per
    element), and the mask is built directly in x's dtype and memory layout, so applying it forward
    and backward is one contiguous multiply. The generator is seeded from torch's global one, so a
    run's seed fixes the masks and a checkpoint (which holds torch's RNG state) resumes them exactly.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or x.device.type != "cpu" or self.inplace:
            return super().forward(x)
        mask = _keep_mask(x, self.p)  # a local, not a value on the stack: Dynamo resumes here without retracing
        return _MaskMultiply.apply(x, mask)


# Same-width signed torch and unsigned NumPy integer types, to write a float's bit pattern.
_INTEGER_VIEWS = {2: (torch.int16, np.uint16), 4: (torch.int32, np.uint32), 8: (torch.int64, np.uint64)}


@torch.compiler.disable
def _keep_mask(x: torch.Tensor, p: float) -> torch.Tensor:
    """1 / (1 - p) where an element is kept (probability 1 - p), 0 where it is dropped; x's dtype and layout."""
    seed = int(torch.randint(0, 2**62, (1,)).item())
    words = np.random.SFC64(seed).random_raw(-(-x.numel() // 2)).view(np.uint32)[: x.numel()]
    kept = words >= np.uint32(round(p * 2**32))
    # 0/1 times the scale's bit pattern (positive: its sign bit is clear) is the mask in x's dtype.
    scale = torch.tensor(1.0 / (1.0 - p), dtype=x.dtype)
    signed, unsigned = _INTEGER_VIEWS[scale.element_size()]
    mask = torch.from_numpy(np.multiply(kept, unsigned(scale.view(signed).item()), dtype=unsigned)).view(x.dtype)
    # Lay the mask out in x's memory order (channels_last included), so the multiply runs contiguously.
    order = sorted(range(x.dim()), key=lambda d: -x.stride(d))
    return mask.view([x.shape[d] for d in order]).permute([order.index(d) for d in range(x.dim())])


class _MaskMultiply(torch.autograd.Function):
    """x * mask with the mask saved (not x): backward is one multiply by the same mask."""

    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask, None


def batch_norm(features: int, dims: int) -> nn.Module:
    cls = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return cls(features, eps=1e-3, momentum=0.01)


def apply_constraints(model: nn.Module, unit_norm_axis: str = "rows") -> None:
    """Re-apply every weight constraint in `model`; the trainer calls this after each step."""
    for module in model.modules():
        if isinstance(module, UnitNormConv2d):
            module.apply_constraint(unit_norm_axis)
