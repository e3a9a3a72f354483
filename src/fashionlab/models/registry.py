"""Model registry: every model's name, description, family, size and factory, in one table (timm-style).

It imports no model code, and no torch: the factory is named as "module:function" inside
`fashionlab.models` and imported on first build. Parameter and hidden-layer counts are recorded
here (tests check each against the built model), so `fashionlab models list` and config
validation answer without loading PyTorch (about 2.5 s on this project's CPU).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ..errors import UserError, did_you_mean, match_name

FAMILIES = ("ann", "cnn")  # fully connected networks; convolutional networks


@dataclass(frozen=True)
class ModelEntry:
    name: str
    description: str
    family: str
    parameters: int  # trainable, as models.summary counts them
    hidden_layers: int  # as the paper counts them (models.summary.ModelSummary.hidden_layers)
    factory: str  # "module:function" in fashionlab.models

    @property
    def any_image_size(self) -> bool:
        """Whether it takes images of any side: every FastNet pools globally before its head; the paper's
        networks flatten a 28x28 map into Dense layers."""
        return self.factory.startswith("fast:")

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"model {self.name}: family must be one of {FAMILIES}, got {self.family!r}")


MODELS: dict[str, ModelEntry] = {e.name: e for e in (
    ModelEntry("ann-1", "paper ANN-1: Dense 512-256-128 (three hidden layers)", "ann", 567_434, 3, "paper:ann_1"),
    ModelEntry("ann-2", "paper ANN-2: same layers as ANN-1", "ann", 567_434, 3, "paper:ann_2"),
    ModelEntry("ann-3", "paper ANN-3: Dense 512-256-128-64-32 (five hidden layers)", "ann", 576_810, 5, "paper:ann_3"),
    ModelEntry("cnn-1", "paper CNN-1: two conv blocks (32, 64), BN, dropout 0.2 (fourteen hidden layers)", "cnn",
               871_338, 14, "paper:cnn_1"),
    ModelEntry("cnn-2", "paper CNN-2: CNN-1 plus a BN and unit-norm kernels (fifteen hidden layers)", "cnn",
               871_402, 15, "paper:cnn_2"),
    ModelEntry("cnn-3", "paper CNN-3: three conv blocks (32, 64, 128) (nineteen hidden layers)", "cnn",
               585_130, 19, "paper:cnn_3"),
    ModelEntry("fastnet", "residual CNN 32-64-128 with a pooled stem (not in the paper)", "cnn",
               463_584, 19, "fast:fastnet"),
    ModelEntry("fastnet-wide", "fastnet at twice the width, 64-128-256 (not in the paper)", "cnn",
               1_848_768, 19, "fast:fastnet_wide"),
    ModelEntry("fastnet2", "fastnet with the stem pooled before BatchNorm and ReLU for GELU: 1.33x faster fast runs on "
               "the CPU, for the fast preset (not in the paper)", "cnn", 463_584, 20, "fast:fastnet2"),
    ModelEntry("fastnet2-wide", "fastnet2 at twice the width, 64-128-256, the best preset's network in sessions 4 "
               "to 22 (not in the paper)", "cnn", 1_848_768, 20, "fast:fastnet2_wide"),
    ModelEntry("fastnet2-wide-deep", "fastnet2-wide with a residual pair at 14x14 after the stem too, the best "
               "preset's network since session 23 (not in the paper)", "cnn", 1_922_752, 23, "fast:fastnet2_wide_deep"),
    ModelEntry("fastnet2-xl", "fastnet2 at three times the width, 96-192-384, the max preset's network in sessions 5 "
               "to 17 (not in the paper)",
               "cnn", 4_155_552, 20, "fast:fastnet2_xl"),
    ModelEntry("fastnet2-xl-deep", "fastnet2-xl with a residual pair at 14x14 after the stem too (+27% multiply-adds), "
               "for the max preset since session 18 (not in the paper)", "cnn", 4_321_824, 23,
               "fast:fastnet2_xl_deep"),
    ModelEntry("fastnet2-xxl", "fastnet2 at four times the width, 128-256-512, a candidate for the max preset: at 50 "
               "epochs no more accurate than fastnet2-xl-deep, with a higher loss, in more time (session 18; "
               "not in the paper)", "cnn", 7_383_936, 20, "fast:fastnet2_xxl"),
    ModelEntry("fastnet3", "fastnet2 with a 16-channel stem and a 192-channel last stage, 16-64-192, for the fast "
               "preset (not in the paper)", "cnn", 860_720, 20, "fast:fastnet3"),
    ModelEntry("fastnet3-pool-first", "fastnet3 with its last block's convolution after the pool, at 3x3: 26% fewer "
               "multiply-adds, 0.32 validation points below it in fast's recipe (not in the paper)", "cnn", 860_720, 20,
               "fast:fastnet3_pool_first"),
    ModelEntry("fastnet3-pool-first-both", "fastnet3 with both blocks' convolutions after their pools: 34% fewer "
               "multiply-adds, 1.35 validation points below it in fast's recipe (not in the paper)", "cnn", 860_720, 20,
               "fast:fastnet3_pool_first_both"),
)}


def model_names() -> list[str]:
    return list(MODELS)


def canonical_model_name(name: str) -> str | None:
    """The registered spelling of `name` ("CNN-2" -> "cnn-2"), or None when no model matches."""
    return match_name(name, MODELS)


def model_entry(name: str) -> ModelEntry:
    canonical = canonical_model_name(name)
    if canonical is None:
        raise UserError(f"unknown model {name!r}.{did_you_mean(name, MODELS)} `fashionlab models list` shows them all.")
    return MODELS[canonical]


def build_model(name: str):
    """A fresh torch.nn.Module of the registered model `name` (this is where PyTorch is first needed)."""
    module, _, function = model_entry(name).factory.partition(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), function)()
