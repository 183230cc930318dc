"""Mask PNGs: `<id>.png` holding class indices (or class colours) -> segmentation.

Read from DIR/masks/ when it exists (the labelled-folder layout), else DIR/.
Indexed ('P'), greyscale ('L') and 16-bit greyscale PNGs hold class indices
in LABELS order; 255 marks pixels to ignore (stored as -1), as in VOC
(unless LABELS has more than 255 classes). RGB(A)
PNGs hold class colours, looked up in LABELS' palette (alpha is ignored).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dgan_cli.errors import DganError
from dgan_cli.untrusted import read_image
from dgan_cli.annotations import Annotation, Notes
from dgan_plugins.manual.annotation import check_size, files_in
from dgan_plugins.manual.names import LabelNames

IGNORE_INDEX = 255


def read_png_masks(directory: Path, names: LabelNames, image_hw: tuple[int, int],
                   notes: Notes) -> list[Annotation]:
    return [Annotation(path.stem, "segmentation", read_mask(path, names, image_hw), path)
            for path in files_in(directory, (".png",), subfolder="masks")]


def read_mask(path: Path, names: LabelNames, image_hw: tuple[int, int]) -> np.ndarray:
    image = read_image(path, "PNG")
    mode = image.mode
    pixels = np.asarray(image.convert("RGB") if mode in ("RGB", "RGBA") else image)
    check_size(path, pixels.shape[:2], image_hw)
    if pixels.ndim == 3:
        return _from_colours(path, pixels, names)
    if mode not in ("P", "L", "I", "I;16"):
        raise DganError(f"{path}: mask mode '{mode}' is not supported", hint="use indexed, greyscale or RGB PNGs")
    indices = pixels.astype(np.int64)
    known = len(names.classes)
    ignored = indices == IGNORE_INDEX if known <= IGNORE_INDEX else np.zeros(indices.shape, dtype=bool)
    bad = indices[(indices >= known) & ~ignored]
    if bad.size:
        raise DganError(f"{path}: class index {int(bad.min())} is not in {names.path} ({known} classes)")
    return np.where(ignored, -1, indices).astype(np.int16)


def _from_colours(path: Path, rgb: np.ndarray, names: LabelNames) -> np.ndarray:
    palette = names.palette
    if not palette:
        raise DganError(f"{path}: an RGB mask needs a segmentation palette in {names.path}")
    codes = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    lookup = {(r << 16) | (g << 8) | b: index for index, (r, g, b) in enumerate(palette[:len(names.classes)])}
    mask = np.full(codes.shape, -1, dtype=np.int16)
    for code in np.unique(codes):
        if int(code) not in lookup:
            colour = (int(code) >> 16, (int(code) >> 8) & 255, int(code) & 255)
            raise DganError(f"{path}: colour {colour} is not a class colour of {names.path}")
        mask[codes == code] = lookup[int(code)]
    return mask
