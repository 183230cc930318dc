"""Bringing real images and their labels onto the generator's square pixel grid.

Policies (`--resize`):
- crop (default): scale so the short side equals the resolution R, keep the
  centred R x R square (the long side loses equal margins);
- fit: scale each axis to R independently (the whole image is kept; a
  non-square image is stretched);
- refuse: any image that is not already R x R is an error.

The transform maps a source box (x0, y0, x1, y1) in continuous pixel
coordinates (pixel (row i, col j) covers [j, j+1) x [i, i+1)) onto [0, R)^2.
Images are resampled with Lanczos (antialiased) over that box. Label maps
(segmentation, depth) take the source pixel under each output pixel's
centre (nearest; no blending of classes or of depths across edges).
Keypoints move with the same affine map; those that land outside the image
become not visible. Images already R x R are copied unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from dgan_cli.errors import DganError

POLICIES = ("crop", "fit", "refuse")


@dataclass(frozen=True)
class Placement:
    """Source box (x0, y0, x1, y1) of an H x W image that becomes the size x size output."""

    box: tuple[float, float, float, float]
    size: int
    source_hw: tuple[int, int]

    @property
    def is_identity(self) -> bool:
        h, w = self.source_hw
        return self.box == (0.0, 0.0, float(w), float(h)) and (h, w) == (self.size, self.size)


def placement(source_hw: tuple[int, int], size: int, policy: str, name: str = "image") -> Placement:
    h, w = int(source_hw[0]), int(source_hw[1])
    if policy not in POLICIES:
        raise DganError(f"--resize must be one of {', '.join(POLICIES)}, got '{policy}'")
    if policy == "refuse" and (h, w) != (size, size):
        raise DganError(f"{name}: {w}x{h} pixels, the generator makes {size}x{size}",
                        hint="resize it, or pass --resize crop or --resize fit")
    if policy == "crop":
        side = min(h, w)
        x0, y0 = (w - side) / 2, (h - side) / 2
        return Placement((x0, y0, x0 + side, y0 + side), size, (h, w))
    return Placement((0.0, 0.0, float(w), float(h)), size, (h, w))


def align_image(image: np.ndarray, where: Placement) -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [R, R, 3]."""
    if where.is_identity:
        return np.array(image, dtype=np.uint8, copy=True)
    out = Image.fromarray(np.ascontiguousarray(image, np.uint8)).resize(
        (where.size, where.size), resample=Image.Resampling.LANCZOS, box=where.box)
    return np.asarray(out, dtype=np.uint8)


def _centre_indices(start: float, stop: float, size: int, limit: int) -> np.ndarray:
    centres = start + (np.arange(size) + 0.5) * (stop - start) / size
    return np.clip(np.floor(centres).astype(np.int64), 0, limit - 1)


def align_map(values: np.ndarray, where: Placement) -> np.ndarray:
    """A per-pixel label map [H, W] sampled at the output pixel centres -> [R, R] (same dtype)."""
    x0, y0, x1, y1 = where.box
    rows = _centre_indices(y0, y1, where.size, values.shape[0])
    cols = _centre_indices(x0, x1, where.size, values.shape[1])
    return np.ascontiguousarray(values[rows[:, None], cols[None, :]])


def align_keypoints(points: np.ndarray, where: Placement) -> np.ndarray:
    """[K, 3] (x, y, visible) -> the same in output pixels; points outside become not visible."""
    x0, y0, x1, y1 = where.box
    out = np.array(points, dtype=np.float32, copy=True)
    out[:, 0] = (out[:, 0] - x0) * where.size / (x1 - x0)
    out[:, 1] = (out[:, 1] - y0) * where.size / (y1 - y0)
    inside = (out[:, 0] >= 0) & (out[:, 0] < where.size) & (out[:, 1] >= 0) & (out[:, 1] < where.size)
    out[:, 2] = np.where(inside, out[:, 2], 0)
    return out
