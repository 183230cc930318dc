"""Running an ensemble over whole images: the fast path and the naive reference.

The first layer of every member is linear and so is bilinear upsampling, so
`W1 . up(concat_l f_l) = sum_l up(W1_l . f_l)`. The fast path applies each
resolution group's slice of the first layer (all members stacked: one matmul
per group) at the group's native resolution, upsamples the small result,
sums, and adds the first bias once. Eval-mode BatchNorms are folded into the
following linear layers, which then run for all members at once as batched
matmuls (a grouped 1x1 convolution). Nothing of size `sum C x H x W` is ever
built. The naive path does exactly that, and exists for tests and benchmarks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from dgan_cli.cache.pixels import axis_taps
from dgan_cli.interpreter.ensemble import Ensemble
from dgan_cli.types import LayerInfo


def _bn_affine(bn: torch.nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as x * scale + shift."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


@dataclass
class _Group:
    resolution: int
    layers: list[str]
    weight: torch.Tensor  # [M * H1, sum of the group's channels]


class FastEnsemble:
    """An eval-mode ensemble applied to native-resolution feature maps.

    `__call__(features)` takes {layer: [B, C, r, r]} and returns every
    member's outputs [B, M, K, H, W]. With `tile_rows`, the full-resolution
    hidden activations ([B, rows, W, M * H1]) exist one band of rows at a time;
    without it, bands are used only when a whole image's activations (and one
    upsampled group) would exceed `max_hidden_bytes` (float32).
    """

    def __init__(self, ensemble: Ensemble, layers: Sequence[LayerInfo], image_hw: tuple[int, int],
                 device: str | torch.device = "cpu", max_hidden_bytes: int = 2 << 30):
        if sum(layer.channels for layer in layers) != ensemble.in_dim:
            raise ValueError("layers do not add up to the ensemble's input width")
        self.image_hw = (int(image_hw[0]), int(image_hw[1]))
        self.members, self.num_outputs = len(ensemble), ensemble.num_outputs
        self.device = torch.device(device)
        self.max_hidden_bytes = int(max_hidden_bytes)
        with torch.no_grad():
            self._fold(ensemble, layers)

    def _fold(self, ensemble: Ensemble, layers: Sequence[LayerInfo]) -> None:
        w1 = torch.cat([m[0].weight for m in ensemble.members])  # [M*H1, C]
        self.b1 = torch.cat([m[0].bias for m in ensemble.members])
        offsets = np.cumsum([0] + [layer.channels for layer in layers])
        by_res: dict[int, list[int]] = {}
        for i, layer in enumerate(layers):
            by_res.setdefault(layer.resolution, []).append(i)
        self.groups = []
        for res, idx in sorted(by_res.items()):
            cols = torch.cat([w1[:, offsets[i]:offsets[i + 1]] for i in idx], dim=1)
            self.groups.append(_Group(res, [layers[i].name for i in idx], cols.contiguous()))
        w2, b2, w3, b3 = [], [], [], []
        for m in ensemble.members:
            s1, t1 = _bn_affine(m[2])
            s2, t2 = _bn_affine(m[5])
            w2.append(m[3].weight * s1)
            b2.append(m[3].bias + m[3].weight @ t1)
            w3.append(m[6].weight * s2)
            b3.append(m[6].bias + m[6].weight @ t2)
        self.w2, self.b2 = torch.stack(w2).transpose(1, 2), torch.stack(b2)[:, None]  # [M, H1, H2], [M, 1, H2]
        self.w3, self.b3 = torch.stack(w3).transpose(1, 2), torch.stack(b3)[:, None]  # [M, H2, K], [M, 1, K]
        for name in ("b1", "w2", "b2", "w3", "b3"):
            setattr(self, name, getattr(self, name).detach().float().to(self.device))
        for group in self.groups:
            group.weight = group.weight.detach().float().to(self.device)

    @torch.no_grad()
    def __call__(self, features: Mapping[str, torch.Tensor], tile_rows: int | None = None) -> torch.Tensor:
        native = [self._first_layer(group, features) for group in self.groups]
        height, width = self.image_hw
        if tile_rows is None:  # bands only when a whole image's activations would not fit the budget
            per_row = 2 * native[0].shape[0] * width * native[0].shape[-1] * 4
            tile_rows = max(1, self.max_hidden_bytes // per_row)
        rows = min(height, int(tile_rows))
        bands = [self._rest(self._hidden(native, y0, min(y0 + rows, height), rows < height))
                 for y0 in range(0, height, rows)]
        return bands[0] if len(bands) == 1 else torch.cat(bands, dim=-2)

    # Activations are kept pixel-major ([B, h, w, M*H1], "channels last"): bilinear upsampling then
    # blends contiguous channel vectors, and each member's slice feeds a strided batched matmul.
    def _first_layer(self, group: _Group, features) -> torch.Tensor:
        """The group's share of the first linear layer at native resolution -> [B, r, r, M*H1]."""
        x = torch.cat([features[name].to(self.device, torch.float32) for name in group.layers], dim=1)
        return torch.matmul(x.permute(0, 2, 3, 1), group.weight.T)

    def _hidden(self, native: list[torch.Tensor], y0: int, y1: int, tiled: bool) -> torch.Tensor:
        """First-layer activations for image rows y0:y1 (before ReLU), [B, y1-y0, W, M*H1]."""
        total = None
        for g in reversed(native):  # highest resolution first: at image size it needs no upsampling
            if tiled:
                up = upsample_rows(g, self.image_hw, y0, y1)
            elif g.shape[1:3] == self.image_hw:
                up = g  # a temporary of this call, used once: safe to accumulate into
            else:
                up = F.interpolate(g.permute(0, 3, 1, 2), size=self.image_hw, mode="bilinear",
                                   align_corners=False).permute(0, 2, 3, 1)
            total = up if total is None else total.add_(up)
        return total.add_(self.b1)

    def _rest(self, z1: torch.Tensor) -> torch.Tensor:
        """ReLU, then the folded second and third layers for all members -> [B, M, K, h, W]."""
        b, h, w, _ = z1.shape
        a1 = torch.relu_(z1).reshape(b * h * w, self.members, -1).transpose(0, 1)  # [M, P, H1], strided
        a2 = torch.relu_(torch.baddbmm(self.b2, a1, self.w2))
        out = torch.baddbmm(self.b3, a2, self.w3)  # [M, P, K]
        return out.reshape(self.members, b, h, w, self.num_outputs).permute(1, 0, 4, 2, 3).contiguous()


def upsample_rows(x: torch.Tensor, out_hw: tuple[int, int], y0: int, y1: int) -> torch.Tensor:
    """Rows y0:y1 of a bilinear upsampling (align_corners=False) of pixel-major x [B, h, w, C] (a new tensor).

    The rows are blended at the native width (cheap), then widened by a 1-row interpolation.
    """
    b, h, w, c = x.shape
    if (h, w) == tuple(out_hw):
        return x[:, y0:y1].clone()
    r0, r1, wy = (torch.as_tensor(a, device=x.device) for a in axis_taps(np.arange(y0, y1), h, out_hw[0]))
    wy = wy[:, None, None].to(x.dtype)
    rows = x[:, r0] * (1 - wy) + x[:, r1] * wy  # [B, rows, w, C]
    flat = rows.reshape(b * (y1 - y0), 1, w, c).permute(0, 3, 1, 2)
    wide = F.interpolate(flat, size=(1, out_hw[1]), mode="bilinear", align_corners=False)
    return wide.permute(0, 2, 3, 1).reshape(b, y1 - y0, out_hw[1], c)


@torch.no_grad()
def naive_outputs(ensemble: Ensemble, features: Mapping[str, torch.Tensor], layers: Sequence[LayerInfo],
                  image_hw: tuple[int, int], chunk: int = 65536) -> torch.Tensor:
    """The reference: upsample every layer to image size, concatenate, run each member per pixel.

    Returns [B, M, K, H, W] like `FastEnsemble`. Memory grows with sum C x H x W.
    """
    ensemble.eval()
    up = torch.cat([F.interpolate(features[layer.name].float(), size=tuple(image_hw), mode="bilinear",
                                  align_corners=False) for layer in layers], dim=1)
    b, c, h, w = up.shape
    pixels = up.permute(0, 2, 3, 1).reshape(-1, c)
    out = torch.cat([ensemble(pixels[i:i + chunk]) for i in range(0, len(pixels), chunk)], dim=1)
    return out.reshape(len(ensemble), b, h, w, -1).permute(1, 0, 4, 2, 3)
