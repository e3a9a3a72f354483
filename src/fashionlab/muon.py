"""Muon for convolution filters, Nesterov SGD for every other parameter, in one optimizer.

Muon (Keller Jordan, 2024; airbench94_muon) replaces a filter bank's momentum by the nearest
semi-orthogonal matrix, computed by a few Newton-Schulz iterations on the bank viewed as
(out_channels, in_channels * kh * kw): every direction of the update then moves at the same
rate. Before each step the bank is rescaled to norm sqrt(out_channels), so the learning rate
keeps its meaning; a BatchNorm after each convolution makes the network blind to that scale.

PyTorch's own `torch.optim.Muon` takes 2-D parameters only and does not rescale the weights,
which is why the filters' update is written here; the other groups go through `torch.optim.sgd.sgd`.
A group with `muon=True` is Muon's; the training loop sets each group's learning rate as usual.
"""

from __future__ import annotations

import torch
from torch.optim.sgd import sgd

# The quintic iteration's coefficients, chosen for the steepest slope at zero (airbench94_muon):
# it does not converge to U V^T exactly, but to singular values spread around 1, which trains as well.
NEWTON_SCHULZ_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalize(matrices: torch.Tensor, steps: int = 3, eps: float = 1e-7) -> torch.Tensor:
    """About U V^T of each matrix U S V^T in `matrices` (one, or a stack), computed in bf16 as Muon's
    authors do, returned in the input's dtype."""
    x = matrices.bfloat16().reshape(-1, *matrices.shape[-2:])
    x = x / (x.norm(dim=(1, 2), keepdim=True) + eps)  # every singular value at most 1: inside the iteration's basin
    tall = x.size(1) > x.size(2)
    if tall:
        x = x.mT
    a, b, c = NEWTON_SCHULZ_COEFFICIENTS
    for _ in range(steps):
        gram = x @ x.mT
        x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)  # a x + (b A + c A^2) x
    return (x.mT if tall else x).reshape(matrices.shape).to(matrices.dtype)


class MuonSGD(torch.optim.Optimizer):
    """Groups with `muon=True`: Muon with `muon_momentum` (Nesterov) and no weight decay. Others:
    Nesterov SGD with `momentum` and `weight_decay`, as `torch.optim.SGD` with nesterov=True."""

    def __init__(self, params, lr: float, momentum: float, weight_decay: float = 0.0, muon_momentum: float = 0.6,
                 newton_schulz_steps: int = 3):
        defaults = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "muon": False,
                    "muon_momentum": muon_momentum, "newton_schulz_steps": newton_schulz_steps}
        super().__init__(params, defaults)
        for group in self.param_groups:
            if group["muon"] and any(p.ndim < 2 for p in group["params"]):
                raise ValueError("Muon's group takes weight matrices or filter banks only (2 or more dimensions)")

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if group["muon"]:
                self._muon_step(params, group)
                continue
            buffers = [self.state[p].get("momentum_buffer") for p in params]
            sgd(params, [p.grad for p in params], buffers, weight_decay=group["weight_decay"],
                momentum=group["momentum"], lr=group["lr"], dampening=0.0,
                nesterov=group["momentum"] > 0, maximize=False)
            for p, buffer in zip(params, buffers):
                if buffer is not None:
                    self.state[p]["momentum_buffer"] = buffer
        return None

    def _muon_step(self, params: list[torch.Tensor], group: dict) -> None:
        mu = group["muon_momentum"]
        grads = [p.grad for p in params]
        buffers = [self.state[p].setdefault("momentum_buffer", torch.zeros_like(p)) for p in params]
        torch._foreach_mul_(buffers, mu)
        torch._foreach_add_(buffers, grads)
        directions = torch._foreach_add(grads, buffers, alpha=mu)  # Nesterov
        norms = torch._foreach_norm(params)
        torch._foreach_mul_(params, [p.size(0) ** 0.5 / n.clamp_min(1e-12) for p, n in zip(params, norms)])
        # Banks of one shape are orthogonalized together, as one batched matrix product per iteration.
        same_shape: dict[tuple, list[int]] = {}
        for i, p in enumerate(params):
            same_shape.setdefault((p.size(0), p[0].numel()), []).append(i)
        for members in same_shape.values():
            updates = orthogonalize(torch.stack([as_rows(directions[i]) for i in members]), group["newton_schulz_steps"])
            for update, i in zip(updates, members):
                as_rows(params[i]).add_(update, alpha=-group["lr"])


def as_rows(bank: torch.Tensor) -> torch.Tensor:
    """A filter bank as an (out_channels, everything else) matrix: a view, in the order of its memory.

    The columns' order does not matter to orthogonalization (for a permutation P, M P has the polar
    factor U V^T P), so a channels_last bank is read (and written) as it lies, without a copy."""
    if bank.ndim == 4 and not bank.is_contiguous() and bank.is_contiguous(memory_format=torch.channels_last):
        return bank.permute(0, 2, 3, 1).view(bank.size(0), -1)
    return bank.view(bank.size(0), -1)
