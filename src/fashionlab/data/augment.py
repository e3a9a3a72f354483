"""Batched augmentations on tensors: whole-batch operations, no per-sample Python.

Reproduces the paper's Keras ImageDataGenerator(horizontal_flip=True, zoom_range=0.1): each image
is flipped left-right with probability 1/2, and zoomed by independent factors zx, zy drawn
uniformly from [1 - zoom, 1 + zoom] (Keras draws the two axes independently), with bilinear
interpolation and edge pixels repeated at the border (Keras's fill_mode='nearest').
Random shifts (not in the paper, which found them harmful for its CNNs) are available for the
models beyond it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flip = torch.rand(images.shape[0], generator=generator, device=images.device) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


def random_affine(images: torch.Tensor, zoom: float, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Independent x/y zoom in [1 - zoom, 1 + zoom] and whole-pixel shifts of up to `shift`, in one resampling."""
    n, _, height, width = images.shape
    theta = torch.zeros(n, 2, 3, device=images.device, dtype=images.dtype)
    scale = 1 + (torch.rand(n, 2, generator=generator, device=images.device) * 2 - 1) * zoom
    theta[:, 0, 0] = scale[:, 0]  # output coordinate -> input coordinate: >1 zooms out, as Keras
    theta[:, 1, 1] = scale[:, 1]
    if shift:
        pixels = torch.randint(-shift, shift + 1, (n, 2), generator=generator, device=images.device)
        theta[:, 0, 2] = pixels[:, 0] * (2 / width)  # normalised coordinates span 2 across the image
        theta[:, 1, 2] = pixels[:, 1] * (2 / height)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def augment_batch(images: torch.Tensor, generator: torch.Generator, flip: bool = True, zoom: float = 0.0,
                  shift: int = 0, flips: torch.Tensor | None = None) -> torch.Tensor:
    """Augment a float batch (N, C, H, W). Deterministic given the generator's state.

    `flips` (bool, N), when given, says which images to mirror instead of a random draw.
    """
    if flips is not None:
        images = torch.where(flips.view(-1, 1, 1, 1), images.flip(-1), images)
    elif flip:
        images = random_flip(images, generator)
    if zoom > 0 or shift > 0:
        images = random_affine(images, zoom, shift, generator)
    return images
