"""A tiny stand-in generator (16 px, layers at 4/8/16) following the Backbone protocol.

Used by the sample and select tests through a test registry, so those tests
need no trained checkpoint. `fail_after` makes `synthesize` raise
KeyboardInterrupt after that many calls, to simulate an interrupted run.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F

from dgan_cli import hookimpl
from dgan_cli.registry import Registry, discover
from dgan_cli.specs import BackboneSpec
from dgan_cli.types import LayerInfo

LAYERS = (LayerInfo("b4.conv1", 8, 4), LayerInfo("b8.conv0", 6, 8), LayerInfo("b16.conv0", 4, 16))


class StandinBackbone:
    resolution, z_dim, w_dim, num_ws = 16, 8, 8, 3
    layers = LAYERS

    def __init__(self, fail_after: int | None = None):
        gen = torch.Generator().manual_seed(1234)
        self.generator = None
        self.mapping = torch.randn(self.z_dim, self.w_dim, generator=gen) / 3
        self.w_avg = torch.randn(self.w_dim, generator=gen) * 0.1
        self.const = torch.randn(1, 8, 4, 4, generator=gen)
        self.style = torch.randn(self.w_dim, 8, generator=gen) / 3
        self.conv8 = torch.randn(6, 8, 3, 3, generator=gen) / 8
        self.conv16 = torch.randn(4, 6, 3, 3, generator=gen) / 6
        self.to_rgb = torch.randn(3, 4, 1, 1, generator=gen)
        self.fail_after, self.calls = fail_after, 0

    def identity(self) -> dict:
        digest = hashlib.sha256(self.mapping.numpy().tobytes()).hexdigest()
        return {"name": "standin", "sha256": digest, "config": {"resolution": self.resolution}}

    def sample(self, seeds, truncation_psi: float = 1.0) -> dict:
        z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(self.z_dim) for s in seeds])).float()
        w = torch.tanh(z @ self.mapping)
        w = self.w_avg + truncation_psi * (w - self.w_avg)
        return {"z": z, "ws": w[:, None, :].repeat(1, self.num_ws, 1)}

    def synthesize(self, ws, layers=None, noise_mode: str = "const"):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt
        x4 = F.leaky_relu(self.const * (1 + ws[:, 0] @ self.style)[:, :, None, None], 0.2)
        x8 = F.leaky_relu(F.conv2d(F.interpolate(x4, scale_factor=2.0), self.conv8, padding=1), 0.2)
        x16 = F.leaky_relu(F.conv2d(F.interpolate(x8, scale_factor=2.0), self.conv16, padding=1), 0.2)
        images = torch.tanh(F.conv2d(x16, self.to_rgb))
        maps = {"b4.conv1": x4, "b8.conv0": x8, "b16.conv0": x16}
        names = layers or list(maps)
        return images, {name: maps[name] for name in names}


def standin_registry(backbone: StandinBackbone) -> Registry:
    """Every installed plugin plus a backbone named 'standin' that returns `backbone`."""
    registry = discover()

    class StandinPlugin:
        @hookimpl
        def dgan_backbones(self):
            return [BackboneSpec(name="standin", summary="test stand-in", load=lambda source, device="cpu": backbone)]

    registry.register(StandinPlugin(), "test-standin")
    return registry

