"""Small, fast residual CNNs for the `fast` and `best` presets (not in the paper).

Design, airbench-style: a cheap stem pools to 14x14 early (full-resolution convolutions are the
expensive ones on a CPU), then conv-pool blocks, each with a residual pair of convolutions, and a
global max-pool head. Every conv is followed by batch norm (no conv bias needed) and an
activation (GELU in fastnet, ReLU in fastnet2). The final linear layer's output is scaled down,
which keeps early logits small with label smoothing.
"""

from __future__ import annotations

import torch
from torch import nn

from .conv3x3 import Conv3x3


ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU}


def conv_bn(c_in: int, c_out: int, act: str = "gelu") -> nn.Sequential:
    return nn.Sequential(Conv3x3(c_in, c_out), nn.BatchNorm2d(c_out), ACTIVATIONS[act]())


class Residual(nn.Module):
    adds_its_input = True  # models.summary records the skip, so the model diagram draws it

    def __init__(self, channels: int, act: str = "gelu"):
        super().__init__()
        self.body = nn.Sequential(conv_bn(channels, channels, act), conv_bn(channels, channels, act))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Block(nn.Module):
    """conv -> 2x2 max-pool -> BN -> GELU, then an optional residual pair at the pooled size.

    With `pool_first` the pool comes before the convolution, which then runs on a quarter of the pixels.
    """

    def __init__(self, c_in: int, c_out: int, residual: bool, act: str = "gelu", pool_first: bool = False):
        super().__init__()
        self.conv = Conv3x3(c_in, c_out)
        self.pool = nn.MaxPool2d(2)
        self.norm = nn.BatchNorm2d(c_out)
        self.act = ACTIVATIONS[act]()
        self.residual = Residual(c_out, act) if residual else nn.Identity()
        self.pool_first = pool_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pool(x)) if self.pool_first else self.pool(self.conv(x))
        return self.residual(self.act(self.norm(x)))


class FastNet(nn.Module):
    def __init__(self, widths=(32, 64, 128), residual=(True, True), stem_pool: bool = True, scale: float = 0.125,
                 act: str = "gelu", pooled_stem_block: bool = False, stem_residual: bool = False, pool_first=None):
        """`pool_first`: for each block after the stem, whether it pools before its convolution (Block)."""
        super().__init__()
        if stem_residual and not pooled_stem_block:
            raise ValueError("stem_residual needs pooled_stem_block: only the pooled stem block has a residual pair")
        if pooled_stem_block and not stem_pool:
            raise ValueError("pooled_stem_block always pools: stem_pool=False applies to the plain stem only")
        stem, *rest = widths
        # The stem's pool halves the resolution before the first wide convolution. As a Block it
        # pools right after the convolution, so BatchNorm and the activation run on a quarter of
        # the pixels (they were a third of the step on the CPU).
        if pooled_stem_block:  # with stem_residual, a residual pair at the pooled 14x14 too
            self.stem = Block(1, stem, residual=stem_residual, act=act)
        else:
            self.stem = nn.Sequential(conv_bn(1, stem, act), nn.MaxPool2d(2) if stem_pool else nn.Identity())
        pool_first = pool_first or (False,) * len(rest)
        if len(pool_first) != len(rest):
            raise ValueError(f"pool_first needs one value per block after the stem ({len(rest)}), "
                             f"got {len(pool_first)}")
        blocks, c_in = [], stem
        for width, res, pool in zip(rest, residual, pool_first):
            blocks.append(Block(c_in, width, res, act, pool_first=pool))
            c_in = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c_in, 10, bias=False))
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x))) * self.scale


def fastnet() -> FastNet:
    return FastNet((32, 64, 128), (True, True), stem_pool=True)


def fastnet_wide() -> FastNet:
    return FastNet((64, 128, 256), (True, True), stem_pool=True)


# Version 2 (session 4): the stem pools before its BatchNorm, and ReLU replaces GELU. The same
# parameters; steps 1.35x faster on the 2-core CPU (bf16 GELU and full-resolution BatchNorm were
# a third of fastnet's step), with validation accuracy within seed noise of fastnet's at 4 epochs.
def fastnet2() -> FastNet:
    return FastNet((32, 64, 128), (True, True), act="relu", pooled_stem_block=True)


def fastnet2_wide() -> FastNet:
    return FastNet((64, 128, 256), (True, True), act="relu", pooled_stem_block=True)


# For the max preset (session 5): three times fastnet2's width, 96-192-384. A step costs 2.3x
# fastnet2-wide's on the 2-core CPU; the max preset spends its two hours on width, with random
# erasing to regularise a long run, rather than on more epochs of fastnet2-wide.
def fastnet2_xl() -> FastNet:
    return FastNet((96, 192, 384), (True, True), act="relu", pooled_stem_block=True)


# max's network since session 18: fastnet2-xl with a residual pair at 14x14 after the stem as well. On
# an H200, 100 epochs of fastnet2-xl scored no higher than 70 on the validation split, so max needed a
# stronger network, not a longer schedule. This one adds 27% of multiply-adds at 14x14, where
# fastnet2-xl runs a single convolution and the images' detail still is; at 50 epochs (0.91x the time
# of 70 of fastnet2-xl on an AMD EPYC) it scored 0.37 and 0.28 validation points higher (seeds 0, 1).
def fastnet2_xl_deep() -> FastNet:
    return FastNet((96, 192, 384), (True, True), act="relu", pooled_stem_block=True, stem_residual=True)


# best's network since session 23: fastnet2-wide with fastnet2-xl-deep's residual pair at 14x14. Its Muon
# step took 1.21x fastnet2-wide's on the 2-core Intel Xeon, so best trains it 21 epochs, not 26. Alone it
# scored as fastnet2-wide did (validation mean 95.23%, seeds 0-3); with multi-crop TTA 0.15 points higher.
def fastnet2_wide_deep() -> FastNet:
    return FastNet((64, 128, 256), (True, True), act="relu", pooled_stem_block=True, stem_residual=True)


# A second candidate for max (session 16): fastnet2 at four times the width, 128-256-512. Its step took
# 1.76x fastnet2-xl's on an AMD EPYC (session 15), so it trains 50 epochs, not 70 (1.26x the time). On
# an H200's validation split (session 18) it gained 0.32 points over max's 70 epochs of fastnet2-xl,
# as much as fastnet2-xl-deep at 50 epochs, with a higher loss and in more time: not adopted.
def fastnet2_xxl() -> FastNet:
    return FastNet((128, 256, 512), (True, True), act="relu", pooled_stem_block=True)


# Version 3 (session 8): a 16-channel stem, and the width it frees spent on the last stage. The
# stem's 28x28 convolution and pool cost a fifth of fastnet2's step for 2% of its multiply-adds, and
# the whitening init fills 16 filters with the patches' 8 strongest whitening filters and their negatives.
# On the validation split (4 epochs, seeds 0-3) the 16-64-192 net scored 94.11% against fastnet2's 94.00%.
def fastnet3() -> FastNet:
    return FastNet((16, 64, 192), (True, True), act="relu", pooled_stem_block=True)


# Candidates for fast (session 17), with fewer multiply-adds: on the AMD EPYC, fast's step is bound by
# its convolutions (83% of it at 89% of the GEMM rate). The last block's 64->192 convolution at 7x7 is
# a third of fastnet3's multiply-adds; pooling first runs it at 3x3, 26% fewer multiply-adds in all,
# and 34% with the middle block's 16->64 convolution also run after its pool. Measured on the validation
# split, neither beat fastnet3 at equal training time (README, the fast preset), so fast keeps fastnet3.
def fastnet3_pool_first() -> FastNet:
    return FastNet((16, 64, 192), (True, True), act="relu", pooled_stem_block=True, pool_first=(False, True))


def fastnet3_pool_first_both() -> FastNet:
    return FastNet((16, 64, 192), (True, True), act="relu", pooled_stem_block=True, pool_first=(True, True))
