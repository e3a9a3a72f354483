"""The paper's six models, as reconstructed in docs/paper-experiments.md (its diagrams were lost).

Every layer box Keras's plot_model would draw is a module here, in order, so a summary lists the
same hidden layers the paper counts. ReLU is the activation of Dense/Conv layers (Keras puts it
inside the layer; here it follows as its own module and is folded into that layer's summary row).
The models return logits; the 10-way softmax lives in the loss and in `predict`, which is the
same function computed more stably.
"""

from __future__ import annotations

from torch import nn

from .layers import Dropout, UnitNormConv2d, batch_norm, conv3x3, dense

DROPOUT = 0.2
N_CLASSES = 10


def _ann(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    n_in = 28 * 28
    for width in widths:
        layers += [dense(n_in, width), nn.ReLU()]
        n_in = width
    layers.append(dense(n_in, N_CLASSES))
    return nn.Sequential(*layers)


def ann_1() -> nn.Sequential:
    return _ann([512, 256, 128])


def ann_2() -> nn.Sequential:
    return _ann([512, 256, 128])


def ann_3() -> nn.Sequential:
    return _ann([512, 256, 128, 64, 32])


def _conv(c_in: int, c_out: int, unit_norm: bool) -> list[nn.Module]:
    return [UnitNormConv2d(c_in, c_out) if unit_norm else conv3x3(c_in, c_out), nn.ReLU()]


def _cnn(blocks: list[tuple[int, bool]], unit_norm: bool = False) -> nn.Sequential:
    """`blocks`: (filters, BN after the block's second conv too) per conv block.

    Each block: Conv BN Conv [BN] MaxPool Dropout; then Flatten Dense(256) BN Dropout, Dense(10).
    """
    layers: list[nn.Module] = []
    c_in, side = 1, 28
    for filters, second_bn in blocks:
        layers += _conv(c_in, filters, unit_norm) + [batch_norm(filters, 2)]
        layers += _conv(filters, filters, unit_norm)
        if second_bn:
            layers.append(batch_norm(filters, 2))
        layers += [nn.MaxPool2d(2), Dropout(DROPOUT)]
        c_in, side = filters, side // 2
    layers += [nn.Flatten(), dense(c_in * side * side, 256), nn.ReLU(), batch_norm(256, 1), Dropout(DROPOUT)]
    layers.append(dense(256, N_CLASSES))
    return nn.Sequential(*layers)


def cnn_1() -> nn.Sequential:
    return _cnn([(32, False), (64, False)])


def cnn_2() -> nn.Sequential:
    return _cnn([(32, True), (64, False)], unit_norm=True)


def cnn_3() -> nn.Sequential:
    return _cnn([(32, False), (64, False), (128, False)])
