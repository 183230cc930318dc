"""Semantic-preserving augmentations, drawn independently for every image of a batch.

The reference's recipe (SimSiam/VICReg-style): random resized crop (area
0.2-1, aspect 3/4-4/3), horizontal flip, colour jitter (brightness, contrast,
saturation 0.4, hue 0.1) with p=0.8, grayscale with p=0.2, and Gaussian blur
(sigma 0.1-2) with p=0.5 above 32px. Differences, on purpose: each image gets
its own draw (torchvision transforms applied to a batch tensor share one draw),
the jitter steps run in a fixed order, and hue is a rotation of the YIQ chroma
plane. All randomness comes from the `generator` argument (same seed, same bytes).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# Student inputs are [0, 1] images normalised with these (i.e. mapped to [-1, 1]).
INPUT_MEAN = (0.5, 0.5, 0.5)
INPUT_STD = (0.5, 0.5, 0.5)

CROP_AREA = (0.2, 1.0)
CROP_LOG_RATIO = (math.log(3 / 4), math.log(4 / 3))
JITTER = (0.4, 0.4, 0.4, 0.1)  # brightness, contrast, saturation, hue
JITTER_P, GRAY_P, FLIP_P, BLUR_P = 0.8, 0.2, 0.5, 0.5
BLUR_SIGMA = (0.1, 2.0)
BLUR_MIN_RESOLUTION = 33  # the reference blurs all but the 32px CIFAR images

_GRAY = torch.tensor([0.299, 0.587, 0.114])
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def normalize(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] images -> the student's input range."""
    mean = torch.tensor(INPUT_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(INPUT_STD, device=images.device).view(1, 3, 1, 1)
    return (images - mean) / std


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """images [N, 3, R, R] in [0, 1] -> augmented and normalised student inputs, same shape."""
    n, device = images.shape[0], images.device
    draws = torch.rand([n, 13], generator=generator).to(device)  # one fixed-size draw: same stream every call
    x = _resized_crop_and_flip(images, draws[:, 0:5])
    x = _colour_jitter(x, draws[:, 5:9], apply=draws[:, 9] < JITTER_P)
    x = torch.where((draws[:, 10] < GRAY_P).view(n, 1, 1, 1), _gray(x).expand_as(x), x)
    if images.shape[-1] >= BLUR_MIN_RESOLUTION:
        x = _blur(x, sigma=BLUR_SIGMA[0] + draws[:, 11] * (BLUR_SIGMA[1] - BLUR_SIGMA[0]),
                  apply=draws[:, 12] < BLUR_P)
    return normalize(x)


def _resized_crop_and_flip(images: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    area = CROP_AREA[0] + u[:, 0] * (CROP_AREA[1] - CROP_AREA[0])
    ratio = torch.exp(CROP_LOG_RATIO[0] + u[:, 1] * (CROP_LOG_RATIO[1] - CROP_LOG_RATIO[0]))
    width = torch.sqrt(area * ratio).clamp(max=1.0)  # fractions of the image side
    height = torch.sqrt(area / ratio).clamp(max=1.0)
    # the crop centre is uniform over positions that keep the crop inside the image
    centre_x = (u[:, 2] * (1 - width) + width / 2) * 2 - 1
    centre_y = (u[:, 3] * (1 - height) + height / 2) * 2 - 1
    flip = torch.where(u[:, 4] < FLIP_P, -1.0, 1.0)
    theta = torch.zeros([images.shape[0], 2, 3], device=images.device)
    theta[:, 0, 0], theta[:, 0, 2] = width * flip, centre_x
    theta[:, 1, 1], theta[:, 1, 2] = height, centre_y
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _gray(x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("c,nchw->nhw", _GRAY.to(x.device), x).unsqueeze(1)


def _colour_jitter(x: torch.Tensor, u: torch.Tensor, apply: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    brightness, contrast, saturation, hue = JITTER
    identity = torch.tensor([1.0, 1.0, 1.0, 0.0], device=x.device)
    spread = torch.tensor([brightness, contrast, saturation, hue], device=x.device)
    factors = identity + (2 * u - 1) * spread
    factors = torch.where(apply.view(n, 1), factors, identity)
    b, c, s, h = (factors[:, i].view(n, 1, 1, 1) for i in range(4))
    x = (x * b).clamp(0, 1)
    mean = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * c + mean).clamp(0, 1)
    gray = _gray(x)
    x = (gray + (x - gray) * s).clamp(0, 1)
    return _rotate_hue(x, h.view(n) * 2 * math.pi).clamp(0, 1)


def _rotate_hue(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    to_yiq = _RGB_TO_YIQ.to(x.device)
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.zeros([x.shape[0], 3, 3], device=x.device)
    rotation[:, 0, 0] = 1
    rotation[:, 1, 1], rotation[:, 1, 2] = cos, -sin
    rotation[:, 2, 1], rotation[:, 2, 2] = sin, cos
    matrix = torch.linalg.inv(to_yiq) @ rotation @ to_yiq
    return torch.einsum("nij,njhw->nihw", matrix, x)


def _blur(x: torch.Tensor, sigma: torch.Tensor, apply: torch.Tensor) -> torch.Tensor:
    n, channels, height, width = x.shape
    radius = math.ceil(3 * BLUR_SIGMA[1])
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-offsets.square() / (2 * sigma.view(n, 1).square()))
    kernel = kernel / kernel.sum(dim=1, keepdim=True)
    delta = (offsets == 0).to(x.dtype).expand(n, -1)
    kernel = torch.where(apply.view(n, 1), kernel, delta)
    weight = kernel.repeat_interleave(channels, dim=0)  # one kernel per (image, channel)
    flat = F.pad(x.reshape(1, n * channels, height, width), [radius] * 4, mode="reflect")
    flat = F.conv2d(flat, weight.view(-1, 1, 1, 2 * radius + 1), groups=n * channels)
    flat = F.conv2d(flat, weight.view(-1, 1, 2 * radius + 1, 1), groups=n * channels)
    return flat.view(n, channels, height, width)
