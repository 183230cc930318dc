"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for small data sets.

Real and generated images are augmented the same way before the discriminator,
so D cannot memorise a small training set and G is never pushed to reproduce
the augmentations. Every random draw comes from a `torch.Generator` the caller
passes in (CPU), which is what makes a resumed run bit-identical.
"""
from __future__ import annotations

import torch

from dgan_cli.errors import DganError

POLICIES = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125  # shift of up to 1/8 of the image, zero-filled
CUTOUT_RATIO = 0.5  # one square hole of half the image side


def parse_policy(text: str) -> tuple[str, ...]:
    """'color,translation,cutout' -> tuple of names; 'none' or '' -> ()."""
    text = text.strip().lower()
    if text in ("", "none"):
        return ()
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise DganError(
            f"unknown augmentation {unknown[0]!r}",
            hint=f"use 'none' or a comma-separated subset of {','.join(POLICIES)}",
        )
    return names


class DiffAugment:
    """Applies the configured policies in order; an empty policy is the identity."""

    def __init__(self, policy: str):
        self.policies = parse_policy(policy)

    @property
    def policy(self) -> str:
        return ",".join(self.policies) or "none"

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for name in self.policies:
            images = _APPLY[name](images, generator)
        return images


def _uniform(generator: torch.Generator, images: torch.Tensor, *shape: int) -> torch.Tensor:
    """U[0,1) drawn on the CPU generator, moved to the images' device and dtype."""
    return torch.rand(shape, generator=generator).to(images.device, images.dtype)


def _integers(generator: torch.Generator, images: torch.Tensor, low: int, high: int, n: int) -> torch.Tensor:
    return torch.randint(low, high, (n,), generator=generator).to(images.device)


def color(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Per-image brightness (+-0.5), saturation (x0..2) and contrast (x0.5..1.5)."""
    n = images.shape[0]
    images = images + (_uniform(generator, images, n, 1, 1, 1) - 0.5)
    grey = images.mean(dim=1, keepdim=True)
    images = (images - grey) * (_uniform(generator, images, n, 1, 1, 1) * 2) + grey
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return (images - mean) * (_uniform(generator, images, n, 1, 1, 1) + 0.5) + mean


def translation(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Integer shift of each image by up to 1/8 of its size; vacated pixels are 0."""
    n, _, height, width = images.shape
    max_y = int(height * TRANSLATION_RATIO + 0.5)
    max_x = int(width * TRANSLATION_RATIO + 0.5)
    shift_y = _integers(generator, images, -max_y, max_y + 1, n)
    shift_x = _integers(generator, images, -max_x, max_x + 1, n)
    padded = torch.nn.functional.pad(images, (max_x, max_x, max_y, max_y))
    # Output pixel (y, x) reads padded pixel (y + max - shift): a gather, so gradients flow.
    rows = torch.arange(height, device=images.device)[None, :] + (max_y - shift_y)[:, None]
    cols = torch.arange(width, device=images.device)[None, :] + (max_x - shift_x)[:, None]
    batch = torch.arange(n, device=images.device)[:, None, None]
    shifted = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]
    return shifted.permute(0, 3, 1, 2)


def cutout(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Zero one square of half the image side per image; it may hang over the border."""
    n, _, height, width = images.shape
    size_y = int(height * CUTOUT_RATIO + 0.5)
    size_x = int(width * CUTOUT_RATIO + 0.5)
    top = _integers(generator, images, -(size_y // 2), height - size_y // 2, n)
    left = _integers(generator, images, -(size_x // 2), width - size_x // 2, n)
    rows = torch.arange(height, device=images.device)[None, :] - top[:, None]
    cols = torch.arange(width, device=images.device)[None, :] - left[:, None]
    inside_y = (rows >= 0) & (rows < size_y)
    inside_x = (cols >= 0) & (cols < size_x)
    keep = ~(inside_y[:, :, None] & inside_x[:, None, :])
    return images * keep[:, None].to(images.dtype)


_APPLY = {"color": color, "translation": translation, "cutout": cutout}
