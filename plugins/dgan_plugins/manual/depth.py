"""Depth maps: `<id>.npy` (float, NaN = unlabelled) or 16-bit `<id>.png` -> float32 [H, W].

Read from DIR/depth/ when it exists (the labelled-folder layout), else DIR/.
A PNG value v means depth v / png_scale (LABELS' depth entry, as the labelled
folder writes it: v = round(depth * png_scale)); 0 means unlabelled (NaN), the
usual "no reading" of depth sensors. When a sample has both, the .npy wins
(it is exact; the PNG is rounded). Where LABELS' depth entry has a `far`
plane, depth at or beyond it is unlabelled too: the labelled folder's
meaning, under which `dgan eval` scores no pixel there, so no interpreter
should learn one.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dgan_cli.errors import DganError
from dgan_cli.labelled_folder import beyond_far_unlabelled
from dgan_cli.untrusted import read_image, read_npy
from dgan_cli.annotations import Annotation, Notes
from dgan_plugins.manual.annotation import check_size, files_in
from dgan_plugins.manual.names import LabelNames


def read_depth(directory: Path, names: LabelNames, image_hw: tuple[int, int],
                   notes: Notes) -> list[Annotation]:
    chosen: dict[str, Path] = {}
    far = names.depth_far
    for path in files_in(directory, (".npy", ".png"), subfolder="depth"):
        if path.stem not in chosen or path.suffix.lower() == ".npy":
            chosen[path.stem] = path
    found = []
    for sample_id, path in sorted(chosen.items()):
        depth = _read_npy(path) if path.suffix.lower() == ".npy" else _read_png(path, names)
        check_size(path, depth.shape, image_hw)
        found.append(Annotation(sample_id, "depth", beyond_far_unlabelled(depth, far), path))
    return found


def _read_npy(path: Path) -> np.ndarray:
    depth = read_npy(path, "depth map")
    if depth.ndim != 2 or depth.dtype.kind not in "fiu":
        raise DganError(f"{path}: expected a 2-D numeric depth map, got {depth.dtype} {list(depth.shape)}")
    depth = depth.astype(np.float32)
    if np.isinf(depth).any():
        raise DganError(f"{path}: infinite depth values (use NaN for unlabelled pixels)")
    return depth


def _read_png(path: Path, names: LabelNames) -> np.ndarray:
    scale = names.depth_png_scale
    image = read_image(path, "PNG")
    if image.mode not in ("I;16", "I;16B", "I"):
        raise DganError(f"{path}: depth PNGs must be 16-bit greyscale, got mode '{image.mode}'")
    values = np.asarray(image).astype(np.float32)
    return np.where(values == 0, np.nan, values / np.float32(scale)).astype(np.float32)
