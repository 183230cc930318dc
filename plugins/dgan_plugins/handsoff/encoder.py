"""The latent encoder: image -> w+, refined in ReStyle fashion, and its checkpoint file.

A small CNN sees the target image beside the current reconstruction and
predicts a w+ offset: w_{t+1} = w_t + E(x, G(w_t)), starting from w_0 = w_avg.
Its last layer starts at zero, so an untrained encoder returns w_avg exactly.
Images are resized to the generator's resolution before encoding.

Checkpoint (torch.save of plain containers and tensors, read with
`weights_only=True`): format "dgan-encoder", format_version, the backbone
identity it was trained for, the architecture, w_avg, the training
configuration and step, the model and optimizer state.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from dgan_cli.atomic import atomic_output
from dgan_cli.errors import CheckpointError

FORMAT = "dgan-encoder"
FORMAT_VERSION = 1


class LatentEncoder(nn.Module):
    """(target, reconstruction) images [N, 3, R, R] in [-1, 1] -> w+ offset [N, num_ws, w_dim]."""

    def __init__(self, resolution: int, num_ws: int, w_dim: int, width: int = 32, max_channels: int = 256):
        super().__init__()
        self.arch = {"resolution": resolution, "num_ws": num_ws, "w_dim": w_dim, "width": width,
                     "max_channels": max_channels}
        layers = [nn.Conv2d(6, width, 3, padding=1), nn.LeakyReLU(0.2)]
        channels, size = width, resolution
        while size > 4:  # halve the image until 4x4, doubling channels up to max_channels
            out = min(channels * 2, max_channels)
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            channels, size = out, math.ceil(size / 2)
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(channels * size * size, num_ws * w_dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, target: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
        h = self.trunk(torch.cat([target, reconstruction], dim=1))
        return self.head(h.flatten(1)).view(-1, self.arch["num_ws"], self.arch["w_dim"])


def encode(encoder: LatentEncoder, render, targets: torch.Tensor, w_avg: torch.Tensor,
           iterations: int) -> list[torch.Tensor]:
    """The w+ estimate after each refinement step (ReStyle); `render(ws)` gives G's images.

    Each step starts from a constant (the previous estimate and its image
    carry no gradient), as ReStyle trains; the last entry is the result.
    """
    n, (num_ws, w_dim) = len(targets), (encoder.arch["num_ws"], encoder.arch["w_dim"])
    ws = w_avg.view(1, 1, w_dim).expand(n, num_ws, w_dim)
    estimates = []
    for _ in range(iterations):
        with torch.no_grad():
            images = render(ws)
        ws = ws.detach() + encoder(targets, images)
        estimates.append(ws)
    return estimates


def save_encoder(path, encoder: LatentEncoder, *, backbone: dict, w_avg: torch.Tensor, config: dict,
                 step: int, optimizer: dict) -> Path:
    """Write the checkpoint atomically: a crash never leaves a half-written file under `path`."""
    path = Path(path)
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, "backbone": backbone, "arch": encoder.arch,
            "w_avg": w_avg.detach().cpu(), "config": config, "step": int(step),
            "state_dict": {k: v.detach().cpu() for k, v in encoder.state_dict().items()}, "optimizer": optimizer}
    with atomic_output(path) as tmp:
        torch.save(data, tmp)
    return path


def read_encoder(path) -> dict:
    """The checkpoint's contents, checked for format; never executes code from the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such encoder file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable encoder checkpoint ({type(exc).__name__})",
                              hint="make one with `dgan encoder train`") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a dgan encoder checkpoint", hint="make one with `dgan encoder train`")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: encoder format v{data.get('format_version')}, this dgan reads "
                              f"v{FORMAT_VERSION}")
    return data


def check_backbone(path, data: dict, identity: dict) -> None:
    """Refuse an encoder trained for another generator."""
    mine = data.get("backbone") or {}
    if mine.get("sha256") != identity.get("sha256"):
        raise CheckpointError(f"{path}: encoder trained for backbone {mine.get('name', '?')} sha256 "
                              f"{str(mine.get('sha256'))[:12]}, not for the given one ({identity.get('name', '?')} "
                              f"sha256 {str(identity.get('sha256'))[:12]})",
                              hint="train one for this backbone with `dgan encoder train`")


def load_encoder(path, identity: dict, device: str = "cpu") -> tuple[LatentEncoder, dict]:
    """(frozen encoder on device, checkpoint dict) for the backbone with this identity."""
    data = read_encoder(path)
    check_backbone(path, data, identity)
    try:
        encoder = LatentEncoder(**data["arch"])
        encoder.load_state_dict(data["state_dict"])
    except (TypeError, KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: damaged encoder checkpoint ({type(exc).__name__})") from exc
    return encoder.to(device).eval().requires_grad_(False), data
