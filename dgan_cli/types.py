"""Shared types: what a backbone object offers to the rest of dgan."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence


@dataclass(frozen=True)
class LayerInfo:
    """One feature map a backbone can return: name, channels, native resolution."""

    name: str
    channels: int
    resolution: int

    def as_dict(self) -> dict:
        return {"name": self.name, "channels": self.channels, "resolution": self.resolution}


class Backbone(Protocol):
    """A loaded generator. Tensors are torch tensors; images are NCHW float32 in [-1, 1].

    - `generator`: the torch module, called like the official one.
    - `layers`: every feature map `synthesize` can return, in order.
    - `identity()`: {"name", "sha256", "config"}, recorded in caches so that a
      cache made by another generator is refused.
    - `sample(seeds, truncation_psi)`: one latent per seed (seed -> z -> w+),
      so each sample is reproducible on its own: {"z": [N, z_dim], "ws": [N, num_ws, w_dim]}.
    - `synthesize(ws, layers, noise_mode)`: images and the requested feature
      maps at native resolution, differentiable w.r.t. `ws`.
    """

    generator: Any
    resolution: int
    layers: Sequence[LayerInfo]
    z_dim: int
    w_dim: int
    num_ws: int

    def identity(self) -> dict: ...

    def sample(self, seeds: Sequence[int], truncation_psi: float = 1.0) -> dict: ...

    def synthesize(self, ws, layers: Sequence[str] | None = None, noise_mode: str = "const"): ...
