"""The squeeze module T_phi: generator feature maps -> one teacher vector per sample.

Each layer's map is average-pooled over space, mapped by its own linear layer
to `hidden` dims, and the per-layer results are summed; an MLP of `depth`
linear layers (Linear-BN-ReLU, ..., Linear) turns the sum into the `dim`-d
teacher representation (paper Sec. 4.1 / Fig. 3: 2048 and 3 layers).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class SqueezeModule(nn.Module):
    def __init__(self, layer_channels: Sequence[int], dim: int = 2048, hidden: int = 2048, depth: int = 3):
        super().__init__()
        if not layer_channels:
            raise ValueError("the squeeze module needs at least one generator layer")
        if depth < 1:
            raise ValueError("the squeeze MLP needs at least one layer")
        self.layer_channels = list(layer_channels)
        self.layer_maps = nn.ModuleList(nn.Linear(c, hidden) for c in self.layer_channels)
        blocks: list[nn.Module] = []
        for _ in range(depth - 1):
            blocks += [nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
        blocks.append(nn.Linear(hidden, dim))
        self.head = nn.Sequential(*blocks)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """features: one [N, C_l, H_l, W_l] map per layer, in the order given at construction."""
        if len(features) != len(self.layer_maps):
            raise ValueError(f"expected {len(self.layer_maps)} feature maps, got {len(features)}")
        summed = None
        for layer_map, feature in zip(self.layer_maps, features):
            mapped = layer_map(feature.mean(dim=(2, 3)))
            summed = mapped if summed is None else summed + mapped
        return self.head(summed)
