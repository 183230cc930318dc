"""Running an ensemble over whole images: the fast path and the naive reference.

The first layer of every member is linear and so is bilinear upsampling, so
`W1 . up(concat_l f_l) = sum_l up(W1_l . f_l)`. The fast path applies each
resolution group's slice of the first layer (all members stacked: one matmul
per group) at the group's native resolution. The image is then built in
bands of full-resolution rows small enough to stay in cache: the group at
image resolution (if any) goes through its slice of the first layer straight
into the band, the other groups' small results are upsampled into it, and
ReLU and the following layers (eval-mode BatchNorms folded into them, all
members at once as batched matmuls) run on the band while it is hot. Nothing
of size `C x H x W` (input features or hidden activations) is ever built.

Upsampling is done as two small matmuls per band, because its weights are
the same for every channel: rows are blended at native width (`V @ rows`,
V holding the band's row weights), then every output piece of `CHUNK`
columns is `U @ taps`, the taps being the few native columns that piece
reads, from all groups at once, accumulated into the band in place.
The naive path (upsample, concatenate, per-pixel MLPs) exists for tests and
benchmarks.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from dgan_cli.cache.pixels import interp_matrix
from dgan_cli.interpreter.ensemble import Ensemble
from dgan_cli.types import LayerInfo

# One band's first-layer activations (float32). On CPU a share of a server L3 (6 rows of a 256px image with
# 10 x 128 hidden units; 3 to 12 rows measured the same); on an accelerator, large bands mean few launches.
CPU_BAND_BYTES, DEVICE_BAND_BYTES = 8 << 20, 1 << 30
CHUNK = 32  # output columns per widening matmul: wider pieces multiply more zeros, narrower read more halo


def _bn_affine(bn: torch.nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as x * scale + shift."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


def _span(weights: np.ndarray) -> tuple[int, int]:
    """First and one-past-last column of an interpolation matrix that carry weight."""
    cols = np.flatnonzero(weights.any(axis=0))
    return int(cols[0]), int(cols[-1]) + 1


def _chunk_size(width: int) -> int:
    """The largest divisor of `width` up to CHUNK; the whole width when that divisor is tiny."""
    best = max(d for d in range(1, min(width, CHUNK) + 1) if width % d == 0)
    return best if best >= CHUNK // 4 else width


@dataclass
class _Group:
    resolution: int
    layers: list[str]
    weight_t: torch.Tensor  # [the group's channels, M * H1]: its slice of the first layer, transposed


@dataclass
class _Widen:
    """Full-width rows from the row-blended maps of the groups below image size, laid side by side
    ([rows, sum of widths, C]): output columns c*chunk:(c+1)*chunk are weights[c] @ (columns taps[c])."""
    chunk: int
    taps: torch.Tensor  # [pieces * K] column indices into the side-by-side maps
    weights: torch.Tensor  # [pieces, chunk, K]

    @classmethod
    def plan(cls, widths: Sequence[int], width: int, device: torch.device) -> "_Widen":
        chunk = _chunk_size(width)
        pieces = width // chunk
        taps, blocks, offset = [], [], 0
        for w in widths:
            m = interp_matrix(w, width)  # [width, w]
            spans = [_span(m[c * chunk:(c + 1) * chunk]) for c in range(pieces)]
            n = max(stop - start for start, stop in spans)
            starts = [min(start, w - n) for start, _ in spans]  # every piece reads n columns
            taps.append(np.stack([offset + s + np.arange(n) for s in starts]))
            blocks.append(np.stack([m[c * chunk:(c + 1) * chunk, s:s + n] for c, s in enumerate(starts)]))
            offset += w
        return cls(chunk, torch.from_numpy(np.concatenate(taps, axis=1).reshape(-1)).to(device),
                   torch.from_numpy(np.concatenate(blocks, axis=2)).to(device))


class FastEnsemble:
    """An eval-mode ensemble applied to native-resolution feature maps.

    `__call__(features)` takes {layer: [B, C, r, r]} (any float dtype) and returns
    every member's outputs [B, M, K, H, W] (float32). Full-resolution hidden
    activations exist one band of rows at a time: `tile_rows` rows, else as
    many as fit `band_bytes` (default: CPU_BAND_BYTES on CPU, else
    DEVICE_BAND_BYTES). Besides the output, a call holds one image's
    native-resolution first-layer maps of the groups below image size.
    """

    def __init__(self, ensemble: Ensemble, layers: Sequence[LayerInfo], image_hw: tuple[int, int],
                 device: str | torch.device = "cpu", band_bytes: int | None = None):
        if sum(layer.channels for layer in layers) != ensemble.in_dim:
            raise ValueError("layers do not add up to the ensemble's input width")
        self.image_hw = (int(image_hw[0]), int(image_hw[1]))
        self.members, self.num_outputs = len(ensemble), ensemble.num_outputs
        self.device = torch.device(device)
        self.band_bytes = int(band_bytes or (CPU_BAND_BYTES if self.device.type == "cpu" else DEVICE_BAND_BYTES))
        with torch.no_grad():
            self._fold(ensemble, layers)
        height, width = self.image_hw
        self.top = next((g for g in self.groups if (g.resolution, g.resolution) == (height, width)), None)
        self.below = [g for g in self.groups if g is not self.top]
        self.widen = _Widen.plan([g.resolution for g in self.below], width, self.device) if self.below else None
        self._row_plans: dict[int, list] = {}

    def _fold(self, ensemble: Ensemble, layers: Sequence[LayerInfo]) -> None:
        w1 = torch.cat([m[0].weight for m in ensemble.members])  # [M*H1, C]
        self.hidden_width = w1.shape[0]
        self.b1 = torch.cat([m[0].bias for m in ensemble.members])
        offsets = np.cumsum([0] + [layer.channels for layer in layers])
        by_res: dict[int, list[int]] = {}
        for i, layer in enumerate(layers):
            by_res.setdefault(layer.resolution, []).append(i)
        self.groups = []
        for res, idx in sorted(by_res.items()):
            cols = torch.cat([w1[:, offsets[i]:offsets[i + 1]] for i in idx], dim=1)
            self.groups.append(_Group(res, [layers[i].name for i in idx], cols.T.detach().float().contiguous()))
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
            group.weight_t = group.weight_t.to(self.device)

    def band_rows(self, tile_rows: int | None = None) -> int:
        """Rows per band: `tile_rows`, else as many as fit `band_bytes`."""
        height, width = self.image_hw
        if tile_rows is None:
            tile_rows = self.band_bytes // (width * self.hidden_width * 4)
        return max(1, min(height, int(tile_rows)))

    @torch.no_grad()
    def __call__(self, features: Mapping[str, torch.Tensor], tile_rows: int | None = None) -> torch.Tensor:
        height, width = self.image_hw
        rows = self.band_rows(tile_rows)
        batch = next(iter(features.values())).shape[0]
        out = torch.empty(batch, self.members, self.num_outputs, height, width, device=self.device)
        band = torch.empty(rows * width, self.hidden_width, device=self.device)
        if self.below:
            side_by_side = torch.empty(rows, sum(g.resolution for g in self.below), self.hidden_width,
                                       device=self.device)
            weights = self.widen.weights.repeat(rows, 1, 1)  # one copy per band row: [rows * pieces, chunk, K]
        for b in range(batch):
            native = [self._first_layer(g, features, b) for g in self.below]
            if native:  # interpolation weights sum to 1: the smallest map carries the first bias to every pixel
                native[0].add_(self.b1)
            for y0, row_taps in zip(range(0, height, rows), self._row_taps(rows)):
                y1 = min(y0 + rows, height)
                z1 = band[:(y1 - y0) * width]
                if self.top is not None:
                    self._top(z1, features, b, y0, y1)
                if native:
                    self._add_below(z1, native, row_taps, side_by_side[:y1 - y0], weights,
                                    accumulate=self.top is not None)
                self._rest(z1, out[b, :, :, y0:y1])
        return out

    # Activations are pixel-major ([pixels, M*H1]): the first layer is one wide matmul per group or band
    # and each member's slice feeds a strided batched matmul. (Member-major [M, pixels, H1] speeds up the
    # second layer but splits the first into M narrow matmuls: measured 1.3x slower in all.)
    def _first_layer(self, group: _Group, features, b: int) -> torch.Tensor:
        """Image b's share of the first layer from a group below image size, at native resolution -> [r, r, M*H1]."""
        x = torch.cat([features[name][b] for name in group.layers]).to(self.device, torch.float32)
        channels, h, w = x.shape
        return torch.mm(x.reshape(channels, h * w).T, group.weight_t).view(h, w, -1)

    def _top(self, z1: torch.Tensor, features, b: int, y0: int, y1: int) -> None:
        """Write the band's share of the group at image resolution into z1 (with the first bias when no
        group lies below image size to carry it)."""
        x = torch.cat([features[name][b, :, y0:y1] for name in self.top.layers]).to(self.device, torch.float32)
        pixels = x.reshape(x.shape[0], -1).T
        if self.below:
            torch.mm(pixels, self.top.weight_t, out=z1)
        else:
            torch.addmm(self.b1, pixels, self.top.weight_t, out=z1)

    def _row_taps(self, rows: int) -> list[list[tuple[int, int, torch.Tensor]]]:
        """Per band, per group below image size: the native rows it reads (start, stop) and their weights."""
        if rows not in self._row_plans:
            height = self.image_hw[0]
            plans = []
            for y0 in range(0, height, rows):
                band = []
                for group in self.below:
                    m = interp_matrix(group.resolution, height, y0, min(y0 + rows, height))
                    start, stop = _span(m)
                    band.append((start, stop, torch.from_numpy(m[:, start:stop]).to(self.device)))
                plans.append(band)
            self._row_plans[rows] = plans
        return self._row_plans[rows]

    def _add_below(self, z1: torch.Tensor, native: list[torch.Tensor], row_taps, side_by_side, weights,
                   accumulate: bool) -> None:
        """The upsampled shares of the groups below image size, added to the band z1 in place (written
        into it when not `accumulate`)."""
        rows, _, hidden = side_by_side.shape
        offset = 0
        for g, (start, stop, v) in zip(native, row_taps):  # rows blended at native width
            _, w, _ = g.shape
            torch.mm(v, g[start:stop].reshape(stop - start, w * hidden),
                     out=side_by_side[:, offset:offset + w].view(rows, w * hidden))
            offset += w
        pieces = z1.shape[0] // self.widen.chunk  # over all the band's rows
        taps = side_by_side.index_select(1, self.widen.taps).view(pieces, -1, hidden)
        pieces_out = z1.view(pieces, self.widen.chunk, hidden)
        if accumulate:
            pieces_out.baddbmm_(weights[:pieces], taps)
        else:
            torch.bmm(weights[:pieces], taps, out=pieces_out)

    def _rest(self, z1: torch.Tensor, out: torch.Tensor) -> None:
        """ReLU, then the folded second and third layers for all members, into out [M, K, rows, W]."""
        a1 = torch.relu_(z1).view(z1.shape[0], self.members, -1).transpose(0, 1)  # [M, P, H1], strided
        a2 = torch.relu_(torch.baddbmm(self.b2, a1, self.w2))
        result = torch.baddbmm(self.b3, a2, self.w3)  # [M, P, K]
        out.copy_(result.view(self.members, out.shape[2], out.shape[3], -1).permute(0, 3, 1, 2))


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
