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


def test_head_depth_coverage_loss_and_combine_by_hand():
    head = _head(coverage=True)
    assert head.num_outputs == 2 and _head().num_outputs == 1
    assert _head(**head.config()).config() == {"loss": "l1", "si_lambda": 0.5, "coverage": True}
    label = np.full((6, 6), np.nan, np.float32)
    label[2:, 2:] = 4.0
    ys, xs = head.sample_pixels(label, 100, np.random.default_rng(0), (6, 6))
    assert len(ys) == 36  # unlabelled pixels are trained on too: their target is "unlabelled"
    outputs = torch.tensor([[3.0, 2.0], [9.0, -1.0]], dtype=torch.float64)
    targets = torch.tensor([[4.0], [float("nan")]], dtype=torch.float64)
    # L1 over the labelled pixel only, plus the binary cross-entropy of "labelled" over both
    bce = np.log1p(np.exp(-2.0)) + np.log1p(np.exp(-1.0))
    assert float(head.loss(outputs, targets)) == pytest.approx(1.0 + bce / 2, rel=1e-12)
    outputs.requires_grad_(True)
    head.loss(outputs, targets).backward()
    assert torch.isfinite(outputs.grad).all() and outputs.grad[1, 0] == 0  # NaN targets never reach the depth
    metrics = head.metrics(outputs.detach(), targets)
    assert metrics == {"abs_error": 1.0, "coverage_accuracy": 1.0}
    # two members; pixel (0, 0) labelled by both, (0, 1) by one at 0.9 against 0.05: mean 0.475 < 0.5
    logit = np.log(np.array([[[0.9, 0.9]], [[0.8, 0.05]]]) / (1 - np.array([[[0.9, 0.9]], [[0.8, 0.05]]])))
    member_depth = np.array([[[2.0, 5.0]], [[4.0, 7.0]]])
    depth, var = head.combine(torch.tensor(np.stack([member_depth, logit], 1), dtype=torch.float32))
    assert depth[0, 0] == pytest.approx(3.0) and var[0, 0] == pytest.approx(1.0)
    assert np.isnan(depth[0, 1]) and np.isnan(var[0, 1])
    with pytest.raises(ValueError, match="coverage must be"):
        _head(coverage="yes")


def test_head_depth_coverage_learns_where_depth_exists(tmp_path):
    """A backdrop the features decide (the rule's far half) stays unlabelled in the combined label."""
    from interp_standin import StandinBackbone, make_cache, render, rule_depth, upsampled

    seeds = (1, 2, 3, 4)
    _, feats, _ = render(StandinBackbone(), seeds)
    truth = rule_depth(feats)
    truth[truth > 3.5] = np.nan  # the "backdrop": about half of each image
    unlabelled = np.isnan(truth)
    assert 0.3 < unlabelled.mean() < 0.7
    found = {}
    for coverage in (False, True):
        head = _head(coverage=coverage)
        make_cache(tmp_path / f"c{coverage}.h5", seeds, {"depth": truth}, {"depth": head.label_schema((16, 16))})
        with CacheReader(tmp_path / f"c{coverage}.h5") as reader:
            ensemble, _ = train_ensemble(reader, head, reader.layers,
                                         TrainOptions(members=2, pixels_per_image=256, iters=600, seed=1))
        x = torch.from_numpy(upsampled(feats)).permute(0, 2, 3, 1).reshape(-1, upsampled(feats).shape[1])
        with torch.no_grad():
            out = ensemble.eval()(x.float())  # [M, P, K]
        out = out.reshape(2, len(seeds), 16, 16, head.num_outputs).permute(1, 0, 4, 2, 3)
        found[coverage] = np.stack([head.combine(out[i])[0] for i in range(len(seeds))])
    assert not np.isnan(found[False]).any()  # without coverage every pixel gets a depth
    agree = (np.isnan(found[True]) == unlabelled).mean()
    assert agree > 0.9, agree
    labelled = ~unlabelled & ~np.isnan(found[True])
    assert np.abs(found[True][labelled] - truth[labelled]).mean() < 0.1
