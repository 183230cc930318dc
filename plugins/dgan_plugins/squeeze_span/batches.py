"""What one training step sees, computed from (seed, step) alone.

Nothing is carried from step to step (no data-loader or RNG state), so a run
resumed from a checkpoint at step k draws exactly the batches an unbroken run
would have drawn from step k on.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from dgan_cli.errors import DganError
from dgan_plugins.squeeze_span.augment import augment
from dgan_plugins.squeeze_span.config import TrainConfig

LATENT_SEED_RANGE = 2 ** 31  # inside every backbone's accepted seed range


def step_rng(seed: int, step: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, stream])


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    return torch.Generator().manual_seed(int(rng.integers(2 ** 62)))


def default_layers(backbone) -> list[str]:
    """The last feature map of every resolution: one per synthesis block, as in the paper."""
    last: dict[int, str] = {}
    for info in backbone.layers:
        last[info.resolution] = info.name
    return [last[res] for res in sorted(last)]


def resolve_layers(backbone, requested: Sequence[str]) -> list:
    """LayerInfo of the requested layers (default: `default_layers`), refusing unknown names."""
    by_name = {info.name: info for info in backbone.layers}
    names = list(requested) or default_layers(backbone)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise DganError(f"the backbone has no layer '{unknown[0]}'",
                        hint=f"layers: {', '.join(by_name)}")
    return [by_name[n] for n in names]


def to_resolution(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Float [N, 3, H, W] -> [N, 3, R, R] (antialiased bilinear; no-op at the same size)."""
    if images.shape[-2:] == (resolution, resolution):
        return images
    return F.interpolate(images, size=(resolution, resolution), mode="bilinear", antialias=True,
                         align_corners=False)


class StepBatches:
    """Synthetic images + teacher features, and two views of real images, for any step."""

    def __init__(self, config: TrainConfig, resolution: int, backbone=None, layers: Sequence[str] = (),
                 real: torch.Tensor | None = None, device: str | torch.device = "cpu"):
        self.config, self.resolution, self.device = config, resolution, torch.device(device)
        self.backbone, self.layers = backbone, list(layers)
        self.real = real  # uint8 [N, 3, R, R], already at `resolution`

    @torch.no_grad()
    def synthetic(self, step: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(augmented student inputs, teacher feature maps in layer order) of G(w) for this step."""
        rng = step_rng(self.config.seed, step, 0)
        seeds = [int(s) for s in rng.integers(LATENT_SEED_RANGE, size=self.config.syn_batch)]
        ws = self.backbone.sample(seeds, truncation_psi=self.config.truncation_psi)["ws"]
        images, features = self.backbone.synthesize(ws, layers=self.layers, noise_mode="const")
        images = to_resolution((images.clamp(-1, 1) + 1) / 2, self.resolution)
        inputs = augment(images, torch_generator(rng)).to(self.device)
        return inputs, [features[name].to(self.device) for name in self.layers]

    @torch.no_grad()
    def real_views(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Two independently augmented views of this step's real images (epoch-wise shuffled)."""
        count, size = self.real.shape[0], self.config.real_batch
        positions = np.arange(step * size, (step + 1) * size)
        epochs, offsets = positions // count, positions % count
        order = {int(e): step_rng(self.config.seed, int(e), 1).permutation(count) for e in np.unique(epochs)}
        index = torch.as_tensor([order[int(e)][o] for e, o in zip(epochs, offsets)])
        images = self.real[index].to(self.device, torch.float32) / 255.0
        generator = torch_generator(step_rng(self.config.seed, step, 2))
        return augment(images, generator), augment(images, generator)
