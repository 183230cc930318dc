"""Per-pixel features on demand, without upsampling whole feature maps.

Bilinear upsampling (PyTorch's `interpolate(mode="bilinear",
align_corners=False)`) is separable and linear, so the feature vector of
output pixel (y, x) mixes at most 2x2 source cells, and an output tile is
`A_y @ f @ A_x^T` with small interpolation matrices. Both give exactly what
a full upsample would at those pixels, at a cost proportional to the pixels
asked for.
"""
from __future__ import annotations

import numpy as np


def axis_taps(out_idx: np.ndarray, in_size: int, out_size: int):
    """Source indices (i0, i1) and weight of i1 for output indices on one axis."""
    scale = in_size / out_size
    src = np.maximum((np.asarray(out_idx, dtype=np.float64) + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    return i0, i1, (src - i0).astype(np.float32)


def interp_matrix(in_size: int, out_size: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Dense [stop-start, in_size] matrix of the upsampling weights for output rows start:stop."""
    stop = out_size if stop is None else stop
    rows = np.arange(start, stop)
    i0, i1, w1 = axis_taps(rows, in_size, out_size)
    m = np.zeros((len(rows), in_size), dtype=np.float32)
    np.add.at(m, (np.arange(len(rows)), i0), 1.0 - w1)
    np.add.at(m, (np.arange(len(rows)), i1), w1)
    return m


def sample_points(fmap: np.ndarray, ys: np.ndarray, xs: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Upsampled features of one map [C, h, w] at pixels (ys, xs) of an out_hw image -> [P, C]."""
    _, h, w = fmap.shape
    y0, y1, wy = axis_taps(ys, h, out_hw[0])
    x0, x1, wx = axis_taps(xs, w, out_hw[1])
    f = fmap.astype(np.float32, copy=False)
    top = f[:, y0, x0] * (1 - wx) + f[:, y0, x1] * wx
    bottom = f[:, y1, x0] * (1 - wx) + f[:, y1, x1] * wx
    return (top * (1 - wy) + bottom * wy).T


def sample_tile(fmap: np.ndarray, out_hw: tuple[int, int], y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Upsampled features of one map [C, h, w] over the tile [y0:y1, x0:x1] -> [C, y1-y0, x1-x0]."""
    _, h, w = fmap.shape
    ay = interp_matrix(h, out_hw[0], y0, y1)
    ax = interp_matrix(w, out_hw[1], x0, x1)
    return np.einsum("yh,chw,xw->cyx", ay, fmap.astype(np.float32, copy=False), ax, optimize=True)
