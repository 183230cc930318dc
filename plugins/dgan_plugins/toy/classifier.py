"""A small CNN that tells the toy world's four classes apart; its pooled features are FID's feature space.

No Inception weights can be downloaded here, so FID uses a network dgan
trains itself: five 3x3 conv stages (16-32-64-64-128 channels, GroupNorm,
ReLU, 2x2 max-pool between stages), global average pooling to 128 features
(the FID features, like Inception's pool3) and one linear layer to the class
logits. It is trained on rendered images of seeds 300000 on (disjoint from
every other split, docs/toy-world.md) with horizontal flips, and scored on
the `test` split.

Checkpoint: format "dgan-toy-classifier" (checkpoint.py), config {"width",
"resolution", "classes"}.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from dgan_plugins.toy.checkpoint import load_tagged, save_tagged
from dgan_plugins.toy.render import OBJECT_CLASSES, render_batch

FORMAT = "dgan-toy-classifier"
SHIPPED = Path(__file__).parent / "weights" / "classifier.pt"
TRAIN_SEED_START = 300_000
RENDER_CHUNK = 256


class ToyClassifier(nn.Module):
    def __init__(self, width: int = 16, num_classes: int = len(OBJECT_CLASSES)):
        super().__init__()
        channels = [width, 2 * width, 4 * width, 4 * width, 8 * width]
        stages, cin = [], 3
        for cout in channels:
            stages.append(nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                                        nn.GroupNorm(min(8, cout // 4), cout), nn.ReLU(inplace=True)))
            cin = cout
        self.stages = nn.ModuleList(stages)
        self.head = nn.Linear(cin, num_classes)
        self.feature_dim = cin

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """uint8-range float images [B, 3, H, W] in 0..1 -> pooled features [B, feature_dim]."""
        x = (images - 0.5) / 0.25
        for i, stage in enumerate(self.stages):
            x = stage(x if i == 0 else F.max_pool2d(x, 2))
        return x.mean((2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, 3] -> float [N, 3, H, W] in 0..1."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0


def render_labelled(seeds: range, resolution: int, advance: Callable[[int], None] = lambda n: None):
    """(images uint8 [N, H, W, 3], classes int64 [N]) of rendered toy images."""
    images, classes = [], []
    for lo in range(0, len(seeds), RENDER_CHUNK):
        batch = render_batch(seeds[lo:lo + RENDER_CHUNK], resolution)
        images.append(batch["images"])
        classes.append(batch["class"])
        advance(len(batch["class"]))
    return np.concatenate(images), np.concatenate(classes)


def train_classifier(images: np.ndarray, classes: np.ndarray, *, steps: int, batch: int = 64, lr: float = 2e-3,
                     width: int = 16, seed: int = 0, on_step: Callable[[int, float], None] = lambda s, l: None):
    """A ToyClassifier fitted with Adam (cosine decay to zero) on batches of back-to-back shuffles."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ToyClassifier(width)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    order = torch.cat([torch.randperm(len(images), generator=gen)
                       for _ in range(math.ceil(steps * batch / len(images)))])
    target = torch.from_numpy(classes)
    model.train()
    for step in range(steps):
        idx = order[step * batch:(step + 1) * batch]
        x = to_tensor(images[idx.numpy()])
        flip = torch.rand(len(idx), generator=gen) < 0.5  # the classes are left-right symmetric
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        loss = F.cross_entropy(model(x), target[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        schedule.step()
        on_step(step, float(loss.detach()))
    return model.eval()


@torch.no_grad()
def embed(model: ToyClassifier, images: np.ndarray, batch: int = 256,
          advance: Callable[[int], None] = lambda n: None) -> tuple[np.ndarray, np.ndarray]:
    """(features float64 [N, D], predicted class int64 [N]) of uint8 images [N, H, W, 3]."""
    features, predicted = [], []
    for lo in range(0, len(images), batch):
        f = model.features(to_tensor(images[lo:lo + batch]))
        features.append(f.double().numpy())
        predicted.append(model.head(f).argmax(1).numpy())
        advance(len(f))
    return np.concatenate(features), np.concatenate(predicted)


def class_counts(predicted: np.ndarray) -> np.ndarray:
    """How many images are predicted as each of OBJECT_CLASSES ([len(OBJECT_CLASSES)])."""
    return np.bincount(predicted, minlength=len(OBJECT_CLASSES))


def save_classifier(path: Path, model: ToyClassifier, resolution: int, training: dict) -> None:
    config = {"width": model.stages[0][0].out_channels, "resolution": resolution, "classes": list(OBJECT_CLASSES)}
    save_tagged(path, FORMAT, model, config, training)


def load_classifier(path: Path | None = None) -> tuple[ToyClassifier, dict]:
    """(model in eval mode, checkpoint dict without the tensors); None loads the shipped weights."""
    return load_tagged(SHIPPED if path is None else Path(path), FORMAT,
                       lambda config: ToyClassifier(int(config["width"]), len(config["classes"])),
                       "classifier", "dgan toy train-classifier")
