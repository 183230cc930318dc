"""The `keypoints` head: one Gaussian heatmap per keypoint, L2 loss, ensemble mean.

Labels are float32 [K, 3] rows (x, y, visibility) in continuous pixel
coordinates: pixel (row i, column j) covers [j, j+1) x [i, i+1), its centre
is (j + 0.5, i + 0.5) (the toy renderer's convention). The training target
of keypoint k at a pixel is exp(-d^2 / (2 sigma^2)), d the distance from the
pixel centre to the keypoint; an invisible keypoint's heatmap is all zeros.

Training pixels: `near_fraction` of the budget lies within 3 sigma of the
visible keypoints (so the peaks are learnt), the rest is uniform.

Decoding: the ensemble's mean heatmap; each keypoint at its peak pixel plus a
sub-pixel offset from a quadratic fit to the log-heatmap across the peak's
neighbours (exact for a Gaussian); visible when the peak reaches
`visibility_threshold`. Uncertainty map: the members' heatmap variance,
summed over keypoints.
"""
from __future__ import annotations

import numpy as np

from dgan_cli import hookimpl
from dgan_cli.specs import HeadSpec
from dgan_plugins.heads.draw import draw_keypoints
from dgan_plugins.heads.evaluation import keypoints_evaluation


class KeypointsHead:
    name = "keypoints"

    def __init__(self, label_names, sigma: float = 2.0, visibility_threshold: float = 0.5,
                 near_fraction: float = 0.5):
        self.label_names = [str(n) for n in label_names]
        if not self.label_names:
            raise ValueError("keypoints needs the keypoint names")
        if not sigma > 0 or not 0 <= near_fraction <= 1:
            raise ValueError("sigma must be positive and near_fraction in [0, 1]")
        self.num_outputs = len(self.label_names)
        self.sigma, self.visibility_threshold = float(sigma), float(visibility_threshold)
        self.near_fraction = float(near_fraction)

    def label_schema(self, image_hw):
        from dgan_cli.cache import LabelSchema

        return LabelSchema(shape=(self.num_outputs, 3), dtype="float32", fill=0,
                           attrs={"names": self.label_names, "columns": ["x", "y", "visible"],
                                  "coordinates": "pixels; pixel (i, j) has its centre at (j + 0.5, i + 0.5)"})

    def _visible(self, label) -> np.ndarray:
        label = np.asarray(label, dtype=np.float64)
        return label[(label[:, 2] > 0) & np.isfinite(label[:, :2]).all(1), :2]

    def sample_pixels(self, label, n, rng, image_hw):
        height, width = image_hw
        if n >= height * width:
            ys, xs = np.divmod(np.arange(height * width), width)
            return ys, xs
        chosen = []
        points = self._visible(label)
        radius = 3 * self.sigma
        per_point = int(n * self.near_fraction) // max(1, len(points))
        for x, y in points:
            y0, y1 = max(0, int(np.floor(y - radius))), min(height, int(np.ceil(y + radius)))
            x0, x1 = max(0, int(np.floor(x - radius))), min(width, int(np.ceil(x + radius)))
            if y1 <= y0 or x1 <= x0 or per_point == 0:
                continue
            window = (np.arange(y0, y1)[:, None] * width + np.arange(x0, x1)[None]).ravel()
            chosen.append(rng.choice(window, size=min(per_point, window.size), replace=False))
        chosen = np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, np.int64)
        rest = np.setdiff1d(np.arange(height * width), chosen)
        extra = rng.choice(rest, size=max(0, n - len(chosen)), replace=False)
        ys, xs = np.divmod(np.sort(np.concatenate([chosen, extra])), width)
        return ys, xs

    def pixel_targets(self, label, ys, xs):
        label = np.asarray(label, dtype=np.float64)
        cx, cy = np.asarray(xs, np.float64) + 0.5, np.asarray(ys, np.float64) + 0.5
        d2 = (cx[:, None] - label[None, :, 0]) ** 2 + (cy[:, None] - label[None, :, 1]) ** 2
        heat = np.exp(-d2 / (2 * self.sigma ** 2))
        visible = (label[:, 2] > 0) & np.isfinite(label[:, :2]).all(1)
        return np.where(visible[None], np.nan_to_num(heat), 0.0).astype(np.float32)

    def loss(self, outputs, targets):
        import torch.nn.functional as F

        return F.mse_loss(outputs, targets)

    def metrics(self, outputs, targets):
        peak = targets > 0.5  # pixels near a visible keypoint
        near = float((outputs[peak] - targets[peak]).abs().mean()) if peak.any() else 0.0
        return {"heat_mse": float(((outputs - targets) ** 2).mean()), "peak_abs_error": near}

    def combine(self, outputs):
        outputs = outputs.float()
        heat = outputs.mean(0)  # [K, H, W]
        spread = outputs - heat  # in place below: var() would allocate several [M, K, H, W] temporaries
        spread.square_()
        uncertainty = spread.mean(0).sum(0)
        return self.decode(heat.cpu().numpy()), uncertainty.cpu().numpy().astype(np.float32)

    def decode(self, heat: np.ndarray) -> np.ndarray:
        """Heatmaps [K, H, W] -> float32 [K, 3] (x, y, visible)."""
        k, height, width = heat.shape
        out = np.zeros((k, 3), np.float32)
        for i in range(k):
            row, col = np.unravel_index(int(np.argmax(heat[i])), (height, width))
            peak = float(heat[i, row, col])
            dx = _offset(heat[i, row, col - 1] if col > 0 else None, peak,
                         heat[i, row, col + 1] if col + 1 < width else None)
            dy = _offset(heat[i, row - 1, col] if row > 0 else None, peak,
                         heat[i, row + 1, col] if row + 1 < height else None)
            out[i] = (col + 0.5 + dx, row + 0.5 + dy, float(peak >= self.visibility_threshold))
        return out

    def config(self):
        return {"sigma": self.sigma, "visibility_threshold": self.visibility_threshold,
                "near_fraction": self.near_fraction}


def _offset(left, centre, right) -> float:
    """Sub-pixel peak offset in [-0.5, 0.5] from a parabola through the log-values of three neighbours."""
    if left is None or right is None or centre <= 0:
        return 0.0
    eps = 1e-6 * centre
    l, c, r = np.log(max(float(left), eps)), np.log(centre), np.log(max(float(right), eps))
    curvature = l - 2 * c + r
    if curvature >= 0:
        return 0.0
    return float(np.clip(0.5 * (l - r) / curvature, -0.5, 0.5))


def build(label_names=(), **options):
    return KeypointsHead(label_names, **options)


@hookimpl
def dgan_heads():
    return [HeadSpec(name="keypoints", build=build, draw=draw_keypoints, evaluation=keypoints_evaluation,
                     summary="Keypoints: Gaussian heatmaps, L2 loss, ensemble mean, sub-pixel peaks")]
