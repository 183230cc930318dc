"""The VICReg-form terms against values worked out by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dgan_plugins.squeeze_span.losses import (LossWeights, combined_loss, covariance_loss, paired_loss,
                                              variance_loss)


def test_variance_term_by_hand():
    # column 0: values 0, 2, 4 -> unbiased variance 4, std ~2 -> hinge 0
    # column 1: constant -> variance 0, std sqrt(1e-4) = 0.01 -> hinge 0.99
    z = torch.tensor([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    assert variance_loss(z).item() == pytest.approx((0.0 + 0.99) / 2, abs=1e-6)
    # a column with std 0.5 contributes 1 - sqrt(0.25 + 1e-4)
    half = torch.tensor([[0.0], [0.5], [1.0]])  # variance 0.25
    assert variance_loss(half).item() == pytest.approx(1 - math.sqrt(0.25 + 1e-4), abs=1e-6)


def test_covariance_term_by_hand():
    # centred rows (-2, 0), (0, -2), (2, 2): var 4 and 4, covariance 4 / 2 = 2
    # off-diagonal squares 2 * 2^2 = 8, divided by D = 2 -> 4 (the diagonal does not count)
    z = torch.tensor([[1.0, 2.0], [3.0, 0.0], [5.0, 4.0]])
    assert covariance_loss(z).item() == pytest.approx(4.0)
    # uncorrelated columns cost nothing, whatever their variances
    assert covariance_loss(torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0], [0.0, -3.0]])).item() == 0.0


def test_covariance_term_matches_numpy_for_wider_batches():
    z = torch.from_numpy(np.random.default_rng(0).normal(size=(7, 5)))
    cov = np.cov(z.numpy(), rowvar=False)
    expected = (np.square(cov).sum() - np.square(np.diag(cov)).sum()) / 5
    assert covariance_loss(z).item() == pytest.approx(expected, rel=1e-9)


def test_paired_loss_weights_each_term_on_both_sides():
    a = torch.tensor([[1.0, 2.0], [3.0, 0.0], [5.0, 4.0]])
    b = torch.tensor([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
    terms = paired_loss(a, b, LossWeights(distance=25.0, variance=25.0, covariance=1.0))
    distance = ((a - b) ** 2).mean().item()  # mean over all elements, as the reference's F.mse_loss
    variance = variance_loss(a).item() + 0.495  # b's variance term from the test above
    covariance = 4.0 + 0.0  # b's columns are uncorrelated (one is constant)
    assert terms["distance"].item() == pytest.approx(distance)
    assert terms["variance"].item() == pytest.approx(variance, abs=1e-6)
    assert terms["covariance"].item() == pytest.approx(covariance)
    assert terms["loss"].item() == pytest.approx(25 * distance + 25 * variance + covariance, abs=1e-5)


def test_alpha_mixes_squeeze_and_span():
    squeeze, span = {"loss": torch.tensor(2.0)}, {"loss": torch.tensor(6.0)}
    assert combined_loss(squeeze, span, 0.5).item() == pytest.approx(4.0)
    assert combined_loss(squeeze, None, 1.0).item() == pytest.approx(2.0)
    assert combined_loss(None, span, 0.0).item() == pytest.approx(6.0)
    with pytest.raises(ValueError):
        combined_loss(None, None, 0.5)
