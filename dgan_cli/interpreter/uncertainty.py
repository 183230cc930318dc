"""Ensemble disagreement: per-pixel maps and their aggregation into one score per image."""
from __future__ import annotations

import numpy as np
import torch

AGGREGATIONS = ("sum", "top10-mean")


def entropy(probs: torch.Tensor, dim: int) -> torch.Tensor:
    """Shannon entropy (nats) along `dim`; 0 * log 0 counts as 0."""
    return -(probs * torch.log(probs.clamp_min(1e-12))).sum(dim)


def js_divergence(logits: torch.Tensor) -> torch.Tensor:
    """Per-pixel Jensen-Shannon divergence of an ensemble's class distributions.

    logits [M, K, H, W] -> [H, W]: entropy of the mean softmax minus the mean
    of the members' entropies (softmax probabilities, not logits, are averaged).
    """
    probs = torch.softmax(logits.float(), dim=1)
    return (entropy(probs.mean(0), dim=0) - entropy(probs, dim=1).mean(0)).clamp_min(0)


def aggregate(uncertainty_map: np.ndarray, how: str = "sum") -> float:
    """One image score from a per-pixel map.

    "sum": the sum over pixels (the DatasetGAN paper); "top10-mean": the mean
    of the 10% highest pixels (the DatasetGAN reference code).
    """
    values = np.asarray(uncertainty_map, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan")
    if how == "sum":
        return float(values.sum())
    if how == "top10-mean":
        k = max(1, int(np.ceil(0.1 * values.size)))
        return float(np.partition(values, values.size - k)[values.size - k:].mean())
    raise ValueError(f"unknown aggregation '{how}' (choose from {', '.join(AGGREGATIONS)})")
