"""The `stylegan1` backbone object: the Backbone protocol over the release's generator."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

import torch

from dgan_cli.errors import DganError
from dgan_cli.types import LayerInfo
from dgan_plugins.stylegan1.checkpoint import load_any
from dgan_plugins.stylegan1.networks import NOISE_MODES, Generator
from dgan_plugins.stylegan2.backbone import StyleGAN2Backbone

NAME = "stylegan1"


class StyleGAN1Backbone:
    """Features are the release's taps at native resolution: per block its output and its last conv's."""

    def __init__(self, generator: Generator, source: Path | None = None, source_format: str = "memory"):
        self.generator = generator
        self.source, self.source_format = source, source_format
        self.resolution, self.img_channels = generator.resolution, 3
        self.z_dim, self.w_dim, self.num_ws, self.c_dim = generator.z_dim, generator.w_dim, generator.num_ws, 0
        self.layers = [LayerInfo(*spec) for spec in generator.g_synthesis.layer_specs()]
        self._layer_names = [info.name for info in self.layers]
        self._sha256 = weights_sha256(generator)

    @property
    def device(self) -> torch.device:
        return self.generator.avg_latent.device

    def identity(self) -> dict:
        """The sha256 covers the weights, the average latent and the config, so it is the same
        for a release file and its conversion when both use the same average latent."""
        return {"name": NAME, "sha256": self._sha256, "config": self.generator.config}

    latents_z = StyleGAN2Backbone.latents_z  # seed -> np.random.RandomState(seed).randn(z_dim)

    @torch.no_grad()
    def sample(self, seeds: Sequence[int], truncation_psi: float = 1.0) -> dict:
        z = self.latents_z(seeds)
        return {"z": z, "ws": self.generator.mapping(z, truncation_psi=truncation_psi)}

    @torch.no_grad()
    def map_z(self, z, truncation_psi: float = 0.7) -> torch.Tensor:
        """w+ of given z (e.g. the release's `latent_stylegan1.npy`), truncated like the release."""
        return self.generator.mapping(torch.as_tensor(z).to(self.device, torch.float32), truncation_psi=truncation_psi)

    def synthesize(self, ws: torch.Tensor, layers: Sequence[str] | None = None, noise_mode: str = "const"):
        """(images [N, 3, R, R], raw, nominally [-1, 1]; {tap: [N, C, r, r]}), differentiable w.r.t. ws."""
        names = list(self._layer_names if layers is None else layers)
        unknown = [n for n in names if n not in self._layer_names]
        if unknown:
            raise DganError(f"unknown {NAME} layer '{unknown[0]}'",
                            hint=f"layers are {self._layer_names[0]} ... {self._layer_names[-1]}")
        if noise_mode not in NOISE_MODES:
            raise DganError(f"noise mode must be one of {', '.join(NOISE_MODES)}, not '{noise_mode}'")
        ws = torch.as_tensor(ws).to(self.device, torch.float32)
        if ws.ndim == 2 and ws.shape[1] == self.w_dim:
            ws = ws.unsqueeze(1).expand(-1, self.num_ws, -1)
        if ws.ndim != 3 or tuple(ws.shape[1:]) != (self.num_ws, self.w_dim):
            raise DganError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}] or [N, {self.w_dim}], "
                            f"got {list(ws.shape)}")
        images, features = self.generator.g_synthesis.render(ws, noise_mode=noise_mode, capture=set(names))
        return images, {name: features[name] for name in names}


def load_backbone_file(path, device="cpu") -> StyleGAN1Backbone:
    path = Path(path)
    generator, fmt = load_any(path)
    generator = generator.to(device).eval().requires_grad_(False)
    return StyleGAN1Backbone(generator, source=path, source_format=fmt)


def weights_sha256(generator: Generator) -> str:
    digest = hashlib.sha256(json.dumps(generator.config, sort_keys=True).encode())
    tensors = {**generator.state_dict(), "avg_latent": generator.avg_latent}
    for name, tensor in tensors.items():
        t = tensor.detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{name}|{list(t.shape)}\n".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()
