"""The Fréchet distance between two feature sets (FID's formula), in numpy float64.

    d^2 = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))

scipy's `sqrtm` is not needed: for symmetric positive semi-definite S_a, S_b
the eigenvalues of S_a S_b equal those of the symmetric matrix
R S_b R with R = S_a^(1/2) (the products AB and BA share their eigenvalues),
so tr((S_a S_b)^(1/2)) is the sum of the square roots of that symmetric
matrix's eigenvalues. Two `eigh` calls, no complex arithmetic; tiny negative
eigenvalues from rounding are clipped to zero.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeatureStats:
    mean: np.ndarray  # [D] float64
    cov: np.ndarray   # [D, D] float64, unbiased (N - 1)
    count: int

    @classmethod
    def of(cls, features: np.ndarray) -> "FeatureStats":
        x = np.asarray(features, np.float64)
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(f"need [N >= 2, D] features, got shape {list(x.shape)}")
        return cls(x.mean(0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1]), len(x))


def psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix (negative rounding noise clipped)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def trace_sqrt_product(cov_a: np.ndarray, cov_b: np.ndarray) -> float:
    """tr((cov_a cov_b)^(1/2)) for symmetric PSD matrices."""
    root = psd_sqrt(cov_a)
    middle = root @ cov_b @ root
    values = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(values, 0, None)).sum())


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    diff = a.mean - b.mean
    value = diff @ diff + np.trace(a.cov) + np.trace(b.cov) - 2 * trace_sqrt_product(a.cov, b.cov)
    return float(max(value, 0.0))
