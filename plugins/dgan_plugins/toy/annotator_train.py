"""Train the annotator stand-in on rendered toy images and score it on the `test` split.

Training images are the `full` split by default (seeds 200000-204999, every
label known), each seen with a random horizontal flip (keypoints swap
left/right). Adam with a cosine decay to zero over a fixed number of steps;
batches come from back-to-back shuffles. Scores follow evaluate/metrics.py:
mIoU over the 9 part classes (background included), PCK over visible
keypoints with the image side as the norm, depth AbsRel over every pixel,
plus the accuracy of the visible/occluded flag over keypoints inside the image.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from dgan_plugins.evaluate.metrics import DepthScore, KeypointScore, SegmentationScore
from dgan_plugins.evaluate.tasks import mirror_permutation
from dgan_plugins.toy.annotator import Annotator
from dgan_plugins.toy.render import KEYPOINT_NAMES, PART_CLASSES, render_batch

RENDER_CHUNK = 256
LABEL_KINDS = ("segmentation", "keypoints", "depth")


def render_training_set(seeds: range, resolution: int, advance: Callable[[int], None] = lambda n: None) -> dict:
    """{"images", "segmentation", "keypoints", "depth"} of rendered toy images."""
    parts = []
    for lo in range(0, len(seeds), RENDER_CHUNK):
        batch = render_batch(seeds[lo:lo + RENDER_CHUNK], resolution)
        parts.append({k: batch[k] for k in ("images", *LABEL_KINDS)})
        advance(len(batch["images"]))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def new_annotator(data: dict, width: int, resolution: int, seed: int) -> Annotator:
    depth = data["depth"].astype(np.float64)
    config = {"width": width, "resolution": resolution, "classes": list(PART_CLASSES),
              "keypoints": list(KEYPOINT_NAMES), "depth_mean": float(depth.mean()),
              "depth_std": float(max(depth.std(), 1e-6)), "sigma": resolution / 64}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Annotator(config)


def train_annotator(model: Annotator, data: dict, *, steps: int, batch: int = 16, lr: float = 2e-3, seed: int = 0,
                    on_step: Callable[[int, dict], None] = lambda s, l: None) -> Annotator:
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    n = len(data["images"])
    order = torch.cat([torch.randperm(n, generator=gen) for _ in range(math.ceil(steps * batch / n))]).numpy()
    mirror = torch.from_numpy(mirror_permutation(list(KEYPOINT_NAMES)))
    model.train()
    for step in range(steps):
        idx = order[step * batch:(step + 1) * batch]
        images, target = _batch(data, idx)
        flip = torch.rand(len(idx), generator=gen) < 0.5
        images, target = _flip(images, target, flip, mirror)
        losses = model.losses(model(images), target)
        opt.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        opt.step()
        schedule.step()
        on_step(step, {k: float(v.detach()) for k, v in losses.items()})
    return model.eval()


def _batch(data: dict, idx) -> tuple[torch.Tensor, dict]:
    images = torch.from_numpy(data["images"][idx]).permute(0, 3, 1, 2).float() / 255
    return images, {"segmentation": torch.from_numpy(data["segmentation"][idx].astype(np.int64)),
                    "keypoints": torch.from_numpy(data["keypoints"][idx]),
                    "depth": torch.from_numpy(data["depth"][idx])}


def _flip(images, target, flip, mirror):
    """Mirror the flagged samples: images and maps left-right, keypoint x and left/right names."""
    def pick(a, b):
        return torch.where(flip.view(-1, *[1] * (a.ndim - 1)), b, a)

    width = images.shape[-1]
    kp = target["keypoints"]
    mirrored = kp[:, mirror].clone()
    mirrored[..., 0] = width - mirrored[..., 0]
    return pick(images, images.flip(-1)), {
        "segmentation": pick(target["segmentation"], target["segmentation"].flip(-1)),
        "keypoints": pick(kp, mirrored), "depth": pick(target["depth"], target["depth"].flip(-1))}


def score_annotator(model: Annotator, data: dict) -> dict:
    """Accuracy against rendered ground truth: mIoU, PCK@0.05/0.1, depth AbsRel/RMSE, visibility accuracy."""
    pred = model.predict(data["images"])
    seg = SegmentationScore(len(PART_CLASSES))
    seg.update(pred.segmentation, data["segmentation"].astype(np.int64))
    kp = KeypointScore(len(KEYPOINT_NAMES))
    kp.update(pred.keypoints[..., :2], data["keypoints"], data["images"].shape[1:3])
    depth = DepthScore()
    depth.update(pred.depth, data["depth"])
    h, w = data["images"].shape[1:3]
    truth = data["keypoints"]
    inside = (truth[..., 0] >= 0) & (truth[..., 0] < w) & (truth[..., 1] >= 0) & (truth[..., 1] < h)
    agree = (pred.keypoints[..., 2] > 0) == (truth[..., 2] > 0)
    seg_result, kp_result = seg.result(list(PART_CLASSES)), kp.result(list(KEYPOINT_NAMES))
    depth_result = depth.result()
    return {"images": len(pred.segmentation), "miou": seg_result["miou"],
            "pixel_accuracy": seg_result["pixel_accuracy"], "per_class_iou": seg_result["per_class_iou"],
            "pck@0.05": kp_result["pck@0.05"], "pck@0.1": kp_result["pck@0.1"],
            "keypoint_error_px": kp_result["mean_error_px"], "visibility_accuracy": float(agree[inside].mean()),
            "depth_absrel": depth_result["absrel"], "depth_rmse": depth_result["rmse"]}
