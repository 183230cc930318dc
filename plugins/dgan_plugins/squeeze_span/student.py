"""The student S_theta: a torchvision ResNet-18 encoder plus an MLP projector.

Two stems: "imagenet" is torchvision's own (7x7 stride-2 conv + max-pool);
"cifar" swaps in a 3x3 stride-1 conv1 and drops the max-pool, the usual
ResNet-18 variant for 32px images (the paper's CIFAR setting). Only `conv1`'s
weight shape differs between the two, so the encoder's state dict has exactly
torchvision's keys (without `fc`).
"""
from __future__ import annotations

import torch
import torchvision
from torch import nn

STEMS = ("cifar", "imagenet")
ENCODER_DIM = 512  # ResNet-18's pooled feature width


def auto_stem(resolution: int) -> str:
    """The paper's choice: the CIFAR stem for images up to 32px, torchvision's stem above."""
    return "cifar" if resolution <= 32 else "imagenet"


def apply_cifar_stem(model: torchvision.models.ResNet) -> torchvision.models.ResNet:
    """Turn a torchvision ResNet into the CIFAR variant, in place."""
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def resnet18_encoder(stem: str) -> torchvision.models.ResNet:
    """ResNet-18 whose forward returns the pooled 512-d feature (fc is the identity)."""
    if stem not in STEMS:
        raise ValueError(f"stem must be one of {STEMS}, not {stem!r}")
    # zero-init of each block's last BN makes every residual block start as the identity
    model = torchvision.models.resnet18(weights=None, zero_init_residual=True)
    if stem == "cifar":
        apply_cifar_stem(model)
        # the new conv1 gets the same init as torchvision gives its own convs
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.fc = nn.Identity()
    return model


def projector(dim: int, layers: int) -> nn.Sequential:
    """(Linear-BN-ReLU at 512 wide) x (layers - 1), then Linear to `dim` (the reference's layout)."""
    if layers < 1:
        raise ValueError("the projector needs at least one layer")
    blocks: list[nn.Module] = []
    for _ in range(layers - 1):
        blocks += [nn.Linear(ENCODER_DIM, ENCODER_DIM, bias=False), nn.BatchNorm1d(ENCODER_DIM),
                   nn.ReLU(inplace=True)]
    blocks.append(nn.Linear(ENCODER_DIM, dim, bias=False))
    return nn.Sequential(*blocks)


class Student(nn.Module):
    """encoder (transferred downstream) + projector (used only by the training losses)."""

    def __init__(self, stem: str, dim: int = 2048, projector_layers: int = 5):
        super().__init__()
        self.stem = stem
        self.encoder = resnet18_encoder(stem)
        self.projector = projector(dim, projector_layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.projector(self.encoder(images))
