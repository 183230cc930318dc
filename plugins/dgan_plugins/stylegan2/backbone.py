"""The `stylegan2` backbone object: latents in, images and per-layer features out."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from dgan_cli.errors import DganError
from dgan_cli.types import LayerInfo
from dgan_cli.checksum import file_sha256
from dgan_plugins.stylegan2.checkpoint import load_any
from dgan_plugins.stylegan2.networks import NOISE_MODES, Generator

NAME = "stylegan2"
MAX_SEED = 2 ** 32 - 1  # numpy RandomState's seed range


class StyleGAN2Backbone:
    """Wraps a Generator for dgan. Build one from an in-memory generator, or use `load_backbone_file`.

    Features are the outputs of the synthesis convs ("b4.conv1", "b8.conv0",
    "b8.conv1", ...) after noise, bias, activation and clamping, at native
    resolution; see docs/stylegan2.md.
    """

    def __init__(self, generator: Generator, sha256: str | None = None, source: Path | None = None,
                 source_format: str = "memory"):
        self.generator = generator
        self._sha256 = sha256 or state_dict_sha256(generator)
        self.source = source
        self.source_format = source_format
        self.resolution = generator.img_resolution
        self.img_channels = generator.img_channels
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = (generator.z_dim, generator.c_dim, generator.w_dim,
                                                           generator.num_ws)
        self.layers = [LayerInfo(name, channels, res) for name, channels, res in generator.synthesis.layer_specs()]
        self._layer_names = [info.name for info in self.layers]

    @property
    def device(self) -> torch.device:
        return self.generator.synthesis.b4.const.device

    def identity(self) -> dict:
        return {"name": NAME, "sha256": self._sha256, "config": self.generator.init_kwargs}

    def latents_z(self, seeds: Sequence[int]) -> torch.Tensor:
        """z [N, z_dim] float32; seed s -> np.random.RandomState(s).randn(z_dim), as official generate.py."""
        bad = [s for s in seeds if not isinstance(s, (int, np.integer)) or not 0 <= int(s) <= MAX_SEED]
        if bad:
            raise DganError(f"seed {bad[0]!r} is not an integer in [0, {MAX_SEED}]")
        z = np.array([np.random.RandomState(int(s)).randn(self.z_dim) for s in seeds]).reshape(len(seeds), -1)
        return torch.from_numpy(z).to(self.device, torch.float32)

    @torch.no_grad()
    def sample(self, seeds: Sequence[int], truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
               c: torch.Tensor | None = None) -> dict:
        """{"z": [N, z_dim], "ws": [N, num_ws, w_dim]}, one reproducible latent per seed."""
        if self.c_dim and c is None:
            raise DganError(f"this generator is class-conditional: pass labels c of shape [N, {self.c_dim}]")
        z = self.latents_z(seeds)
        ws = self.generator.mapping(z, None if c is None else c.to(self.device), truncation_psi=truncation_psi,
                                    truncation_cutoff=truncation_cutoff)
        return {"z": z, "ws": ws}

    def synthesize(self, ws: torch.Tensor, layers: Sequence[str] | None = None, noise_mode: str = "const"):
        """(images [N, C, R, R] in [-1, 1] (not clamped), {layer: [N, channels, res, res]}).

        ws is w+ [N, num_ws, w_dim] or w [N, w_dim] (used for every layer).
        Gradients flow to ws when it requires grad.
        """
        names = list(self._layer_names if layers is None else layers)
        unknown = [n for n in names if n not in self._layer_names]
        if unknown:
            raise DganError(f"unknown {NAME} layer '{unknown[0]}'",
                            hint=f"layers are {self._layer_names[0]} ... {self._layer_names[-1]}")
        if noise_mode not in NOISE_MODES:
            raise DganError(f"noise mode must be one of {', '.join(NOISE_MODES)}, not '{noise_mode}'")
        ws = self._as_wplus(ws)
        images, features = self.generator.synthesis.render(ws, noise_mode=noise_mode, capture=set(names))
        return images, {name: features[name] for name in names}

    def _as_wplus(self, ws: torch.Tensor) -> torch.Tensor:
        ws = torch.as_tensor(ws).to(self.device)
        if ws.ndim == 2 and ws.shape[1] == self.w_dim:
            return ws.unsqueeze(1).expand(-1, self.num_ws, -1)
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise DganError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}] or [N, {self.w_dim}], "
                            f"got {list(ws.shape)}")
        return ws


def load_backbone_file(path, device="cpu") -> StyleGAN2Backbone:
    """Load any supported checkpoint as a frozen, eval-mode backbone on `device`."""
    path = Path(path)
    generator, fmt = load_any(path)
    generator = generator.to(device).eval().requires_grad_(False)
    return StyleGAN2Backbone(generator, sha256=file_sha256(path), source=path, source_format=fmt)


def state_dict_sha256(generator: torch.nn.Module) -> str:
    """Hash of every tensor's name, dtype, shape and bytes, in state-dict order."""
    digest = hashlib.sha256()
    for name, tensor in generator.state_dict().items():
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{list(t.shape)}\n".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()
