"""Downstream dense-prediction networks, trained from scratch.

Every network maps images [B,3,H,W] (floats in 0..1) to
[B, C, H, W] maps; the task decides what the C channels mean (class logits,
keypoint heatmaps, one depth channel). Nothing is downloaded: torchvision
models are built with `weights=None, weights_backbone=None`; `resnet18` can
start from a plain torchvision ResNet-18 state dict instead (e.g. the one
`dgan distill export` writes).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

NETWORKS = ("unet", "deeplabv3", "resnet18")


def build_network(name: str, out_channels: int, width: int = 16,
                  encoder: dict[str, torch.Tensor] | None = None) -> nn.Module:
    """`encoder`: initial ResNet-18 weights (`resnet18` only; see `load_resnet18_state`)."""
    if encoder is not None and name != "resnet18":
        raise ValueError("encoder weights need the resnet18 network")
    if name == "unet":
        return SmallUNet(out_channels, width)
    if name == "deeplabv3":
        return DeepLabV3MobileNet(out_channels)
    if name == "resnet18":
        return ResNet18FPN(out_channels, encoder)
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


def _resnet18(cifar_stem: bool) -> nn.Module:
    from torchvision.models import resnet18

    net = resnet18(weights=None, num_classes=512)
    if cifar_stem:  # 3x3 stride-1 first conv, no max-pool: the stem of `dgan distill` for small images
        net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    return net


def load_resnet18_state(path) -> dict[str, torch.Tensor]:
    """A plain torchvision ResNet-18 state dict from `path`, checked against the architecture.

    Either stem is accepted (told apart by conv1's kernel); `fc` is ignored.
    Raises ValueError with a one-line reason.
    """
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a non-torch or truncated file
        raise ValueError(f"{path}: not a readable torch file ({type(exc).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a state dict of tensors (a `dgan distill` student checkpoint must be "
                         "exported first: dgan distill export)")
    conv1 = state.get("conv1.weight")
    if conv1 is None or conv1.dim() != 4:
        raise ValueError(f"{path}: no 'conv1.weight': not a torchvision ResNet-18 state dict")
    encoder = {k: v for k, v in state.items() if not k.startswith("fc.")}
    expected = {k: v.shape for k, v in _resnet18(conv1.shape[-1] == 3).state_dict().items()
                if not k.startswith("fc.")}
    missing = sorted(set(expected) - set(encoder))
    extra = sorted(set(encoder) - set(expected))
    wrong = sorted(k for k in set(expected) & set(encoder) if encoder[k].shape != expected[k])
    if missing or extra or wrong:
        first = (missing and f"missing {missing[0]}") or (extra and f"unexpected {extra[0]}") or \
            f"{wrong[0]} has shape {list(encoder[wrong[0]].shape)}, ResNet-18 {list(expected[wrong[0]])}"
        raise ValueError(f"{path}: not a torchvision ResNet-18 state dict ({first}; "
                         f"{len(missing) + len(extra) + len(wrong)} mismatched tensors)")
    return encoder


class ResNet18FPN(nn.Module):
    """torchvision ResNet-18 encoder with a small feature-pyramid decoder back to the input size.

    Starts from `encoder` weights when given (their stem decides the first
    conv), else from random weights with the CIFAR stem, which keeps 64 px
    inputs at full resolution in the first stage. Inputs are normalised as
    `dgan distill` trains its students: (x - 0.5) / 0.5.
    """

    def __init__(self, out_channels: int, encoder: dict[str, torch.Tensor] | None = None, width: int = 64):
        super().__init__()
        net = _resnet18(cifar_stem=encoder is None or encoder["conv1.weight"].shape[-1] == 3)
        if encoder is not None:
            net.load_state_dict(encoder, strict=False)  # fc is not part of the dense network
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.stages = nn.ModuleList([net.layer1, net.layer2, net.layer3, net.layer4])
        self.lateral = nn.ModuleList([nn.Conv2d(c, width, 1) for c in (64, 128, 256, 512)])
        self.head = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=False), _norm(width),
                                  nn.ReLU(inplace=True), nn.Conv2d(width, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        x = self.stem((x - 0.5) / 0.5)
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        y = self.lateral[-1](maps[-1])
        for lateral, skip in zip(reversed(self.lateral[:-1]), reversed(maps[:-1])):
            y = F.interpolate(y, size=skip.shape[-2:], mode="bilinear", align_corners=False) + lateral(skip)
        return F.interpolate(self.head(y), size=size, mode="bilinear", align_corners=False)
