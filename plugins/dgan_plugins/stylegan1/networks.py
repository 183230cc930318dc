"""The StyleGAN1 generator of the DatasetGAN release, written for dgan from docs/stylegan1.md.

Module and parameter names follow the release's `.for_g_all.pt` state dicts
(`g_mapping.dense0.weight`, `g_synthesis.blocks.8x8.conv0_up.intermediate.kernel`,
...), so `state_dict()` has exactly their keys, in their order. The average
latent and the const noise are not in those files: they are non-persistent
buffers, set by the loader.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F

NOISE_MODES = ("const", "random", "none")
LRELU_SLOPE = 0.2
MAPPING_LRMUL = 0.01
MAPPING_BROADCAST = 18  # the release's mapping always emits 18 rows; synthesis reads the first num_ws
FUSED_MIN_OUTPUT = 128  # the release upsamples with a transposed conv when a block's output is this large
INSTANCE_NORM_EPS = 1e-5  # torch's InstanceNorm2d default, as in the release (TF StyleGAN used 1e-8)


def release_channels(resolution: int, fmap_base: int = 16384, fmap_max: int = 512) -> list[int]:
    """C(r) = min(fmap_base / r, fmap_max) for r = 4 .. resolution (the release: 16384 and 512)."""
    return [min(fmap_base // (2 ** k), fmap_max) for k in range(2, int(math.log2(resolution)) + 1)]


def default_cutoff(resolution: int) -> int:
    """Rows of w+ the release truncates: 7 for its 256 px cat and bedroom generators, else 8."""
    return 7 if resolution == 256 else 8


class EqualLinear(torch.nn.Module):
    """Dense layer with equalised lr: W * gain / sqrt(fan_in) * lrmul, bias * lrmul."""

    def __init__(self, in_features: int, out_features: int, gain: float, lrmul: float = 1.0):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(out_features, in_features))
        self.bias = torch.nn.Parameter(torch.zeros(out_features))
        self.weight_gain = gain / math.sqrt(in_features) * lrmul
        self.lrmul = lrmul

    def forward(self, x):
        return F.linear(x, self.weight * self.weight_gain, self.bias * self.lrmul)


class Blur(torch.nn.Module):
    """Depthwise 3x3 [1,2,1] x [1,2,1] / 16 filter; the kernel is a stored buffer in the release."""

    def __init__(self):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        self.register_buffer("kernel", (k[:, None] * k[None, :] / 16).view(1, 1, 3, 3))

    def forward(self, x):
        return F.conv2d(x, self.kernel.expand(x.shape[1], -1, -1, -1), padding=1, groups=x.shape[1])


class EqualConv(torch.nn.Module):
    """k x k conv with equalised lr (gain / sqrt(in * k * k)); `up` doubles the size, then blurs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, gain: float, up: bool = False):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = torch.nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = gain / math.sqrt(in_channels * kernel_size ** 2)
        self.up = up
        if up:
            self.intermediate = Blur()

    def forward(self, x):
        w = self.weight * self.weight_gain
        if not self.up:
            return F.conv2d(x, w, self.bias, padding=w.shape[-1] // 2)
        if 2 * min(x.shape[2:]) >= FUSED_MIN_OUTPUT:
            # Fused: the 3x3 kernel summed over its four one-pixel shifts is a 4x4 kernel,
            # applied as a stride-2 transposed conv. Not equal to the nearest-neighbour path.
            w = F.pad(w, (1, 1, 1, 1))
            w = w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]
            x = F.conv_transpose2d(x, w.transpose(0, 1), stride=2, padding=1)
        else:
            x = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), w, padding=w.shape[-1] // 2)
        return self.intermediate(x) + self.bias.view(1, -1, 1, 1)


class NoiseInput(torch.nn.Module):
    """Per-pixel noise scaled per channel; `noise_const` is the fixed map of noise mode "const"."""

    def __init__(self, channels: int, resolution: int):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(channels))
        self.register_buffer("noise_const", torch.zeros(1, 1, resolution, resolution), persistent=False)

    def forward(self, x, noise_mode: str):
        if noise_mode == "none":
            return x
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
        else:
            noise = self.noise_const
        return x + self.weight.view(1, -1, 1, 1) * noise


class TopEpilogue(torch.nn.Module):
    """Holds the noise input under the release's `top_epi.noise` name."""

    def __init__(self, channels: int, resolution: int):
        super().__init__()
        self.noise = NoiseInput(channels, resolution)


class StyleMod(torch.nn.Module):
    def __init__(self, w_dim: int, channels: int):
        super().__init__()
        self.lin = EqualLinear(w_dim, 2 * channels, gain=1.0)


class Epilogue(torch.nn.Module):
    """After every conv: noise, lrelu, instance norm, then AdaIN-style modulation by one w row."""

    def __init__(self, channels: int, resolution: int, w_dim: int):
        super().__init__()
        self.top_epi = TopEpilogue(channels, resolution)
        self.style_mod = StyleMod(w_dim, channels)

    def forward(self, x, w, noise_mode: str):
        x = self.top_epi.noise(x, noise_mode)
        x = F.leaky_relu(x, LRELU_SLOPE)
        x = F.instance_norm(x, eps=INSTANCE_NORM_EPS)
        scale, shift = self.style_mod.lin(w).unflatten(1, (2, x.shape[1])).unbind(1)
        return x * (1 + scale[:, :, None, None]) + shift[:, :, None, None]


class InputBlock(torch.nn.Module):
    """4x4: learned const + bias, epilogue, 3x3 conv, epilogue."""

    def __init__(self, channels: int, w_dim: int):
        super().__init__()
        self.const = torch.nn.Parameter(torch.zeros(1, channels, 4, 4))
        self.bias = torch.nn.Parameter(torch.zeros(channels))
        self.epi1 = Epilogue(channels, 4, w_dim)
        self.conv = EqualConv(channels, channels, 3, gain=math.sqrt(2))
        self.epi2 = Epilogue(channels, 4, w_dim)

    def forward(self, x, ws, noise_mode):
        x = self.const.expand(ws.shape[0], -1, -1, -1) + self.bias.view(1, -1, 1, 1)
        conv = self.conv(self.epi1(x, ws[:, 0], noise_mode))
        return self.epi2(conv, ws[:, 1], noise_mode), conv


class UpBlock(torch.nn.Module):
    """r x r (r >= 8): 2x up conv + blur, epilogue, 3x3 conv, epilogue."""

    def __init__(self, in_channels: int, channels: int, resolution: int, w_dim: int):
        super().__init__()
        self.conv0_up = EqualConv(in_channels, channels, 3, gain=math.sqrt(2), up=True)
        self.epi1 = Epilogue(channels, resolution, w_dim)
        self.conv1 = EqualConv(channels, channels, 3, gain=math.sqrt(2))
        self.epi2 = Epilogue(channels, resolution, w_dim)

    def forward(self, x, ws, noise_mode):
        conv = self.conv1(self.epi1(self.conv0_up(x), ws[:, 0], noise_mode))
        return self.epi2(conv, ws[:, 1], noise_mode), conv


class Mapping(torch.nn.Module):
    """Pixel norm, then `num_layers` x (equalised dense with lr multiplier 0.01, lrelu)."""

    def __init__(self, z_dim: int, w_dim: int, num_layers: int):
        super().__init__()
        self.num_layers = num_layers
        for i in range(num_layers):
            setattr(self, f"dense{i}", EqualLinear(z_dim if i == 0 else w_dim, w_dim, math.sqrt(2), MAPPING_LRMUL))

    def forward(self, z):
        x = z * (z.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()
        for i in range(self.num_layers):
            x = F.leaky_relu(getattr(self, f"dense{i}")(x), LRELU_SLOPE)
        return x


class Synthesis(torch.nn.Module):
    """w+ [N, num_ws, w_dim] -> image; two w rows per block; one ToRGB on the last block."""

    def __init__(self, resolution: int, channels: list[int], w_dim: int):
        super().__init__()
        self.resolutions = [2 ** k for k in range(2, int(math.log2(resolution)) + 1)]
        self.torgb = EqualConv(channels[-1], 3, 1, gain=1.0)
        blocks = {}
        for i, res in enumerate(self.resolutions):
            blocks[f"{res}x{res}"] = (InputBlock(channels[0], w_dim) if i == 0 else
                                      UpBlock(channels[i - 1], channels[i], res, w_dim))
        self.blocks = torch.nn.ModuleDict(blocks)

    def layer_specs(self) -> list[tuple[str, int, int]]:
        """(name, channels, resolution) of the release's feature taps, in its order.

        Per block: its output after the second epilogue ("b{r}.epi2"), then its
        last conv's raw output, bias included ("b4.conv", "b{r}.conv1").
        """
        specs = []
        for res, block in zip(self.resolutions, self.blocks.values()):
            conv = "conv" if res == 4 else "conv1"
            channels = getattr(block, conv).weight.shape[0]
            specs += [(f"b{res}.epi2", channels, res), (f"b{res}.{conv}", channels, res)]
        return specs

    def render(self, ws, noise_mode: str = "const", capture=()):
        """(image [N, 3, R, R], {tap name: map}) for the taps named in `capture`."""
        features = {}
        x = None
        for i, (res, block) in enumerate(zip(self.resolutions, self.blocks.values())):
            x, conv = block(x, ws[:, 2 * i:2 * i + 2], noise_mode)
            for name, value in ((f"b{res}.epi2", x), (f"b{res}.{'conv' if res == 4 else 'conv1'}", conv)):
                if name in capture:
                    features[name] = value
        return self.torgb(x), features


class Generator(torch.nn.Module):
    """G(z) = synthesis(truncate(mapping(z))); `config` rebuilds it, the avg latent is set by the loader."""

    def __init__(self, resolution: int, channels: list[int], z_dim: int = 512, w_dim: int = 512,
                 mapping_layers: int = 8, truncation_cutoff: int | None = None, noise_seed: int = 0):
        super().__init__()
        log2 = int(math.log2(resolution)) if resolution >= 4 else 0
        if resolution < 4 or 2 ** log2 != resolution:
            raise ValueError(f"resolution must be a power of two >= 4, not {resolution}")
        if len(channels) != log2 - 1:
            raise ValueError(f"{resolution} px needs {log2 - 1} channel counts, got {len(channels)}")
        self.num_ws = 2 * (log2 - 1)
        if self.num_ws > MAPPING_BROADCAST:
            raise ValueError(f"the release's mapping feeds at most {MAPPING_BROADCAST} w rows (1024 px)")
        cutoff = default_cutoff(resolution) if truncation_cutoff is None else int(truncation_cutoff)
        self._config = dict(resolution=resolution, channels=[int(c) for c in channels], z_dim=z_dim, w_dim=w_dim,
                            mapping_layers=mapping_layers, truncation_cutoff=cutoff, noise_seed=noise_seed)
        self.resolution, self.z_dim, self.w_dim, self.truncation_cutoff = resolution, z_dim, w_dim, cutoff
        self.g_mapping = Mapping(z_dim, w_dim, mapping_layers)
        self.g_synthesis = Synthesis(resolution, channels, w_dim)
        self.register_buffer("avg_latent", torch.zeros(self.num_ws, w_dim), persistent=False)
        self._fill_const_noise(noise_seed)

    @property
    def config(self) -> dict:
        return copy.deepcopy(self._config)

    def noise_inputs(self) -> list[NoiseInput]:
        return [m for m in self.g_synthesis.modules() if isinstance(m, NoiseInput)]

    def _fill_const_noise(self, seed: int) -> None:
        # numpy's RandomState stream is fixed across versions and machines.
        for i, layer in enumerate(self.noise_inputs()):
            shape = layer.noise_const.shape
            layer.noise_const.copy_(torch.from_numpy(np.random.RandomState(seed + i).randn(*shape)).float())

    def mapping(self, z, c=None, truncation_psi: float = 1.0, truncation_cutoff: int | None = None):
        """z [N, z_dim] -> w+ [N, num_ws, w_dim]; rows below the cutoff lerp towards the avg latent."""
        w = self.g_mapping(z.to(torch.float32)).unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi == 1:
            return w
        cutoff = self.truncation_cutoff if truncation_cutoff is None else truncation_cutoff
        rows = (torch.arange(self.num_ws, device=w.device) < cutoff).view(1, -1, 1)
        return torch.where(rows, torch.lerp(self.avg_latent, w, truncation_psi), w)

    def forward(self, z, c=None, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                noise_mode: str = "const"):
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.g_synthesis.render(ws, noise_mode=noise_mode)[0]

    @torch.no_grad()
    def mean_w(self, samples: int = 8000, seed: int = 0) -> torch.Tensor:
        """Mean mapping output of `samples` seeded z, as the release estimates its avg latent."""
        z = np.random.RandomState(seed).randn(samples, self.z_dim)
        total = torch.zeros(self.w_dim, dtype=torch.float64)
        for chunk in np.array_split(z, max(1, samples // 1000)):
            total += self.g_mapping(torch.from_numpy(chunk).float().to(self.avg_latent.device)).double().sum(0).cpu()
        return (total / samples).float()
