"""Test-set metrics, accumulated batch by batch (numpy only).

Conventions (see docs/evaluation.md):
- segmentation: intersections and unions are summed over the whole test set,
  then IoU is averaged over classes, background included (as the reference
  DatasetGAN/HandsOff evaluation). A class with an empty union (absent from
  both labels and predictions everywhere) has no IoU and is left out of the
  mean. Target pixels equal to `IGNORE` are skipped.
- keypoints: PCK@t counts a visible ground-truth keypoint as correct when the
  prediction is within t * norm pixels; norm is max(H, W) of the image
  ("image") or the longer side of the box around the visible ground-truth
  keypoints ("bbox"). Invisible keypoints are not scored.
- depth: MSE, RMSE and AbsRel over every valid pixel of the test set (finite
  and > 0), each pixel weighing the same.
"""
from __future__ import annotations

import numpy as np

IGNORE = -1
PCK_THRESHOLDS = (0.05, 0.1)


class SegmentationScore:
    """Confusion matrix over a test set -> per-class IoU and mIoU."""

    def __init__(self, num_classes: int):
        self.num_classes = num_classes
        self.confusion = np.zeros((num_classes, num_classes), np.int64)  # [target, prediction]

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        keep = target != IGNORE
        t, p = target[keep].astype(np.int64), pred[keep].astype(np.int64)
        self.confusion += np.bincount(t * self.num_classes + p,
                                      minlength=self.num_classes ** 2).reshape(self.confusion.shape)

    def iou(self) -> np.ndarray:
        """IoU per class; NaN where the class is in neither labels nor predictions."""
        inter = np.diag(self.confusion).astype(np.float64)
        union = self.confusion.sum(0) + self.confusion.sum(1) - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, inter / np.maximum(union, 1), np.nan)

    def result(self, names: list[str]) -> dict:
        iou = self.iou()
        scored = ~np.isnan(iou)
        fg = scored.copy()
        fg[0] = False  # class 0 is background by the folder convention
        total = self.confusion.sum()
        return {
            "miou": float(iou[scored].mean()) if scored.any() else float("nan"),
            "miou_foreground": float(iou[fg].mean()) if fg.any() else float("nan"),
            "pixel_accuracy": float(np.trace(self.confusion) / total) if total else float("nan"),
            "per_class_iou": {name: (None if np.isnan(v) else float(v)) for name, v in zip(names, iou)},
        }


class KeypointScore:
    """PCK at fixed thresholds plus mean pixel error, over visible keypoints."""

    def __init__(self, num_keypoints: int, norm: str = "image", thresholds=PCK_THRESHOLDS):
        if norm not in ("image", "bbox"):
            raise ValueError(f"unknown PCK normalisation {norm!r}")
        self.norm, self.thresholds = norm, tuple(thresholds)
        self.correct = np.zeros((len(self.thresholds), num_keypoints), np.int64)
        self.count = np.zeros(num_keypoints, np.int64)
        self.error_sum = 0.0

    def update(self, pred_xy: np.ndarray, target: np.ndarray, image_hw: tuple[int, int]) -> None:
        """pred_xy [N,K,2] and target [N,K,3] (x, y, visibility) in pixels."""
        visible = target[..., 2] > 0
        dist = np.linalg.norm(pred_xy - target[..., :2], axis=-1)
        scale = self._scale(target, visible, image_hw)
        visible &= (scale > 0)[:, None]  # a bbox of one point cannot normalise anything
        for i, t in enumerate(self.thresholds):
            self.correct[i] += (visible & (dist <= t * scale[:, None])).sum(0)
        self.count += visible.sum(0)
        self.error_sum += float(dist[visible].sum())

    def _scale(self, target: np.ndarray, visible: np.ndarray, image_hw) -> np.ndarray:
        if self.norm == "image":
            return np.full(len(target), float(max(image_hw)))
        xy = target[..., :2]
        lo = np.where(visible[..., None], xy, np.inf).min(1)
        hi = np.where(visible[..., None], xy, -np.inf).max(1)
        side = (hi - lo).max(1)
        return np.where(np.isfinite(side), side, 0.0)

    def result(self, names: list[str]) -> dict:
        total = int(self.count.sum())
        out = {"keypoints_scored": total, "pck_norm": self.norm,
               "mean_error_px": self.error_sum / total if total else float("nan")}
        for i, t in enumerate(self.thresholds):
            out[f"pck@{t:g}"] = float(self.correct[i].sum() / total) if total else float("nan")
            out[f"per_keypoint_pck@{t:g}"] = {
                name: (float(c / n) if n else None) for name, c, n in zip(names, self.correct[i], self.count)}
        return out


class DepthScore:
    """Pixel-weighted depth errors over valid (finite, positive) target pixels."""

    def __init__(self):
        self.pixels = 0
        self.sq_sum = 0.0
        self.rel_sum = 0.0

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        valid = valid_depth(target)
        diff = pred[valid].astype(np.float64) - target[valid]
        self.pixels += int(valid.sum())
        self.sq_sum += float((diff ** 2).sum())
        self.rel_sum += float((np.abs(diff) / target[valid]).sum())

    def result(self) -> dict:
        n = self.pixels
        mse = self.sq_sum / n if n else float("nan")
        return {"pixels_scored": n, "mse": mse, "rmse": float(np.sqrt(mse)),
                "absrel": self.rel_sum / n if n else float("nan")}


def valid_depth(depth: np.ndarray) -> np.ndarray:
    """Pixels that carry a depth: finite and strictly positive."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(depth) & (depth > 0)
