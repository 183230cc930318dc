"""What a network's output channels mean for each label kind: loss, decoding, scoring.

- segmentation: one logit per class, cross-entropy; target int64 [B,H,W], -1 ignored.
- keypoints: one heatmap per keypoint, trained as a spatial softmax against a
  normalised Gaussian around the labelled point (a cross-entropy between
  distributions; it converges in far fewer steps than an L2 loss on raw
  heatmaps); decoded as the argmax refined by the 3x3 centroid around it.
  Target float32 [B,K,3] (x, y, visibility); invisible keypoints give no loss.
- depth: one channel regressing depth standardised by the training set's
  mean and std, MSE over valid pixels; target float32 [B,H,W], NaN/inf/<=0 invalid.
"""
from __future__ import annotations

import re

import numpy as np
import torch
from torch.nn import functional as F

from dgan_plugins.evaluate.metrics import IGNORE, DepthScore, KeypointScore, SegmentationScore

TASKS = ("segmentation", "keypoints", "depth")


class SegmentationTask:
    kind = "segmentation"

    def __init__(self, names: list[str]):
        self.names = list(names)
        self.channels = len(self.names)

    def loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = F.cross_entropy(out, target, ignore_index=IGNORE, reduction="sum")
        return total / (target != IGNORE).sum().clamp(min=1)

    def new_score(self) -> SegmentationScore:
        return SegmentationScore(self.channels)

    def update(self, score: SegmentationScore, out: torch.Tensor, target: np.ndarray) -> None:
        score.update(out.argmax(1).cpu().numpy(), target)

    def result(self, score: SegmentationScore) -> dict:
        return score.result(self.names)


class KeypointTask:
    kind = "keypoints"

    def __init__(self, names: list[str], sigma: float, pck_norm: str = "image"):
        self.names = list(names)
        self.channels = len(self.names)
        self.sigma, self.pck_norm = sigma, pck_norm

    def loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        b, k, h, w = out.shape
        log_prob = out.reshape(b, k, h * w).log_softmax(-1)
        heat = gaussian_heatmaps(target[..., :2], h, w, self.sigma).reshape(b, k, h * w)
        visible = (target[..., 2] > 0).to(out.dtype)
        per_point = -(heat * log_prob).sum(-1)
        return (per_point * visible).sum() / visible.sum().clamp(min=1)

    def new_score(self) -> KeypointScore:
        return KeypointScore(self.channels, norm=self.pck_norm)

    def update(self, score: KeypointScore, out: torch.Tensor, target: np.ndarray) -> None:
        score.update(decode_heatmaps(out).cpu().numpy(), target, tuple(out.shape[-2:]))

    def result(self, score: KeypointScore) -> dict:
        return score.result(self.names)


class DepthTask:
    kind = "depth"
    channels = 1
    names: list[str] = []

    def __init__(self, mean: float, std: float):
        self.mean, self.std = float(mean), float(std)

    @classmethod
    def fitted(cls, depth: np.ndarray) -> "DepthTask":
        """Standardise with the training set's valid depths."""
        values = depth[np.isfinite(depth) & (depth > 0)].astype(np.float64)
        return cls(values.mean(), max(values.std(), 1e-6))

    def loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        valid = torch.isfinite(target) & (target > 0)
        goal = (torch.where(valid, target, self.mean) - self.mean) / self.std
        sq = (out[:, 0] - goal) ** 2
        return (sq * valid).sum() / valid.sum().clamp(min=1)

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        return out[:, 0] * self.std + self.mean

    def new_score(self) -> DepthScore:
        return DepthScore()

    def update(self, score: DepthScore, out: torch.Tensor, target: np.ndarray) -> None:
        score.update(self.decode(out).cpu().numpy(), target)

    def result(self, score: DepthScore) -> dict:
        return score.result()


def gaussian_heatmaps(xy: torch.Tensor, h: int, w: int, sigma: float) -> torch.Tensor:
    """[B,K,2] pixel positions -> [B,K,H,W] Gaussians summing to 1 (pixel centres at j + 0.5)."""
    xs = torch.arange(w, dtype=xy.dtype, device=xy.device) + 0.5
    ys = torch.arange(h, dtype=xy.dtype, device=xy.device) + 0.5
    gx = -((xs - xy[..., 0:1]) ** 2) / (2 * sigma ** 2)  # [B,K,W]
    gy = -((ys - xy[..., 1:2]) ** 2) / (2 * sigma ** 2)  # [B,K,H]
    log_heat = gy[..., :, None] + gx[..., None, :]
    b, k = xy.shape[:2]
    return log_heat.reshape(b, k, h * w).softmax(-1).reshape(b, k, h, w)


def decode_heatmaps(out: torch.Tensor) -> torch.Tensor:
    """[B,K,H,W] heatmap logits -> [B,K,2] pixel positions (argmax + local 3x3 centroid)."""
    b, k, h, w = out.shape
    prob = out.reshape(b, k, h * w).softmax(-1)
    peak = prob.argmax(-1)
    py, px = peak // w, peak % w
    num_x = torch.zeros(b, k, dtype=prob.dtype, device=prob.device)
    num_y, den = torch.zeros_like(num_x), torch.zeros_like(num_x)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            y, x = py + dy, px + dx
            inside = ((y >= 0) & (y < h) & (x >= 0) & (x < w)).to(prob.dtype)
            p = prob.gather(-1, (y.clamp(0, h - 1) * w + x.clamp(0, w - 1)).unsqueeze(-1))[..., 0] * inside
            num_x += p * (x.to(prob.dtype) + 0.5)
            num_y += p * (y.to(prob.dtype) + 0.5)
            den += p
    return torch.stack([num_x / den, num_y / den], -1)


def mirror_permutation(names: list[str]) -> np.ndarray:
    """Index map swapping names that differ only by left <-> right (identity elsewhere)."""
    index = {name: i for i, name in enumerate(names)}
    perm = np.arange(len(names))
    for i, name in enumerate(names):
        swapped = _swap_sides(name)
        if swapped != name and swapped in index:
            perm[i] = index[swapped]
    return perm


def _swap_sides(name: str) -> str:
    def other(match: re.Match) -> str:
        word = match.group(0)
        new = "right" if word.lower() == "left" else "left"
        return new.upper() if word.isupper() else new.capitalize() if word[0].isupper() else new

    # whole words only: "left_eye", "mouth-left", "Left Eye", but not "cleft"
    return re.sub(r"(?i)(?<![a-z])(left|right)(?![a-z])", other, name)
