"""Standard augmentation for the supervised baselines, applied to whole batches.

Horizontal flip (p = 0.5; classes and keypoints whose names say left/right
swap sides), a small zoom and shift (the same affine map moves images,
labels and keypoints), and colour jitter (brightness, contrast, saturation).
Pixels that come from outside the image become unlabelled (segmentation -1,
depth 0 = invalid) and keypoints that leave the image become invisible.
A zoom by s also divides depth by s: an object that looks s times bigger is,
for a pinhole camera, s times closer (the size-distance cue stays honest).
All randomness comes from the caller's generator, so a seed fixes the run.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F


@dataclass
class Augmenter:
    kind: str              # "segmentation", "keypoints" or "depth"
    mirror: np.ndarray     # class / keypoint index permutation applied on a flip
    zoom: float = 0.1      # scale in [1 - zoom, 1 + zoom]
    shift: float = 0.05    # translation up to this fraction of the image size
    colour: float = 0.2    # brightness / contrast / saturation factors in [1 - c, 1 + c]

    def __call__(self, images: torch.Tensor, target: torch.Tensor, gen: torch.Generator):
        """images float [B,3,H,W] in 0..1; target as the task's batch; returns both augmented."""
        b = images.shape[0]

        def uniform(lo: float, hi: float) -> torch.Tensor:
            return lo + (hi - lo) * torch.rand(b, generator=gen, dtype=torch.float64)

        flip = torch.rand(b, generator=gen) < 0.5
        scale = uniform(1 - self.zoom, 1 + self.zoom)
        tx, ty = uniform(-2 * self.shift, 2 * self.shift), uniform(-2 * self.shift, 2 * self.shift)
        factors = [uniform(1 - self.colour, 1 + self.colour) for _ in range(3)]
        sign = torch.where(flip, -1.0, 1.0).to(torch.float64)

        # output -> input map in normalised coordinates: u_in = sign (u_out - tx) / s, v_in = (v_out - ty) / s
        theta = torch.zeros(b, 2, 3, dtype=torch.float64)
        theta[:, 0, 0], theta[:, 0, 2] = sign / scale, -sign * tx / scale
        theta[:, 1, 1], theta[:, 1, 2] = 1 / scale, -ty / scale
        grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)

        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
        images = _colour_jitter(images, *(f.to(images.dtype) for f in factors))
        mirror = torch.as_tensor(self.mirror, device=target.device)
        if self.kind == "segmentation":
            moved = F.grid_sample((target + 1).unsqueeze(1).to(images.dtype), grid, mode="nearest",
                                  padding_mode="zeros", align_corners=False)
            target = moved[:, 0].round().long() - 1
            swapped = torch.where(target >= 0, mirror[target.clamp(min=0)], target)
            target = torch.where(flip[:, None, None], swapped, target)
        elif self.kind == "depth":
            moved = F.grid_sample(target.unsqueeze(1), grid, mode="nearest", padding_mode="zeros",
                                  align_corners=False)[:, 0]
            target = moved / scale.to(moved.dtype).view(-1, 1, 1)  # looks s times bigger = s times closer
        else:
            target = _move_keypoints(target, images.shape[-2:], sign, scale, tx, ty)
            target = torch.where(flip[:, None, None], target[:, mirror], target)
        return images, target


def _move_keypoints(kp: torch.Tensor, hw, sign, scale, tx, ty) -> torch.Tensor:
    """Forward map of the affine above for [B,K,3] pixel keypoints; points leaving become invisible."""
    h, w = hw
    u = 2 * kp[..., 0].double() / w - 1
    v = 2 * kp[..., 1].double() / h - 1
    x = ((sign * scale)[:, None] * u + tx[:, None] + 1) * w / 2
    y = (scale[:, None] * v + ty[:, None] + 1) * h / 2
    inside = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    visible = torch.where(inside, kp[..., 2].double(), 0.0)
    return torch.stack([x, y, visible], -1).to(kp.dtype)


def _colour_jitter(x: torch.Tensor, brightness, contrast, saturation) -> torch.Tensor:
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    x = x * brightness.view(-1, 1, 1, 1)
    mean = (x * weights).sum(1, keepdim=True).mean((2, 3), keepdim=True)
    x = (x - mean) * contrast.view(-1, 1, 1, 1) + mean
    gray = (x * weights).sum(1, keepdim=True)
    x = gray + (x - gray) * saturation.view(-1, 1, 1, 1)
    return x.clamp(0.0, 1.0)
