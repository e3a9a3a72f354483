"""Keras-like model summaries: one row per layer box, output shape, parameters, totals.

Parameters are counted as Keras counts them: BatchNorm's moving mean and variance are
non-trainable parameters, so "total" includes them; `trainable` is what the optimizer updates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import Dropout, UnitNormConv2d

KERAS_NAMES = {
    nn.Linear: "Dense",
    nn.Conv2d: "Conv2D",
    UnitNormConv2d: "Conv2D (unit_norm)",
    nn.BatchNorm1d: "BatchNormalization",
    nn.BatchNorm2d: "BatchNormalization",
    nn.MaxPool2d: "MaxPooling2D",
    nn.Dropout: "Dropout",
    Dropout: "Dropout",
    nn.Flatten: "Flatten",
}
ACTIVATIONS = (nn.ReLU, nn.GELU, nn.SiLU)


@dataclass
class LayerRow:
    name: str
    output_shape: tuple  # Keras convention: (None, H, W, C) or (None, features)
    trainable: int
    non_trainable: int
    skip_from: int | None = None  # a residual connection adds this row index's output (-1: the input) to ours


    @property
    def params(self) -> int:
        return self.trainable + self.non_trainable


@dataclass
class ModelSummary:
    rows: list[LayerRow]

    @property
    def trainable(self) -> int:
        return sum(r.trainable for r in self.rows)

    @property
    def total(self) -> int:
        return sum(r.params for r in self.rows)

    @property
    def hidden_layers(self) -> int:
        """Layer boxes between input and output, as the paper counts them (input Flatten excluded)."""
        skip_input_flatten = 1 if self.rows and self.rows[0].name == "Flatten" else 0
        return len(self.rows) - 1 - skip_input_flatten

    def format(self, title: str = "") -> str:
        lines = [title] if title else []
        width = 64
        lines += ["_" * width, f"{'Layer (type)':<28}{'Output Shape':<22}{'Param #':>14}", "=" * width]
        for i, row in enumerate(self.rows):
            shape = "(" + ", ".join("None" if d is None else str(d) for d in row.output_shape) + ")"
            lines.append(f"{row.name:<28}{shape:<22}{row.params:>14,}")
        lines += [
            "=" * width,
            f"Total params: {self.total:,}",
            f"Trainable params: {self.trainable:,}",
            f"Non-trainable params: {self.total - self.trainable:,}",
            f"Hidden layers (as the paper counts them): {self.hidden_layers}",
        ]
        return "\n".join(lines)


def _keras_shape(shape: torch.Size) -> tuple:
    dims = tuple(shape[1:])
    if len(dims) == 3:  # NCHW -> Keras's (None, H, W, C)
        dims = (dims[1], dims[2], dims[0])
    return (None, *dims)


def summarize(model: nn.Module, input_shape=(1, 28, 28)) -> ModelSummary:
    """Run one dummy image through `model` and record each layer box's output."""
    rows: list[LayerRow] = []
    hooks = []

    def record(module: nn.Module, _inputs, output) -> None:
        if isinstance(module, ACTIVATIONS):
            if rows:  # Keras folds the activation into the layer before it
                rows[-1].output_shape = _keras_shape(output.shape)
            return
        trainable = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
        frozen = sum(p.numel() for p in module.parameters(recurse=False) if not p.requires_grad)
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            frozen += module.running_mean.numel() + module.running_var.numel()
        name = next((n for cls, n in KERAS_NAMES.items() if type(module) is cls), type(module).__name__)
        rows.append(LayerRow(name, _keras_shape(output.shape), trainable, frozen))

    entered: list[int] = []  # for each residual module being run: the last row before it, its input

    def enter_residual(_module, _inputs) -> None:
        entered.append(len(rows) - 1)

    def leave_residual(_module, _inputs, _output) -> None:
        rows[-1].skip_from = entered.pop()

    leaves = [m for m in model.modules() if not list(m.children())]
    for module in leaves:
        hooks.append(module.register_forward_hook(record))
    for module in model.modules():
        if getattr(module, "adds_its_input", False):  # e.g. models.fast.Residual: x + body(x)
            hooks.append(module.register_forward_pre_hook(enter_residual))
            hooks.append(module.register_forward_hook(leave_residual))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return ModelSummary(rows)
