"""Linear probe: a frozen encoder's features, one linear classifier, top-1 accuracy.

As in the reference's `eval_classification.py` only the linear layer learns
(SGD, momentum 0.9, no weight decay, cosine schedule, batch 256, 90 epochs).
Differences, to stay cheap and deterministic on a CPU: features are computed
once without augmentation and standardised with the training set's statistics,
so the learning rate is 0.1 rather than the reference's 30 on raw features.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from dgan_plugins.squeeze_span.augment import normalize
from dgan_plugins.squeeze_span.batches import to_resolution

PROBE_LR = 0.1
PROBE_BATCH = 256


@torch.no_grad()
def encode(encoder: torch.nn.Module, images: torch.Tensor, resolution: int, batch: int = 128,
           device: str | torch.device = "cpu") -> torch.Tensor:
    """uint8 [N, 3, H, W] -> float32 features [N, D] from the encoder in eval mode."""
    encoder = encoder.to(device).eval()
    chunks = []
    for start in range(0, images.shape[0], batch):
        x = images[start:start + batch].to(device, torch.float32) / 255.0
        chunks.append(encoder(normalize(to_resolution(x, resolution))).float().cpu())
    return torch.cat(chunks)


def linear_probe(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor,
                 num_classes: int, epochs: int = 90, seed: int = 0) -> dict:
    """Train a linear classifier on (train_x, train_y); top-1 accuracy (%) on both sets."""
    mean, std = train_x.mean(dim=0), train_x.std(dim=0).clamp_min(1e-6)
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        classifier = torch.nn.Linear(train_x.shape[1], num_classes)
    optimizer = torch.optim.SGD(classifier.parameters(), lr=PROBE_LR, momentum=0.9, weight_decay=0.0)
    rng = np.random.default_rng(seed)
    count = train_x.shape[0]
    steps_per_epoch = math.ceil(count / PROBE_BATCH)
    total, step = epochs * steps_per_epoch, 0
    for _ in range(epochs):
        order = torch.as_tensor(rng.permutation(count))
        for start in range(0, count, PROBE_BATCH):
            index = order[start:start + PROBE_BATCH]
            for group in optimizer.param_groups:
                group["lr"] = PROBE_LR * 0.5 * (1 + math.cos(math.pi * step / total))
            loss = F.cross_entropy(classifier(train_x[index]), train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
    with torch.no_grad():
        return {"top1": _accuracy(classifier(test_x), test_y), "train_top1": _accuracy(classifier(train_x), train_y),
                "epochs": epochs}


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return round(100.0 * (logits.argmax(dim=1) == labels).float().mean().item(), 2)
