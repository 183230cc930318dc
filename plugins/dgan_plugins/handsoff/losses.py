"""Reconstruction losses and quality scores for inversion and encoder training.

Images are NCHW tensors in [-1, 1] (the generator's range). Every loss is per
image ([N]) so a batch of inversions is a batch of independent problems.
"""
from __future__ import annotations

import numpy as np

from dgan_cli.errors import DganError
from dgan_plugins.handsoff import perceptual
from dgan_plugins.handsoff.msssim import ms_ssim

LOSSES = ("lpips-vgg", "lpips-alex", "pixel+msssim")
PSNR_CAP = 100.0  # dB for identical images, so tables and JSON stay finite


def check_loss(kind: str) -> str:
    if kind not in LOSSES:
        raise DganError(f"--loss must be one of {', '.join(LOSSES)}, got '{kind}'")
    return kind


class ReconstructionLoss:
    """perceptual_weight * perceptual(x, y) + pixel_weight * MSE(x, y), per image.

    The perceptual term is LPIPS (VGG or AlexNet trunk) or 1 - MS-SSIM.
    """

    def __init__(self, kind: str, perceptual_weight: float = 10.0, pixel_weight: float = 1.0,
                 device: str = "cpu"):
        self.kind = check_loss(kind)
        self.perceptual_weight, self.pixel_weight = float(perceptual_weight), float(pixel_weight)
        self.lpips = perceptual.load_lpips(kind.split("-")[1], device) if kind.startswith("lpips-") else None

    def perceptual(self, x, y):
        if self.lpips is not None:
            return perceptual.lpips_distance(self.lpips, x, y)
        return 1 - ms_ssim((x + 1) / 2, (y + 1) / 2)

    def __call__(self, x, y):
        pixel = ((x - y) ** 2).flatten(1).mean(dim=1)
        return self.perceptual_weight * self.perceptual(x, y) + self.pixel_weight * pixel

    def config(self) -> dict:
        return {"loss": self.kind, "perceptual_weight": self.perceptual_weight, "pixel_weight": self.pixel_weight}


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """PSNR in dB of uint8 image pairs [N, H, W, 3], capped at PSNR_CAP."""
    err = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).reshape(len(a), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        value = 10 * np.log10(255.0 ** 2 / err)
    return np.minimum(value, PSNR_CAP).astype(np.float32)


def scoring_lpips(loss: ReconstructionLoss, device: str = "cpu"):
    """The LPIPS model that scores reconstructions: the loss's own, else VGG when its weights are local."""
    if loss.lpips is not None:
        return loss.lpips, loss.kind
    if perceptual.trunk_available("vgg"):
        return perceptual.load_lpips("vgg", device), "lpips-vgg"
    return None, None
