"""The StyleGAN2 residual discriminator (config F), with equalised learning rate.

    image -> fromRGB (1x1) at full resolution
          -> one residual block per resolution down to 8x8:
             [3x3 conv, 3x3 conv + FIR 2x down] + [FIR 2x down + 1x1 conv], each path x sqrt(1/2)
          -> 4x4 epilogue: minibatch stddev, 3x3 conv, fully connected, fully connected -> 1 logit

Channels at resolution r: min(channel_base // r, channel_max), as in the generator.
Weights are stored N(0, 1) and scaled by 1/sqrt(fan_in) at run time, so Adam
sees every layer at the same scale. The FIR and resampling ops are the
generator's (`dgan_plugins.stylegan2.ops`), so both networks filter identically.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from dgan_plugins.stylegan2.ops import bias_act, conv2d_resample, setup_filter

FIR_TAPS = (1, 3, 3, 1)


class EqualConv2d(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "lrelu", down: int = 1, gain: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.activation, self.down, self.gain = activation, down, gain
        self.padding = kernel_size // 2
        self.register_buffer("resample_filter", setup_filter(FIR_TAPS) if down > 1 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = conv2d_resample(x, self.weight * self.weight_gain, f=self.resample_filter, down=self.down,
                            padding=self.padding)
        act_gain = 1.0 if self.activation == "linear" else math.sqrt(2)
        return bias_act(x, self.bias, act=self.activation, gain=act_gain * self.gain)


class EqualLinear(nn.Module):
    def __init__(self, in_features: int, out_features: int, activation: str = "lrelu"):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.weight_gain = 1 / math.sqrt(in_features)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bias_act(x @ (self.weight * self.weight_gain).t(), self.bias, act=self.activation)


class ResidualBlock(nn.Module):
    """Halves the resolution; the sqrt(1/2) gains keep the sum at unit variance."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, down=2, gain=math.sqrt(0.5))
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, activation="linear", down=2,
                                gain=math.sqrt(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.conv1(self.conv0(x))


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    """Append one channel: the feature stddev within groups of samples, averaged.

    Sample i is grouped with samples i + k * (N / G), G the largest divisor of
    N that is <= group_size, so any batch size works.
    """
    n, c, h, w = x.shape
    group = max(g for g in range(1, min(group_size, n) + 1) if n % g == 0)
    y = x.reshape(group, n // group, c, h, w)
    y = (y - y.mean(dim=0)).square().mean(dim=0)
    y = (y + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [N / G]
    y = y.reshape(1, -1, 1, 1, 1).expand(group, -1, 1, h, w).reshape(n, 1, h, w)
    return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    def __init__(self, resolution: int, channel_base: int = 4096, channel_max: int = 128,
                 img_channels: int = 3, mbstd_group: int = 4):
        super().__init__()
        if resolution < 4 or resolution & (resolution - 1):
            raise ValueError(f"resolution must be a power of two >= 4, got {resolution}")
        self.resolution, self.img_channels, self.mbstd_group = resolution, img_channels, mbstd_group

        def channels(res: int) -> int:
            return min(channel_base // res, channel_max)

        self.from_rgb = EqualConv2d(img_channels, channels(resolution), 1)
        blocks, res = [], resolution
        while res > 4:
            blocks.append(ResidualBlock(channels(res), channels(res // 2)))
            res //= 2
        self.blocks = nn.Sequential(*blocks)
        top = channels(4)
        self.epilogue_conv = EqualConv2d(top + 1, top, 3)
        self.epilogue_fc = EqualLinear(top * 4 * 4, top)
        self.out = EqualLinear(top, 1, activation="linear")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """[N, C, R, R] images in [-1, 1] -> [N] logits (higher = judged real)."""
        x = self.blocks(self.from_rgb(images))
        x = self.epilogue_conv(minibatch_stddev(x, self.mbstd_group))
        x = self.epilogue_fc(x.flatten(1))
        return self.out(x).squeeze(1)
