"""Keras-flavoured building blocks, so the paper's models behave as they did in Keras 2.4.

- Dense and Conv2D start from Glorot-uniform weights and zero biases (Keras's defaults; PyTorch's
  own default init is different and trains differently).
- BatchNormalization uses Keras's momentum 0.99 (PyTorch calls it 0.01) and epsilon 1e-3.
- `UnitNormConv2d` carries Keras's `unit_norm()` kernel constraint: after every optimizer step
  (never at initialisation, as in Keras) the kernel is divided by (1e-7 + its L2 norm) along an
  axis. Keras's default, `axis=0`, which the paper called, is the kernel's *rows* axis: for a Keras
  kernel (rows, cols, in, out) each length-3 column vector, one per (col, in, out), is normalised.
  `filter` (Keras `axis=[0, 1, 2]`) normalises each output filter's 3x3xC_in weights instead.
"""

from __future__ import annotations

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
        norms = w.square().sum(dim=UNIT_NORM_DIMS[axis], keepdim=True).sqrt()
        w.div_(norms + KERAS_EPSILON)


def batch_norm(features: int, dims: int) -> nn.Module:
    cls = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return cls(features, eps=1e-3, momentum=0.01)


def apply_constraints(model: nn.Module, unit_norm_axis: str = "rows") -> None:
    """Re-apply every weight constraint in `model`; the trainer calls this after each step."""
    for module in model.modules():
        if isinstance(module, UnitNormConv2d):
            module.apply_constraint(unit_norm_axis)
