"""The annotator stand-in: one small UNet predicting part masks, keypoints (with visibility) and depth.

It plays the person who labels GAN samples for DatasetGAN: trained fully
supervised on rendered toy images (annotator_train.py), it labels generator
images (`dgan toy annotate`). One network, four groups of output channels:

    [0, C)          part-class logits (cross-entropy)
    [C, C+K)        keypoint heatmap logits: a spatial softmax trained against a
                    Gaussian around the keypoint, hidden keypoints included (a
                    person marks those too, flagged occluded); decoded as
                    argmax + 3x3 centroid (evaluate/tasks.py)
    [C+K, C+2K)     visibility logit maps, read out where the heatmap points
                    (weighted by its probabilities): visible or occluded
    C+2K            depth, standardised by the training set's mean and std;
                    `predict` puts the pixels it labels background on the far plane

Checkpoint: format "dgan-toy-annotator" (checkpoint.py), config {"width",
"resolution", "classes", "keypoints", "depth_mean", "depth_std", "sigma"}.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from dgan_plugins.evaluate.networks import SmallUNet
from dgan_plugins.evaluate.tasks import decode_heatmaps, gaussian_heatmaps
from dgan_plugins.toy.checkpoint import load_tagged, save_tagged
from dgan_plugins.toy.model import FAR_DEPTH

FORMAT = "dgan-toy-annotator"



class Annotator(torch.nn.Module):
    def __init__(self, config: dict):
        super().__init__()
        self.config = dict(config)
        self.num_classes, self.num_keypoints = len(config["classes"]), len(config["keypoints"])
        self.net = SmallUNet(self.num_classes + 2 * self.num_keypoints + 1, int(config["width"]))

    def forward(self, images: torch.Tensor) -> dict:
        """images float [B, 3, H, W] in 0..1 -> the raw output groups."""
        out = self.net(images)
        c, k = self.num_classes, self.num_keypoints
        return {"segmentation": out[:, :c], "heatmaps": out[:, c:c + k],
                "visibility": out[:, c + k:c + 2 * k], "depth": out[:, c + 2 * k]}

    def losses(self, out: dict, target: dict) -> dict:
        """Per-task losses; target holds segmentation int64 [B,H,W], keypoints [B,K,3], depth [B,H,W]."""
        b, k, h, w = out["heatmaps"].shape
        kp = target["keypoints"]
        inside = ((kp[..., 0] >= 0) & (kp[..., 0] < w) & (kp[..., 1] >= 0) & (kp[..., 1] < h)).float()
        log_prob = out["heatmaps"].reshape(b, k, h * w).log_softmax(-1)
        goal = gaussian_heatmaps(kp[..., :2], h, w, float(self.config["sigma"])).reshape(b, k, h * w)
        heat = (-(goal * log_prob).sum(-1) * inside).sum() / inside.sum().clamp(min=1)
        visibility = F.binary_cross_entropy_with_logits(_read_at(out["visibility"], log_prob.exp()),
                                                        kp[..., 2])
        depth = (target["depth"] - self.config["depth_mean"]) / self.config["depth_std"]
        return {"segmentation": F.cross_entropy(out["segmentation"], target["segmentation"]),
                "keypoints": heat, "visibility": visibility, "depth": F.mse_loss(out["depth"], depth)}

    @torch.no_grad()
    def predict(self, images: np.ndarray, batch: int = 64) -> "Prediction":
        """Labels of uint8 images [N, H, W, 3]."""
        parts = []
        for lo in range(0, len(images), batch):
            x = torch.from_numpy(np.ascontiguousarray(images[lo:lo + batch])).permute(0, 3, 1, 2).float() / 255
            out = self(x)
            b, k, h, w = out["heatmaps"].shape
            prob = out["heatmaps"].reshape(b, k, h * w).softmax(-1)
            visible = _read_at(out["visibility"], prob) > 0
            xy = decode_heatmaps(out["heatmaps"])
            parts_map = out["segmentation"].argmax(1)
            depth = out["depth"] * self.config["depth_std"] + self.config["depth_mean"]
            # what it sees as background it puts on the far plane, as the renderer does (not 11.9 or 12.1)
            depth = torch.where(parts_map == 0, FAR_DEPTH, depth)
            parts.append((parts_map.to(torch.uint8).numpy(), torch.cat([xy, visible.float()[..., None]], -1).numpy(),
                          depth.numpy()))
        seg, kp, depth = (np.concatenate(p) for p in zip(*parts))
        return Prediction(seg, kp.astype(np.float32), depth.astype(np.float32))


@dataclass
class Prediction:
    segmentation: np.ndarray  # uint8 [N, H, W] part class
    keypoints: np.ndarray     # float32 [N, K, 3]: x, y, visible (1) or occluded (0)
    depth: np.ndarray         # float32 [N, H, W]


def _read_at(maps: torch.Tensor, prob: torch.Tensor) -> torch.Tensor:
    """[B, K, H, W] logit maps averaged under each keypoint's heatmap probabilities [B, K, H*W]."""
    return (maps.flatten(2) * prob).sum(-1)


def save_annotator(path: Path, model: Annotator, training: dict) -> None:
    save_tagged(path, FORMAT, model, model.config, training)


def load_annotator(path: Path | None = None) -> tuple[Annotator, dict]:
    """(model, checkpoint dict without the tensors); None loads the shipped weights."""
    from dgan_plugins.toy import ANNOTATOR_WEIGHTS

    return load_tagged(ANNOTATOR_WEIGHTS if path is None else Path(path), FORMAT, Annotator, "annotator", "dgan toy train-annotator")
