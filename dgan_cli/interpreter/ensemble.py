"""The style interpreter's model: an ensemble of small per-pixel MLPs.

Each member is Linear-ReLU-BatchNorm1d, twice, then Linear (DatasetGAN's
pixel classifier). Members are independent modules so each trains on its
own pixel sample; inference batches them (see `fast.py`).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

SMALL_HIDDEN = (128, 32)
LARGE_HIDDEN = (256, 128)
LARGE_FROM_OUTPUTS = 30  # as the reference: wider members for many classes


def default_hidden(num_outputs: int) -> tuple[int, int]:
    """Hidden widths for a head with `num_outputs` per-pixel outputs."""
    return LARGE_HIDDEN if num_outputs >= LARGE_FROM_OUTPUTS else SMALL_HIDDEN


def make_member(in_dim: int, hidden: Sequence[int], out_dim: int, seed: int) -> nn.Sequential:
    """One member, weights N(0, 0.02) and zero biases drawn from its own seed."""
    h1, h2 = hidden
    member = nn.Sequential(
        nn.Linear(in_dim, h1), nn.ReLU(), nn.BatchNorm1d(h1),
        nn.Linear(h1, h2), nn.ReLU(), nn.BatchNorm1d(h2),
        nn.Linear(h2, out_dim),
    )
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for layer in member:
            if isinstance(layer, nn.Linear):
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * 0.02)
                layer.bias.zero_()
    return member


class Ensemble(nn.Module):
    """N members over `in_dim` pixel features; `forward` is the naive per-pixel path."""

    def __init__(self, in_dim: int, num_outputs: int, members: int = 10,
                 hidden: Sequence[int] | None = None, seed: int = 0):
        super().__init__()
        self.in_dim, self.num_outputs = int(in_dim), int(num_outputs)
        self.hidden = tuple(int(h) for h in (hidden or default_hidden(num_outputs)))
        if len(self.hidden) != 2 or min(self.hidden) < 1:
            raise ValueError(f"hidden widths must be two positive integers, got {self.hidden}")
        self.members = nn.ModuleList(
            make_member(self.in_dim, self.hidden, self.num_outputs, seed=seed * 1000 + m)
            for m in range(int(members)))

    def __len__(self) -> int:
        return len(self.members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pixel features [P, in_dim] -> outputs of every member [M, P, num_outputs]."""
        return torch.stack([member(x) for member in self.members])
