"""How the built-in heads draw their labels for `dgan show` (their `HeadSpec.draw`).

- segmentation: the palette's colours over the image (labels.json palette, else
  the VOC bit-interleaved one); ignored pixels (-1) show the image;
- keypoints: dots with the skeleton, names when panels are at least
  NAME_MIN_PX tall; hollow dots = labelled but not visible;
- depth: a colour map (near = yellow, far = dark blue; unlabelled = black; a far
  plane covering over a tenth of the image gets the far colour and the range
  is stretched over the rest).
Each returns uint8 [H*scale, W*scale, 3].
"""
from __future__ import annotations

import numpy as np

NAME_MIN_PX = 160
# Anchor colours of the depth map, near -> far.
DEPTH_STOPS = np.array([[253, 231, 37], [94, 201, 98], [33, 145, 140], [59, 82, 139], [68, 1, 84]], dtype=np.float64)


def draw_segmentation(image, label, entry: dict, scale: int, uncertainty=None) -> np.ndarray:
    return scale_up(segmentation_panel(image, label, entry), scale)


def draw_keypoints(image, label, entry: dict, scale: int, uncertainty=None) -> np.ndarray:
    from PIL import Image

    return np.asarray(keypoints_panel(Image.fromarray(scale_up(image, scale)), label, entry, scale))


def draw_depth(image, label, entry: dict, scale: int, uncertainty=None) -> np.ndarray:
    return scale_up(depth_panel(label), scale)


def class_palette(entry: dict, count: int) -> np.ndarray:
    """uint8 [count, 3]: the LABELS palette, else the VOC bit-interleaved palette (distinct, stable)."""
    given = entry.get("palette") or []
    colours = []
    for index in range(count):
        if index < len(given):
            colours.append(given[index])
            continue
        r = g = b = 0
        c = index
        for bit in range(8):
            r |= ((c >> 0) & 1) << (7 - bit)
            g |= ((c >> 1) & 1) << (7 - bit)
            b |= ((c >> 2) & 1) << (7 - bit)
            c >>= 3
        colours.append((r, g, b))
    return np.asarray(colours, dtype=np.uint8).reshape(-1, 3)


def segmentation_panel(image: np.ndarray, mask: np.ndarray, entry: dict) -> np.ndarray:
    mask = np.asarray(mask).astype(np.int64)
    palette = class_palette(entry, max(int(mask.max()) + 1, len(entry.get("classes", [])), 1))
    tinted = 0.4 * image + 0.6 * palette[np.clip(mask, 0, None)]
    return np.where((mask >= 0)[..., None], tinted, image).round().astype(np.uint8)


def depth_panel(depth: np.ndarray) -> np.ndarray:
    depth = np.asarray(depth, dtype=np.float64)
    finite = np.isfinite(depth)
    out = np.zeros(depth.shape + (3,), dtype=np.uint8)
    if finite.any():
        values = depth[finite]
        lo, hi = values.min(), values.max()
        inner = values[values < hi]
        if inner.size and (values == hi).mean() > 0.1:  # a far plane (background): stretch the object
            hi = inner.max()
        t = np.clip((values - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros(values.size)
        pos = t * (len(DEPTH_STOPS) - 1)
        out[finite] = np.stack([np.interp(pos, np.arange(len(DEPTH_STOPS)), DEPTH_STOPS[:, c])
                                for c in range(3)], -1).round().astype(np.uint8)
    return out


def scale_up(panel: np.ndarray, scale: int) -> np.ndarray:
    return np.repeat(np.repeat(panel, scale, axis=0), scale, axis=1)


def keypoints_panel(panel, keypoints: np.ndarray, entry: dict, scale: int):
    """Draw on a scaled-up PIL image; keypoints are in source pixels (pixel centres at +0.5)."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(panel)
    names = entry.get("names", [])
    colours = class_palette({}, len(keypoints) + 1)[1:]
    xy = np.asarray(keypoints, dtype=np.float64)[:, :2] * scale
    visible = np.asarray(keypoints)[:, 2] > 0
    labelled = visible | (np.asarray(keypoints)[:, :2] != 0).any(1)
    for a, b in entry.get("skeleton", []):
        if a < len(xy) and b < len(xy) and visible[a] and visible[b]:
            draw.line([tuple(xy[a]), tuple(xy[b])], fill=(255, 255, 255), width=max(1, scale // 3))
    radius = max(1.5, scale * 0.8)
    for k in np.flatnonzero(labelled):
        x, y = xy[k]
        colour = tuple(int(c) for c in colours[k])
        box = [x - radius, y - radius, x + radius, y + radius]
        draw.ellipse(box, fill=colour if visible[k] else None, outline=colour, width=1)
        if panel.height >= NAME_MIN_PX and k < len(names):
            draw.text((x + radius + 1, y - radius), names[k], fill=colour)
    return panel
