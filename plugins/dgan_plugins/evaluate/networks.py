"""Downstream dense-prediction networks, trained from scratch.

Every network maps images [B,3,H,W] (floats in 0..1) to
[B, C, H, W] maps; the task decides what the C channels mean (class logits,
keypoint heatmaps, one depth channel). Nothing is downloaded: torchvision
models are built with `weights=None, weights_backbone=None`.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

NETWORKS = ("unet", "deeplabv3")


def build_network(name: str, out_channels: int, width: int = 16) -> nn.Module:
    if name == "unet":
        return SmallUNet(out_channels, width)
    if name == "deeplabv3":
        return DeepLabV3MobileNet(out_channels)
    raise ValueError(f"unknown network {name!r}")


class _Normalise(nn.Module):
    """0..1 images to roughly zero-mean inputs, inside the model so callers never forget it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - 0.5) / 0.25


def _norm(channels: int) -> nn.GroupNorm:
    # GroupNorm: batch statistics of 8-16 images would make train and eval modes disagree.
    # Up to 8 groups of at least 4 channels, dividing the channels evenly.
    groups = next(g for g in (8, 4, 2, 1) if g == 1 or (channels % g == 0 and channels // g >= 4))
    return nn.GroupNorm(groups, channels)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), _norm(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), _norm(cout), nn.ReLU(inplace=True))


class SmallUNet(nn.Module):
    """A 3-level UNet for small images (64px: 64 -> 32 -> 16 -> 8 and back)."""

    def __init__(self, out_channels: int, width: int = 16, levels: int = 3):
        super().__init__()
        widths = [width * 2 ** i for i in range(levels + 1)]
        self.normalise = _Normalise()
        self.down = nn.ModuleList([_block(3, widths[0])] +
                                  [_block(widths[i], widths[i + 1]) for i in range(levels)])
        self.up = nn.ModuleList([_block(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(levels))])
        self.out = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down[0](self.normalise(x))
        skips = [x]
        for block in self.down[1:]:
            x = block(F.max_pool2d(x, 2))
            skips.append(x)
        skips.pop()
        for block in self.up:
            skip = skips.pop()
            # resize to the skip's size so odd image sizes work too
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], 1))
        return self.out(x)


class DeepLabV3MobileNet(nn.Module):
    """torchvision DeepLabV3 with a MobileNetV3-Large backbone, random init."""

    def __init__(self, out_channels: int):
        super().__init__()
        from torchvision.models.segmentation import deeplabv3_mobilenet_v3_large

        self.normalise = _Normalise()
        self.model = deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                  num_classes=out_channels, aux_loss=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.normalise(x))["out"]
