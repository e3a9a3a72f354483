"""Optimizers whose arithmetic differs between Keras and PyTorch, written as Keras computes them.

Keras's RMSprop divides by sqrt(velocity + epsilon): epsilon sits *inside* the square root
(tf_keras `optimizers/rmsprop.py`, and TensorFlow's ApplyRMSProp kernel behind Keras 2.4.3).
PyTorch's RMSprop divides by sqrt(velocity) + epsilon. With Keras's epsilon of 1e-7 the two
differ wherever the running mean of squared gradients is small: Keras's steps there are bounded
by lr * |g| / sqrt(1e-7), about 3,000 times smaller than PyTorch's near-sign-sized steps. That
is the late, overfitting phase of the paper's 1000-epoch ANN-1, where gradients become tiny.
"""

from __future__ import annotations

import torch


class KerasRMSprop(torch.optim.Optimizer):
    """RMSprop (no momentum, not centred) exactly as Keras's: p -= lr * g / sqrt(v + eps)."""

    def __init__(self, params, lr: float = 1e-3, rho: float = 0.9, eps: float = 1e-7, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            if group["weight_decay"]:
                grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
            velocity = []
            for p in params:
                state = self.state[p]
                if "square_avg" not in state:
                    state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                velocity.append(state["square_avg"])
            torch._foreach_mul_(velocity, group["rho"])
            torch._foreach_addcmul_(velocity, grads, grads, value=1 - group["rho"])
            denominator = torch._foreach_add(velocity, group["eps"])
            torch._foreach_sqrt_(denominator)
            torch._foreach_addcdiv_(params, grads, denominator, value=-group["lr"])
        return None
