"""`dgan show` panels of label kinds the built-in drawings do not cover.

A head whose `HeadSpec.draw` is given draws its own panel (the built-in heads
do). Otherwise the label's shape decides (never a plain grey panel: grey means "this sample has
no label of this kind"):
- [H, W]: the depth colour map (non-finite = black);
- [H, W, 3]: each channel stretched to 0..255 over the sample (normals, flow...);
- [H, W, C], other C: the depth colour map of the per-pixel L2 norm;
- any other shape: a dark panel naming the kind and the shape.
"""
from __future__ import annotations

import numpy as np

from dgan_cli.errors import DganError

TEXT_PANEL = (40, 20, 48)


def plugin_panel(spec, image: np.ndarray, label, entry: dict, scale: int, uncertainty) -> np.ndarray:
    """The head's own drawing, checked: uint8 [H*scale, W*scale, 3]."""
    h, w = image.shape[:2]
    panel = np.asarray(spec.draw(image, label, entry, scale, uncertainty))
    if panel.shape != (h * scale, w * scale, 3) or panel.dtype != np.uint8:
        raise DganError(f"the '{spec.name}' head's draw returned {panel.dtype} {list(panel.shape)}, "
                        f"not uint8 {[h * scale, w * scale, 3]}")
    return panel


def default_panel(kind: str, label, image_hw: tuple[int, int], scale: int) -> np.ndarray:
    """uint8 [H*scale, W*scale, 3] for a label no head draws."""
    from dgan_plugins.heads.draw import depth_panel, scale_up

    h, w = image_hw
    value = np.asarray(label)
    if value.shape == (h, w) and value.dtype.kind in "biuf":
        return scale_up(depth_panel(value), scale)
    if value.ndim == 3 and value.shape[:2] == (h, w) and value.dtype.kind in "biuf":
        if value.shape[2] == 3:
            return scale_up(_stretch(value.astype(np.float64)), scale)
        return scale_up(depth_panel(np.linalg.norm(value.astype(np.float64), axis=-1)), scale)
    return _text_panel(f"{kind}\n{value.dtype} {list(value.shape)}\n(no drawing)", h * scale, w * scale)


def _stretch(value: np.ndarray) -> np.ndarray:
    out = np.zeros(value.shape, np.uint8)
    for c in range(value.shape[2]):
        channel = value[..., c]
        finite = np.isfinite(channel)
        if finite.any():
            lo, hi = channel[finite].min(), channel[finite].max()
            scaled = (channel - lo) / (hi - lo) * 255 if hi > lo else np.full(channel.shape, 128.0)
            out[..., c] = np.where(finite, scaled, 0).round().astype(np.uint8)
    return out


def _text_panel(text: str, height: int, width: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    panel = Image.new("RGB", (width, height), TEXT_PANEL)
    ImageDraw.Draw(panel).multiline_text((3, 3), text, fill=(235, 235, 235))
    return np.asarray(panel)
