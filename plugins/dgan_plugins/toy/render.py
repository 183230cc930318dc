"""Rasterise toy scenes: images, part segmentation, keypoints, depth, class.

Each ellipsoid is one vectorised ray/quadric intersection (orthographic rays
along +z) over the pixels of its projected bounding box, and a z-buffer keeps
the nearest hit. Labels and depth are sampled once at pixel centres (crisp);
the image is supersampled for antialiasing. Samples are rendered one by one,
so a row never depends on the other seeds of its batch.

Pixel convention: pixel (row i, column j) covers [j, j+1) x [i, i+1); its
centre is (j + 0.5, i + 0.5). Keypoints use the same continuous coordinates.
A keypoint is visible (1) when it lies in the image and the pixel containing
it shows one of its own ellipsoids (its eye, nose, mouth or ear), else 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dgan_plugins.toy.model import (FAR_DEPTH, KEYPOINT_NAMES, KEYPOINT_OWNERS, OBJECT_CLASSES,
                                    PALETTE, PART_CLASSES, SKELETON, SLOT_PART, Scene, sample_scene)

__all__ = ["FAR_DEPTH", "KEYPOINT_NAMES", "OBJECT_CLASSES", "PALETTE", "PART_CLASSES", "SKELETON",
           "ToySample", "render", "render_batch"]


@dataclass
class ToySample:
    """One rendered sample; shapes as in `render_batch` without the batch axis."""

    image: np.ndarray         # uint8 [H, W, 3]
    segmentation: np.ndarray  # uint8 [H, W], index into PART_CLASSES
    keypoints: np.ndarray     # float32 [K, 3]: x, y, visible
    depth: np.ndarray         # float32 [H, W], FAR_DEPTH on the background
    object_class: int         # index into OBJECT_CLASSES


def render(seed: int, resolution: int = 64, supersample: int = 2) -> ToySample:
    """Render the sample of one seed (identical to its row in `render_batch`)."""
    out = render_batch([seed], resolution, supersample)
    return ToySample(image=out["images"][0], segmentation=out["segmentation"][0],
                     keypoints=out["keypoints"][0], depth=out["depth"][0],
                     object_class=int(out["class"][0]))


def render_batch(seeds: Sequence[int], resolution: int = 64, supersample: int = 2) -> dict:
    """Render one sample per seed.

    Returns {"images": uint8 [N,H,W,3], "segmentation": uint8 [N,H,W],
    "keypoints": float32 [N,K,3], "depth": float32 [N,H,W], "class": int64 [N]}.
    Each row depends on its own seed only.
    """
    rows = [_render_scene(sample_scene(int(s), resolution), resolution, supersample) for s in seeds]
    return {key: np.stack([r[key] for r in rows]) for key in
            ("images", "segmentation", "keypoints", "depth", "class")}


def _render_scene(scene: Scene, resolution: int, supersample: int) -> dict:
    coarse = _Raster(scene, resolution, 1, shade=supersample == 1)
    fine = coarse if supersample == 1 else _Raster(scene, resolution, supersample, shade=True)
    coarse.draw()
    if fine is not coarse:
        fine.draw()
    # the background is smooth: evaluate it once per pixel and mix it in by coverage
    colour, coverage = _box_down(fine.object_colour(), supersample), _box_down(fine.owner >= 0, supersample)
    image = colour + (1.0 - coverage)[..., None] * _background(scene.background, resolution)
    owner = coarse.owner
    return {
        "images": np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8),
        "segmentation": np.where(owner >= 0, SLOT_PART[np.maximum(owner, 0)], 0).astype(np.uint8),
        "keypoints": _keypoints(scene, owner, resolution),
        "depth": coarse.zbuf.astype(np.float32),
        "class": np.int64(scene.object_class),
    }


class _Raster:
    """Z-buffered ellipsoids on one sample grid (`factor` samples per pixel side)."""

    def __init__(self, scene: Scene, resolution: int, factor: int, shade: bool):
        self.scene, self.shade = scene, shade
        size = resolution * factor
        pos = (np.arange(size) + 0.5) / factor  # sample positions in pixels
        cx, cy = scene.centre_px
        self.x = (pos - cx) / scene.scale        # camera-space units, per column
        self.y = (cy - pos) / scene.scale        # per row (y up)
        self.zbuf = np.full((size, size), FAR_DEPTH)
        self.owner = np.full((size, size), -1, np.int16)
        self.diffuse = np.zeros((size, size))

    def draw(self) -> None:
        sc = self.scene
        # pixel window of each silhouette (x grows with columns, y falls with rows)
        lo, hi = sc.centres[:, :2] - sc.extents, sc.centres[:, :2] + sc.extents
        col0 = np.searchsorted(self.x, lo[:, 0])
        col1 = np.searchsorted(self.x, hi[:, 0], side="right")
        row0 = np.searchsorted(-self.y, -hi[:, 1])
        row1 = np.searchsorted(-self.y, -lo[:, 1], side="right")
        for p in np.flatnonzero(sc.enabled & (col1 > col0) & (row1 > row0)):
            self._draw_slot(p, slice(row0[p], row1[p]), slice(col0[p], col1[p]))

    def _draw_slot(self, p: int, rows: slice, cols: slice) -> None:
        sc = self.scene
        (cx, cy, cz), m = sc.centres[p], sc.quadrics[p] / sc.quadrics[p, 2, 2]
        # nearest root z of (p - c)^T M (p - c) = 1 along the ray; M scaled so m_zz = 1,
        # per-axis terms computed on the row / column vectors before broadcasting
        dx, dy = self.x[None, cols] - cx, self.y[rows, None] - cy
        half_b = m[0, 2] * dx + m[1, 2] * dy
        disc = half_b * half_b
        disc -= (m[0, 0] * dx * dx - 1.0 / sc.quadrics[p, 2, 2]) + m[1, 1] * dy * dy
        disc -= (2.0 * m[0, 1] * dx) * dy
        hit = disc >= 0.0
        z = (cz - half_b) - np.sqrt(np.maximum(disc, 0.0, out=disc), out=disc)
        zbuf = self.zbuf[rows, cols]
        win = hit & (z < zbuf)
        zbuf[win] = z[win]
        self.owner[rows, cols][win] = p
        if self.shade:
            # the quadric's gradient M (p - c) is the outward normal
            d = np.stack([np.broadcast_to(dx, win.shape)[win], np.broadcast_to(dy, win.shape)[win],
                          z[win] - cz])
            normal = m @ d
            lambert = (sc.light @ normal) / np.sqrt(np.einsum("ij,ij->j", normal, normal))
            self.diffuse[rows, cols][win] = np.maximum(lambert, 0.0)

    def object_colour(self) -> np.ndarray:
        """Lambert-shaded colour where an ellipsoid was hit, 0 elsewhere, float [H,W,3]."""
        sc = self.scene
        albedo = np.vstack([sc.albedo, np.zeros((1, 3))])  # owner -1 -> black
        return albedo[self.owner] * (sc.ambient + (1.0 - sc.ambient) * self.diffuse)[..., None]


def _box_down(values: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor blocks (the supersampling filter)."""
    if factor == 1:
        return values.astype(np.float64)
    total = sum(values[i::factor, j::factor].astype(np.float64) for i in range(factor) for j in range(factor))
    return total / (factor * factor)


def _background(bg: dict, resolution: int) -> np.ndarray:
    """A few soft colour waves over a base colour, float [H,W,3] at pixel centres."""
    pos = 2 * np.pi * (np.arange(resolution) + 0.5) / resolution
    img = np.broadcast_to(bg["base"], (resolution, resolution, 3)).copy()
    for w in bg["waves"]:
        # sin(a u + b v + phi) from separable outer products
        su, cu = np.sin(w["fx"] * pos), np.cos(w["fx"] * pos)
        sv, cv = np.sin(w["fy"] * pos + w["phase"]), np.cos(w["fy"] * pos + w["phase"])
        wave = np.tanh(w["sharp"] * (sv[:, None] * cu[None, :] + cv[:, None] * su[None, :]))
        img += (wave / np.tanh(w["sharp"]))[..., None] * w["colour"]
    return img


def _keypoints(scene: Scene, owner: np.ndarray, resolution: int) -> np.ndarray:
    """Pixel positions of the keypoints and their visibility, float32 [K,3]."""
    kp = scene.keypoints
    px = scene.centre_px[0] + scene.scale * kp[:, 0]
    py = scene.centre_px[1] - scene.scale * kp[:, 1]
    inside = (px >= 0) & (px < resolution) & (py >= 0) & (py < resolution)
    col = np.clip(np.floor(px).astype(int), 0, resolution - 1)
    row = np.clip(np.floor(py).astype(int), 0, resolution - 1)
    shown = owner[row, col]
    own = np.array([shown[k] in slots for k, slots in enumerate(KEYPOINT_OWNERS)])
    return np.stack([px, py, (inside & own).astype(np.float64)], axis=-1).astype(np.float32)
