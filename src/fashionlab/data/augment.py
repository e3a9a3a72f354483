"""Batched augmentations on tensors: whole-batch operations, no per-sample Python.

Reproduces the paper's Keras ImageDataGenerator(horizontal_flip=True, zoom_range=0.1): each image
is flipped left-right with probability 1/2, and zoomed by independent factors zx, zy drawn
uniformly from [1 - zoom, 1 + zoom] (Keras draws the two axes independently), with bilinear
interpolation and edge pixels repeated at the border (Keras's fill_mode='nearest').
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = torch.rand(images.shape[0], generator=generator, device=images.device) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


def random_zoom(images: torch.Tensor, zoom: float, generator: torch.Generator) -> torch.Tensor:
    n = images.shape[0]
    scale = 1 + (torch.rand(n, 2, generator=generator, device=images.device) * 2 - 1) * zoom
    theta = torch.zeros(n, 2, 3, device=images.device, dtype=images.dtype)
    theta[:, 0, 0] = scale[:, 0]  # output coordinate -> input coordinate: >1 zooms out, as Keras
    theta[:, 1, 1] = scale[:, 1]
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def augment_batch(images: torch.Tensor, generator: torch.Generator, flip: bool = True, zoom: float = 0.0) -> torch.Tensor:
    """Augment a float batch (N, C, H, W). Deterministic given the generator's state."""
    if flip:
        images = random_flip(images, generator)
    if zoom > 0:
        images = random_zoom(images, zoom, generator)
    return images
