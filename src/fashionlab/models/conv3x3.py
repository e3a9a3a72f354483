"""A 3x3 convolution whose weight gradient, on small feature maps in bf16 on the CPU, is one matrix product.

oneDNN's bf16 weight-gradient kernel is slow on feature maps of 3x3 pixels with many channels. On
the 2-core Xeon with AMX, 2 threads, batch 256, it took 4.4 ms for 128 channels, 16 ms for 256 and
53 ms for 384; gathering the 3x3 patches and multiplying once took 2.3, 6.0 and 13 ms. On 7x7 and
larger maps oneDNN is faster, and its forward and input gradient are fast everywhere, so only this
one gradient is replaced, and only where it pays (`benchmarks/conv_weight_grad.py` measures it).

The parameters and state dict are nn.Conv2d's, so checkpoints, exports and initialisations do
not change. Evaluation, fp32 and CUDA take nn.Conv2d's own path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SMALL_MAP = 16  # pixels per feature map (4x4) up to which the weight gradient is a GEMM


def patches(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N*H*W, 9*C): each pixel's zero-padded 3x3 neighbourhood, tap-major, channels last."""
    n, c, h, w = x.shape
    padded = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1)
    return torch.stack([padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)], dim=3).reshape(n * h * w, 9 * c)


def weight_grad(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """The gradient of a 3x3, padding-1 convolution's weight, (C_out, C_in, 3, 3) with channels_last strides."""
    c_out, c_in = grad.shape[1], x.shape[1]
    grad_rows = grad.permute(0, 2, 3, 1).reshape(-1, c_out)
    return (grad_rows.t() @ patches(x)).view(c_out, 3, 3, c_in).permute(0, 3, 1, 2)


class _GemmWeightGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return F.conv2d(x, weight, padding=1)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad_x = torch.nn.grad.conv2d_input(x.shape, weight, grad, padding=1) if ctx.needs_input_grad[0] else None
        grad_w = weight_grad(x, grad) if ctx.needs_input_grad[1] else None
        return grad_x, grad_w


def _cpu_autocast_is_bf16() -> bool:
    try:
        return torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    except TypeError:  # torch < 2.4 has only the CPU-specific spellings
        return torch.is_autocast_cpu_enabled() and torch.get_autocast_cpu_dtype() == torch.bfloat16


class Conv3x3(nn.Conv2d):
    """nn.Conv2d(c_in, c_out, 3, padding=1, bias=False); see the module's docstring for its weight gradient."""

    gemm_weight_grad = True  # False: always nn.Conv2d's path (benchmarks compare the two)

    def __init__(self, c_in: int, c_out: int):
        super().__init__(c_in, c_out, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.gemm_weight_grad and self.training and torch.is_grad_enabled() and x.device.type == "cpu"
                and x.shape[-2] * x.shape[-1] <= SMALL_MAP and _cpu_autocast_is_bf16()):
            with torch.autocast("cpu", enabled=False):  # cast here, as autocast would, so the Function sees bf16
                return _GemmWeightGrad.apply(x.to(torch.bfloat16), self.weight.to(torch.bfloat16))
        return super().forward(x)
