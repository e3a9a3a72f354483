"""Batched augmentations on tensors: whole-batch operations, no per-sample Python.

Reproduces the paper's Keras ImageDataGenerator(horizontal_flip=True, zoom_range=0.1): each image
is flipped left-right with probability 1/2, and zoomed by independent factors zx, zy drawn
uniformly from [1 - zoom, 1 + zoom] (Keras draws the two axes independently), with bilinear
interpolation and edge pixels repeated at the border (Keras's fill_mode='nearest').
Random shifts (not in the paper, which found them harmful for its CNNs) and random erasing
(Zhong et al. 2017, also not in the paper) are available for the models beyond it.
"""

from __future__ import annotations

import math

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


def random_erasing(images: torch.Tensor, probability: float, generator: torch.Generator,
                   area: tuple[float, float] = (0.02, 0.4), ratio: tuple[float, float] = (0.3, 1 / 0.3)) -> torch.Tensor:
    """Random erasing (Zhong et al. 2017), their defaults: with `probability`, one rectangle of each
    image is replaced by uniform noise in [0, 1]. Its area is a uniform share `area` of the image,
    its aspect ratio (height / width) log-uniform in `ratio`, its position uniform where it fits.

    Where the paper redraws a rectangle that does not fit (up to 100 times), its sides are clipped
    to the image here: one draw for the whole batch, no per-image loop.
    """
    n, _, height, width = images.shape
    device = images.device
    u = torch.rand(n, 5, generator=generator, device=device)
    erase = u[:, 0] < probability
    target = (area[0] + (area[1] - area[0]) * u[:, 1]) * (height * width)
    aspect = torch.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[:, 2])
    h = torch.sqrt(target * aspect).round().clamp(1, height)
    w = torch.sqrt(target / aspect).round().clamp(1, width)
    top = torch.floor(u[:, 3] * (height - h + 1))
    left = torch.floor(u[:, 4] * (width - w + 1))
    rows = torch.arange(height, device=device)
    cols = torch.arange(width, device=device)
    inside_rows = (rows >= top[:, None]) & (rows < (top + h)[:, None])  # (N, H)
    inside_cols = (cols >= left[:, None]) & (cols < (left + w)[:, None])  # (N, W)
    mask = (inside_rows[:, :, None] & inside_cols[:, None, :] & erase[:, None, None]).unsqueeze(1)
    noise = torch.rand(images.shape, generator=generator, device=device, dtype=images.dtype)
    return torch.where(mask, noise, images)


def augment_batch(images: torch.Tensor, generator: torch.Generator, flip: bool = True, zoom: float = 0.0,
                  shift: int = 0, flips: torch.Tensor | None = None, erasing: float = 0.0) -> torch.Tensor:
    """Augment a float batch (N, C, H, W). Deterministic given the generator's state.

    `flips` (bool, N), when given, says which images to mirror instead of a random draw. `erasing`
    is random erasing's probability per image (0: off), applied last, as in its paper.
    """
    if flips is not None:
        images = torch.where(flips.view(-1, 1, 1, 1), images.flip(-1), images)
    elif flip:
        images = random_flip(images, generator)
    if zoom > 0 or shift > 0:
        images = random_affine(images, zoom, shift, generator)
    if erasing > 0:
        images = random_erasing(images, erasing, generator)
    return images
