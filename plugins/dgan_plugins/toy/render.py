"""Rasterise toy scenes: images, part segmentation, keypoints, depth, class.

Each ellipsoid slot is one vectorised ray/quadric intersection (orthographic
rays along +z) over a window around its silhouette in every sample of the
batch, and a z-buffer keeps the nearest hit. Labels and depth are read at
pixel centres (crisp). With `antialias` the image also samples the pixel
corners and mixes them quincunx-style (centre 1/2, each corner 1/8), which
halves the cost of a 2x2 supersampling and does not shift the image.

Pixel convention: pixel (row i, column j) covers [j, j+1) x [i, i+1); its
centre is (j + 0.5, i + 0.5). Keypoints use the same continuous coordinates.
A keypoint is visible (1) when it lies in the image and the pixel containing
it shows one of its own ellipsoids (its eye, nose, mouth or ear), else 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dgan_plugins.toy.model import (FAR_DEPTH, KEYPOINT_NAMES, KEYPOINT_OWNERS, LATENT_DIM, OBJECT_CLASSES,
                                    PALETTE, PART_CLASSES, SKELETON, SLOT_PART, Scene, sample_scene,
                                    scene_from_latent, seed_latent)

__all__ = ["FAR_DEPTH", "KEYPOINT_NAMES", "LATENT_DIM", "OBJECT_CLASSES", "PALETTE", "PART_CLASSES", "SKELETON",
           "ToySample", "render", "render_batch", "render_latents", "seed_latent"]


@dataclass
class ToySample:
    """One rendered sample; shapes as in `render_batch` without the batch axis."""

    image: np.ndarray         # uint8 [H, W, 3]
    segmentation: np.ndarray  # uint8 [H, W], index into PART_CLASSES
    keypoints: np.ndarray     # float32 [K, 3]: x, y, visible
    depth: np.ndarray         # float32 [H, W], FAR_DEPTH on the background
    object_class: int         # index into OBJECT_CLASSES


def render(seed: int, resolution: int = 64, antialias: bool = True) -> ToySample:
    """Render the sample of one seed (identical to its row in `render_batch`)."""
    out = render_batch([seed], resolution, antialias)
    return ToySample(image=out["images"][0], segmentation=out["segmentation"][0],
                     keypoints=out["keypoints"][0], depth=out["depth"][0],
                     object_class=int(out["class"][0]))


def render_batch(seeds: Sequence[int], resolution: int = 64, antialias: bool = True) -> dict:
    """Render one sample per seed.

    Returns {"images": uint8 [N,H,W,3], "segmentation": uint8 [N,H,W],
    "keypoints": float32 [N,K,3], "depth": float32 [N,H,W], "class": int64 [N]}.
    Each row depends on its own seed only.
    """
    return _render_scenes([sample_scene(int(s), resolution) for s in seeds], resolution, antialias)


def render_latents(latents: np.ndarray, resolution: int = 64, antialias: bool = True) -> dict:
    """Render the world at given latents ([N, LATENT_DIM]), as `render_batch` does at seeds.

    `render_batch([s])` equals `render_latents(seed_latent(s)[None])`: this is
    how a generator is trained on pairs (z, image of z).
    """
    return _render_scenes([scene_from_latent(z, resolution) for z in np.asarray(latents)], resolution, antialias)


def _render_scenes(scenes: list[Scene], resolution: int, antialias: bool) -> dict:
    batch = _stack(scenes)
    centres = _Raster(batch, resolution, shift=0.5)
    colour, coverage = centres.object_colour(), (centres.owner >= 0).astype(np.float32)
    if antialias:
        corners = _Raster(batch, resolution + 1, shift=0.0)
        colour = 0.5 * colour + 0.125 * _corner_sum(corners.object_colour())
        coverage = 0.5 * coverage + 0.125 * _corner_sum((corners.owner >= 0).astype(np.float32))
    # the background is smooth: evaluate it at the centres and mix it in by coverage
    image = colour + (1.0 - coverage)[..., None] * _background(batch, resolution)
    owner = centres.owner
    return {
        "images": np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8),
        "segmentation": np.where(owner >= 0, SLOT_PART[np.maximum(owner, 0)], 0).astype(np.uint8),
        "keypoints": _keypoints(batch, owner, resolution),
        "depth": centres.zbuf.astype(np.float32),
        "class": np.array([s.object_class for s in scenes], np.int64),
    }


def _stack(scenes: list[Scene]) -> dict:
    batch = {key: np.stack([getattr(s, key) for s in scenes]) for key in
             ("centres", "quadrics", "extents", "albedo", "enabled", "keypoints", "light")}
    batch["scale"] = np.array([s.scale for s in scenes])
    batch["centre_px"] = np.array([s.centre_px for s in scenes])
    batch["ambient"] = np.array([s.ambient for s in scenes])
    for key in scenes[0].background:
        batch["bg_" + key] = np.stack([s.background[key] for s in scenes])
    return batch


class _Raster:
    """Z-buffered, shaded ellipsoids of a batch on a square grid of samples.

    Sample k of a row or column sits at pixel coordinate k + shift. Each slot
    is intersected, for all samples at once, over windows of equal size
    around each silhouette, with a margin so that no pixel's result depends
    on the window, hence on the other samples of the batch.
    """

    def __init__(self, batch: dict, size: int, shift: float):
        self.b, self.size, self.shift = batch, size, shift
        n = len(batch["scale"])
        self.zbuf = np.full((n, size, size), FAR_DEPTH)
        self.owner = np.full((n, size, size), -1, np.int16)
        self.lit = np.zeros((n, size, size), np.float32)  # ambient + diffuse factor
        for p in range(batch["centres"].shape[1]):
            self._draw_slot(p)

    def _windows(self, p: int, members: np.ndarray, axis: int):
        """Start and stop sample index of each member's window along x (0) or y (1)."""
        b = self.b
        s, c = b["scale"][members], b["centre_px"][members, axis]
        lo = b["centres"][members, p, axis] - b["extents"][members, p, axis]
        hi = b["centres"][members, p, axis] + b["extents"][members, p, axis]
        if axis == 1:  # image rows grow downwards while y grows upwards
            lo, hi = -hi, -lo
        start = np.floor(c + s * lo - self.shift).astype(int) - 1
        stop = np.ceil(c + s * hi - self.shift).astype(int) + 2
        return np.clip(start, 0, self.size), np.clip(stop, 0, self.size)

    def _draw_slot(self, p: int) -> None:
        b, size = self.b, self.size
        members = np.flatnonzero(b["enabled"][:, p])
        c0, c1 = self._windows(p, members, 0)
        r0, r1 = self._windows(p, members, 1)
        keep = (c1 > c0) & (r1 > r0)
        members, c0, c1, r0, r1 = members[keep], c0[keep], c1[keep], r0[keep], r1[keep]
        if len(members) == 0:
            return
        width, height = int(np.max(c1 - c0)), int(np.max(r1 - r0))
        c0, r0 = np.minimum(c0, size - width), np.minimum(r0, size - height)
        col = (c0[:, None] + np.arange(width))[:, None, :]    # [M, 1, W]
        row = (r0[:, None] + np.arange(height))[:, :, None]   # [M, H, 1]
        s, pix = b["scale"][members, None, None], b["centre_px"][members, None, None]
        cx, cy, cz = (b["centres"][members, p, i, None, None] for i in range(3))
        mzz = b["quadrics"][members, p, 2, 2]
        q = b["quadrics"][members, p] / mzz[:, None, None]
        m = {(i, j): q[:, i, j, None, None] for i in range(3) for j in range(3)}
        # nearest root of (p - c)^T M (p - c) = 1 along the ray, with M / m_zz so that
        # the root is z = cz - half_b - sqrt(disc); per-axis terms stay 1-D until broadcast
        dx = ((col + self.shift) - pix[..., 0]) / s - cx
        dy = (pix[..., 1] - (row + self.shift)) / s - cy
        half_b = m[0, 2] * dx + m[1, 2] * dy
        disc = half_b * half_b
        disc -= (m[0, 0] * dx * dx - 1.0 / mzz[:, None, None]) + dy * (m[1, 1] * dy + 2.0 * m[0, 1] * dx)
        hit = disc >= 0.0
        z = (cz - half_b) - np.sqrt(np.maximum(disc, 0.0, out=disc), out=disc)
        flat = (members[:, None, None] * size + row) * size + col
        win = hit & (z < self.zbuf.reshape(-1)[flat])
        target = flat[win]
        self.zbuf.reshape(-1)[target] = z[win]
        self.owner.reshape(-1)[target] = p
        self.lit.reshape(-1)[target] = self._shade(members, win, q, dx, dy, z - cz)

    def _shade(self, members, win, q, dx, dy, dz) -> np.ndarray:
        """Ambient + Lambert factor at the winning samples; the gradient M (p - c) is the normal."""
        b = self.b
        which = np.broadcast_to(np.arange(len(members))[:, None, None], win.shape)[win]
        d = (np.broadcast_to(dx, win.shape)[win], np.broadcast_to(dy, win.shape)[win], dz[win])
        qw, light, ambient = q[which], b["light"][members][which], b["ambient"][members][which]
        normal = [qw[:, i, 0] * d[0] + qw[:, i, 1] * d[1] + qw[:, i, 2] * d[2] for i in range(3)]
        dot = normal[0] * light[:, 0] + normal[1] * light[:, 1] + normal[2] * light[:, 2]
        norm = np.sqrt(normal[0] * normal[0] + normal[1] * normal[1] + normal[2] * normal[2])
        return ambient + (1.0 - ambient) * np.maximum(dot / norm, 0.0)

    def object_colour(self) -> np.ndarray:
        """Shaded colour where an ellipsoid was hit, 0 elsewhere, float32 [N,H,W,3]."""
        n, slots = self.b["albedo"].shape[:2]
        albedo = np.concatenate([self.b["albedo"], np.zeros((n, 1, 3))], axis=1)
        albedo = albedo.reshape(-1, 3).astype(np.float32)
        index = np.where(self.owner >= 0, self.owner, slots) + (slots + 1) * np.arange(n)[:, None, None]
        return np.stack([np.take(albedo[:, c], index) * self.lit for c in range(3)], axis=-1)


def _corner_sum(values: np.ndarray) -> np.ndarray:
    """Sum of the four corner samples of each pixel, from a (size+1)^2 corner grid."""
    return values[:, :-1, :-1] + values[:, 1:, :-1] + values[:, :-1, 1:] + values[:, 1:, 1:]


def _background(batch: dict, resolution: int) -> np.ndarray:
    """A vertical gradient from the top colour to the bottom one, float [N,H,W,3] at pixel centres."""
    t = ((np.arange(resolution) + 0.5) / resolution)[None, :, None, None]
    top, bottom = batch["bg_top"][:, None, None, :], batch["bg_bottom"][:, None, None, :]
    return np.broadcast_to(top + t * (bottom - top), (len(top), resolution, resolution, 3))


def _keypoints(batch: dict, owner: np.ndarray, resolution: int) -> np.ndarray:
    """Pixel positions of the keypoints and their visibility, float32 [N,K,3]."""
    kp = batch["keypoints"]
    s = batch["scale"][:, None]
    # rounded to float32 first, so that the stored position lies in the tested pixel
    px = (batch["centre_px"][:, 0, None] + s * kp[..., 0]).astype(np.float32)
    py = (batch["centre_px"][:, 1, None] - s * kp[..., 1]).astype(np.float32)
    inside = (px >= 0) & (px < resolution) & (py >= 0) & (py < resolution)
    col = np.clip(np.floor(px).astype(int), 0, resolution - 1)
    row = np.clip(np.floor(py).astype(int), 0, resolution - 1)
    shown = owner[np.arange(len(kp))[:, None], row, col]
    own = np.stack([np.isin(shown[:, k], slots) for k, slots in enumerate(KEYPOINT_OWNERS)], axis=1)
    return np.stack([px, py, (inside & own).astype(np.float32)], axis=-1)
