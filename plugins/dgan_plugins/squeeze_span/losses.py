"""The squeeze-and-span objective: VICReg-form terms on batches of vectors [N, D].

Paper (Eq. 9-12): L_squeeze = lambda*RD(Zs, Zg) + mu*(var(Zs) + var(Zg)) + nu*(cov(Zs) + cov(Zg)),
L_span is the same on two augmented views of real images, and the total is
alpha*L_squeeze + (1 - alpha)*L_span. The representation distance is the mean
squared error over all elements (the reference code's `F.mse_loss`, which the
paper's weights 25/25/1 are tuned for), not the per-sample squared norm.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

VARIANCE_EPS = 1e-4


@dataclass(frozen=True)
class LossWeights:
    """lambda (distance), mu (variance), nu (covariance): the paper's defaults."""

    distance: float = 25.0
    variance: float = 25.0
    covariance: float = 1.0


def variance_loss(z: torch.Tensor, eps: float = VARIANCE_EPS) -> torch.Tensor:
    """Mean over dimensions of max(0, 1 - sqrt(Var(z_j) + eps)); unbiased variance over the batch."""
    std = torch.sqrt(z.var(dim=0) + eps)
    return F.relu(1.0 - std).mean()


def covariance_loss(z: torch.Tensor) -> torch.Tensor:
    """Sum of squared off-diagonal covariances divided by the dimension D."""
    n, d = z.shape
    centred = z - z.mean(dim=0)
    cov = centred.T @ centred / (n - 1)
    off_diagonal = cov.square().sum() - cov.diagonal().square().sum()
    return off_diagonal / d


def paired_loss(a: torch.Tensor, b: torch.Tensor, weights: LossWeights) -> dict[str, torch.Tensor]:
    """One VICReg-form loss between two batches whose rows correspond.

    Returns the weighted total under "loss" and the raw terms for logging.
    """
    distance = F.mse_loss(a, b)
    variance = variance_loss(a) + variance_loss(b)
    covariance = covariance_loss(a) + covariance_loss(b)
    total = weights.distance * distance + weights.variance * variance + weights.covariance * covariance
    return {"loss": total, "distance": distance, "variance": variance, "covariance": covariance}


def combined_loss(squeeze: dict | None, span: dict | None, alpha: float) -> torch.Tensor:
    """alpha * L_squeeze + (1 - alpha) * L_span; a branch that is absent (None) is left out."""
    parts = []
    if squeeze is not None:
        parts.append(alpha * squeeze["loss"])
    if span is not None:
        parts.append((1.0 - alpha) * span["loss"])
    if not parts:
        raise ValueError("neither a squeeze nor a span branch: nothing to train on")
    return sum(parts[1:], parts[0])
