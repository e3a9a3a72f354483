"""Airbench's initialisations (not in the paper), applied to a freshly built, seeded model.

- `dirac_`: each odd-sized convolution's first filters start as the identity, so a fresh network passes
  its input through its convolutions; the remaining filters keep PyTorch's default init.
- `whiten_first_conv_`: the first convolution's filters start as the eigenvectors of the training
  images' patch covariance, scaled by 1/sqrt(eigenvalue + eps) and paired with their negations,
  so its outputs are decorrelated from the first step. Airbench freezes that layer; here it is
  trained like the others (freezing part of a conv would need a second layer, and another model).
  Airbench's eps, 5e-4, is for images normalised to unit variance; ours are in [0, 1], so eps is
  taken relative to the patches' mean variance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError


@torch.no_grad()
def dirac_(model: nn.Module) -> int:
    """Identity-initialise the first min(in, out) filters of every odd-sized, ungrouped conv; returns how many convs."""
    count = 0
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and module.groups == 1 and all(k % 2 for k in module.kernel_size):
            n = min(module.in_channels, module.out_channels)
            nn.init.dirac_(module.weight[:n])  # a view: writes through to the weight
            count += 1
    return count


@torch.no_grad()
def whiten_first_conv_(model: nn.Module, images: torch.Tensor, eps: float = 5e-4, max_images: int = 5000) -> int:
    """Set the first conv's leading filters to ± the whitening filters of `images`' patches; returns how many filters.

    `images` is (N, C, H, W) float, as the model sees them. The patch covariance is estimated on the
    first `max_images` (airbench uses 5,000). With fewer than 2 x C*k*k filters, the top eigenvectors fill them.
    """
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise UserError("whiten_init needs a model with a convolution; use a CNN (`fashionlab models list`) or drop it.")
    patches = F.unfold(images[:max_images].float(), conv.kernel_size)  # (N, C*k*k, L)
    patches = patches.transpose(1, 2).reshape(-1, patches.shape[1]).double()
    eigenvalues, eigenvectors = torch.linalg.eigh(torch.cov(patches.T))
    order = eigenvalues.argsort(descending=True)
    eps = eps * eigenvalues.mean().clamp_min(1e-12)  # relative to the patches' mean variance, as for unit-variance images
    filters = (eigenvectors[:, order] / torch.sqrt(eigenvalues[order] + eps)).T  # (d, C*k*k), largest variance first
    pairs = min(filters.shape[0], conv.out_channels // 2)
    weights = torch.cat([filters[:pairs], -filters[:pairs]]).view(2 * pairs, *conv.weight.shape[1:])
    conv.weight[: 2 * pairs] = weights.to(conv.weight.device, conv.weight.dtype)  # images may be on the GPU already
    return 2 * pairs
