"""Train a downstream network for a fixed number of steps, then score it on a test set.

The budget is counted in optimisation steps, not epochs, so a 16-image
few-shot set and a 10,000-image set get the same compute. Adam with a cosine
decay to zero; batches are drawn from consecutive shuffles of the set.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from dgan_plugins.evaluate.augment import Augmenter


@dataclass
class LabelledSet:
    """One labelled image set in memory, restricted to one label kind."""

    source: str
    ids: list
    images: np.ndarray   # uint8 [N,H,W,3]
    target: np.ndarray   # segmentation int64 [N,H,W] (-1 ignored) | keypoints float32 [N,K,3] | depth float32 [N,H,W]
    names: list          # class names (segmentation) or keypoint names; [] for depth

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_hw(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    batch: int = 8
    lr: float = 1e-3
    seed: int = 0
    augment: bool = False
    device: str = "cpu"


def batch_indices(n: int, steps: int, batch: int, gen: torch.Generator) -> np.ndarray:
    """[steps, batch] sample indices from back-to-back random permutations of range(n)."""
    need = steps * batch
    perms = [torch.randperm(n, generator=gen) for _ in range(math.ceil(need / n))]
    return torch.cat(perms)[:need].reshape(steps, batch).numpy()


def as_batch(data: LabelledSet, idx) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.from_numpy(np.ascontiguousarray(data.images[idx])).permute(0, 3, 1, 2).float() / 255.0
    return images, torch.from_numpy(np.ascontiguousarray(data.target[idx]))


def train(model: torch.nn.Module, task, data: LabelledSet, cfg: TrainConfig,
          augmenter: Augmenter | None = None, on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """Optimise `model` on `data`; returns the loss of every step."""
    gen = torch.Generator().manual_seed(cfg.seed)
    device = torch.device(cfg.device)
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: 0.5 * (1 + math.cos(math.pi * step / cfg.steps)))
    losses = []
    for step, idx in enumerate(batch_indices(len(data), cfg.steps, cfg.batch, gen)):
        images, target = as_batch(data, idx)
        if augmenter is not None:
            images, target = augmenter(images, target, gen)
        loss = task.loss(model(images.to(device)), target.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
        losses.append(loss.detach().item())
        if on_step is not None:
            on_step(step, losses[-1])
    return losses


@torch.no_grad()
def score(model: torch.nn.Module, task, data: LabelledSet, batch: int, device: str = "cpu") -> dict:
    """Metrics of `model` on every image of `data` (see metrics.py for the conventions)."""
    model.to(device).eval()
    acc = task.new_score()
    for start in range(0, len(data), batch):
        idx = np.arange(start, min(start + batch, len(data)))
        images, _ = as_batch(data, idx)
        task.update(acc, model(images.to(device)), data.target[idx])
    return task.result(acc)
