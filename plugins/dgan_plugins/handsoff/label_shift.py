"""Moving real per-pixel labels onto the reconstruction G(w) (`dgan invert --label-shift R`).

HandsOff pairs the features of G(w) with the real image's labels, which
assumes G(w) draws every part where the real image has it. An inversion a
few dB short of exact draws an eye or a mouth a pixel off, and the pairs
then teach the interpreter the wrong pixels. For every pixel q of G(w) this
finds the offset d (|dy|, |dx| <= R) whose real-image patch around q + d
best matches G(w)'s patch around q, and gives q the real label at q + d.

Cost of an offset: the squared colour difference (images in [0, 1], summed
over channels) averaged over a WINDOW x WINDOW patch, plus SHIFT_PENALTY per
squared pixel of offset, so that where patches match equally well (flat
regions, or G(w) == x) the label stays where it is. Only label maps of the
image's own size move (segmentation, depth, any plugin's map); keypoints and
other kinds are returned unchanged.
"""
from __future__ import annotations

import numpy as np

WINDOW = 3
SHIFT_PENALTY = 3e-4  # ~20 in 0..255 units: a tie-break for "no offset", far below a part's colour change


def _box_mean(cost: np.ndarray, size: int) -> np.ndarray:
    """Mean over a size x size window of an [N, H, W] array, edges replicated."""
    r = size // 2
    padded = np.pad(cost, ((0, 0), (r, r), (r, r)), mode="edge")
    total = np.zeros_like(cost)
    h, w = cost.shape[1:]
    for dy in range(size):
        for dx in range(size):
            total += padded[:, dy:dy + h, dx:dx + w]
    return total / (size * size)


def match_offsets(real: np.ndarray, recon: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of `recon`, the offset (dy, dx) into `real` whose patch matches best.

    real, recon: uint8 [N, H, W, 3]. Returns two int arrays [N, H, W].
    """
    n, h, w, _ = recon.shape
    x = np.pad(real.astype(np.float64) / 255, ((0, 0), (radius, radius), (radius, radius), (0, 0)), mode="edge")
    y = recon.astype(np.float64) / 255
    best = np.full((n, h, w), np.inf)
    best_dy = np.zeros((n, h, w), dtype=np.int64)
    best_dx = np.zeros((n, h, w), dtype=np.int64)
    # offsets by growing length so that an exact tie keeps the shorter one
    offsets = sorted(((dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)),
                     key=lambda d: (d[0] ** 2 + d[1] ** 2, d))
    for dy, dx in offsets:
        shifted = x[:, radius + dy:radius + dy + h, radius + dx:radius + dx + w]
        cost = _box_mean(((shifted - y) ** 2).sum(-1), WINDOW) + SHIFT_PENALTY * (dy * dy + dx * dx)
        better = cost < best
        best[better], best_dy[better], best_dx[better] = cost[better], dy, dx
    return best_dy, best_dx


def shift_labels(labels: dict, real: np.ndarray, recon: np.ndarray, radius: int) -> dict:
    """`labels` (kind -> [N, ...] array) with every [N, H, W] map moved onto `recon`; others as given."""
    if radius <= 0:
        return labels
    n, h, w, _ = recon.shape
    maps = [kind for kind, values in labels.items() if values.shape[1:] == (h, w)]
    if not maps:
        return labels
    dy, dx = match_offsets(real, recon, radius)
    rows = np.clip(np.arange(h)[None, :, None] + dy, 0, h - 1)
    cols = np.clip(np.arange(w)[None, None, :] + dx, 0, w - 1)
    index = np.arange(n)[:, None, None]
    return {kind: values[index, rows, cols] if kind in maps else values for kind, values in labels.items()}
