"""Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), differentiable, for tiny to large images.

Conventions (the usual ones): an 11-tap Gaussian window with sigma 1.5 applied
without padding, K1 = 0.01, K2 = 0.03, 2x2 average pooling between scales,
scale weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333). Contrast-structure
enters at every scale, luminance at the coarsest only; the product is taken
per channel and then averaged over channels.

Small images: a scale is used only while the coarsest side still holds a
whole window, so 32 px images get 2 scales and 16 px images 1 (the weights of
the scales used are renormalised to sum to 1); below 11 px the window shrinks
to the largest odd size that fits. Factors are clamped at 1e-6 before the
fractional powers so that anti-correlated windows give a finite gradient.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SCALE_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03
FLOOR = 1e-6


def scale_plan(height: int, width: int) -> tuple[int, int]:
    """(number of scales, window size) used for an image of this size."""
    side = min(height, width)
    if side < WINDOW:
        return 1, side if side % 2 else side - 1
    levels = 1 + int(math.floor(math.log2(side / WINDOW)))
    return min(levels, len(SCALE_WEIGHTS)), WINDOW


def gaussian_window(size: int, sigma: float = SIGMA) -> torch.Tensor:
    """Normalised 1-D Gaussian taps centred on the middle tap."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    taps = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return (taps / taps.sum()).to(torch.float32)


def _blur(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter per channel, valid region only."""
    c = x.shape[1]
    k = taps.to(x.device, x.dtype)
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def ssim_terms(x: torch.Tensor, y: torch.Tensor, taps: torch.Tensor, data_range: float = 1.0):
    """Mean luminance and contrast-structure terms per image and channel, each [N, C]."""
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    # Second moments of mean-centred images: E[x^2] - E[x]^2 cancels badly in float32 otherwise.
    mean_x, mean_y = x.mean(dim=(2, 3), keepdim=True), y.mean(dim=(2, 3), keepdim=True)
    x, y = x - mean_x, y - mean_y
    dx, dy = _blur(x, taps), _blur(y, taps)
    var_x = _blur(x * x, taps) - dx ** 2
    var_y = _blur(y * y, taps) - dy ** 2
    cov = _blur(x * y, taps) - dx * dy
    mu_x, mu_y = dx + mean_x, dy + mean_y
    luminance = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)
    contrast_structure = (2 * cov + c2) / (var_x + var_y + c2)
    return (luminance * contrast_structure).mean(dim=(2, 3)), contrast_structure.mean(dim=(2, 3))


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """MS-SSIM of each image pair: x, y NCHW in [0, data_range] -> [N]; 1 means identical."""
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"ms_ssim needs two NCHW tensors of one shape, got {list(x.shape)} and {list(y.shape)}")
    levels, size = scale_plan(x.shape[2], x.shape[3])
    weights = torch.tensor(SCALE_WEIGHTS[:levels], dtype=x.dtype, device=x.device)
    weights = weights / weights.sum()
    taps = gaussian_window(size)
    value = torch.ones(x.shape[:2], dtype=x.dtype, device=x.device)
    for level in range(levels):
        ssim, cs = ssim_terms(x, y, taps, data_range)
        factor = ssim if level == levels - 1 else cs
        value = value * factor.clamp(min=FLOOR) ** weights[level]
        if level < levels - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return value.mean(dim=1)
