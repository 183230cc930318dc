"""The depth head: NaN is unlabelled, both losses learn a smooth rule, mean/variance combination."""
import numpy as np
import pytest
import torch

from dgan_cli.cache import CacheReader
from dgan_cli.errors import DganError
from dgan_cli.interpreter import TrainOptions, train_ensemble
from dgan_cli.registry import default_registry

from interp_standin import labelled_cache


def _head(**options):
    return default_registry().get("head", "depth").build(["depth"], **options)


def test_head_depth_skips_unlabelled_pixels_and_combines():
    head = _head()
    label = np.full((6, 6), np.nan, np.float32)
    label[2:, 2:] = 4.0
    ys, xs = head.sample_pixels(label, 100, np.random.default_rng(0), (6, 6))
    assert len(ys) == 16 and np.isfinite(label[ys, xs]).all()
    outputs = torch.stack([torch.full((1, 2, 2), 1.0), torch.full((1, 2, 2), 3.0)])
    depth, var = head.combine(outputs)
    assert depth.tolist() == [[2.0, 2.0], [2.0, 2.0]] and var.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    si = _head(loss="scale-invariant")
    depth, _ = si.combine(torch.log(outputs))
    assert depth == pytest.approx(np.full((2, 2), 2.0))
    with pytest.raises(DganError, match="positive"):
        si.sample_pixels(label - 5, 4, np.random.default_rng(0), (6, 6))
    with pytest.raises(ValueError, match="loss must be"):
        _head(loss="l2")


def test_head_depth_scale_invariant_loss_by_hand():
    head = _head(loss="scale-invariant", si_lambda=0.5)
    outputs = torch.log(torch.tensor([[2.0], [8.0]]))
    targets = torch.tensor([[1.0], [2.0]])
    # d = log 2, log 4 -> mean(d^2) - 0.5 mean(d)^2
    d = np.log([2.0, 4.0])
    assert float(head.loss(outputs, targets)) == pytest.approx((d ** 2).mean() - 0.5 * d.mean() ** 2, rel=1e-5)


@pytest.mark.parametrize("loss, bound", [("l1", 0.1), ("scale-invariant", 0.1)])
def test_head_depth_learns_a_rule(tmp_path, loss, bound):
    truth = labelled_cache(tmp_path / "d.h5", "depth", loss=loss)
    spread = float(np.nanstd(truth))
    head = _head(loss=loss)
    with CacheReader(tmp_path / "d.h5") as reader:
        _, reports = train_ensemble(reader, head, reader.layers,
                                    TrainOptions(members=2, pixels_per_image=247, iters=400, seed=2))
    assert all(r.pixels == 4 * 247 for r in reports)
    # stated: mean absolute error on the training pixels below 10% of a depth unit (label spread ~0.4)
    assert spread > 0.3 and all(r.metrics["abs_error"] < bound for r in reports), [r.metrics for r in reports]
