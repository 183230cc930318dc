"""The segmentation head: sampling, JS divergence, majority vote, and learning a rule."""
import math

import numpy as np
import pytest
import torch

from dgan_cli.cache import CacheReader
from dgan_cli.errors import DganError
from dgan_cli.interpreter import TrainOptions, naive_outputs, train_ensemble
from dgan_cli.registry import default_registry

from interp_standin import segmentation_cache


def _head(k=3, **options):
    return default_registry().get("head", "segmentation").build([f"c{i}" for i in range(k)], **options)


def _logits(probs):
    """Member probabilities [M, K] at one pixel -> logits [M, K, 1, 1] whose softmax gives them back."""
    p = torch.tensor(probs, dtype=torch.float64)
    return torch.where(p > 0, p.clamp_min(1e-300).log(), torch.full_like(p, -1e4)).float()[..., None, None]


def test_head_segmentation_js_divergence_by_hand():
    head = _head(2)
    _, js = head.combine(_logits([[0.9, 0.1], [0.5, 0.5]]))
    # H(0.7, 0.3) - (H(0.9, 0.1) + H(0.5, 0.5)) / 2, worked out by hand
    assert js.shape == (1, 1) and js.dtype == np.float32
    assert js[0, 0] == pytest.approx(0.1017492, abs=1e-6)
    _, js = _head(3).combine(_logits([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]))
    assert js[0, 0] == pytest.approx(math.log(2), abs=1e-6)
    _, js = head.combine(_logits([[0.3, 0.7], [0.3, 0.7]]))
    assert js[0, 0] == pytest.approx(0.0, abs=1e-6)


def test_head_segmentation_majority_vote_and_ties():
    head = _head(3)
    # three members vote 2, 2, 0 at pixel (0, 0); 1, 0, then a 1-0 tie broken by the third (2) at (0, 1)
    votes = torch.tensor([[2, 1], [2, 0], [0, 2]])
    logits = torch.nn.functional.one_hot(votes, 3).permute(0, 2, 1).float()[:, :, None, :] * 5
    label, _ = head.combine(logits)
    assert label.dtype == np.int16 and label.tolist() == [[2, 0]]


def test_head_segmentation_sampling_covers_every_class_and_skips_ignore():
    head = _head(4)
    label = np.full((20, 20), -1, np.int16)
    label[:10] = 0
    label[10:, :18] = 1
    label[19, 19] = 3  # a one-pixel region
    rng = np.random.default_rng(0)
    ys, xs = head.sample_pixels(label, 12, rng, (20, 20))
    assert len(ys) == 12 and len(set(zip(ys.tolist(), xs.tolist()))) == 12
    assert set(label[ys, xs].tolist()) == {0, 1, 3}
    ys, xs = _head(4, balanced=True).sample_pixels(label, 12, rng, (20, 20))
    counts = np.bincount(label[ys, xs], minlength=4)
    assert counts[3] == 1 and counts[0] >= 4 and counts[1] >= 4
    ys, xs = head.sample_pixels(label, 10_000, rng, (20, 20))
    assert len(ys) == int((label >= 0).sum())
    with pytest.raises(DganError, match="out of range"):
        head.sample_pixels(np.full((4, 4), 7, np.int16), 4, rng, (4, 4))


def test_head_segmentation_learns_a_rule(tmp_path):
    labels = segmentation_cache(tmp_path / "c.h5")
    head = _head(3)
    with CacheReader(tmp_path / "c.h5") as reader:
        options = TrainOptions(members=3, pixels_per_image=256, iters=300, seed=0)
        ensemble, reports = train_ensemble(reader, head, reader.layers, options)
        feats = {k: torch.from_numpy(v.astype(np.float32)) for k, v in reader.features(0).items()}
        layers = reader.layers
    # stated accuracy on the members' own training pixels
    assert all(r.metrics["accuracy"] >= 0.95 for r in reports), [r.metrics for r in reports]
    outputs = naive_outputs(ensemble, {k: v[None] for k, v in feats.items()}, layers, (16, 16))[0]
    label, js = head.combine(outputs)
    assert (label == labels[0]).mean() >= 0.95
    assert js.shape == (16, 16) and np.isfinite(js).all()


def test_head_segmentation_class_weights_scale_a_class_loss():
    outputs = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]], dtype=torch.float64)
    targets = torch.tensor([[1.0], [1.0], [2.0]])
    ce = -torch.log_softmax(outputs, 1)[torch.arange(3), targets[:, 0].long()]
    plain = _head(3).loss(outputs, targets)
    assert float(plain) == pytest.approx(float(ce.mean()), rel=1e-12)
    head = _head(3, class_weights="c1:4")
    # a weighted mean: each pixel's loss times its class weight, over the weights' sum
    assert float(head.loss(outputs, targets)) == pytest.approx(float((4 * ce[0] + 4 * ce[1] + ce[2]) / 9), rel=1e-12)
    assert head.config() == {"balanced": False, "class_weights": {"c1": 4.0}}
    rebuilt = _head(3, **head.config())
    assert rebuilt.class_weights == {"c1": 4.0} and _head(3).config() == {"balanced": False}
    assert _head(3, class_weights="c0:0.5, c2:2").class_weights == {"c0": 0.5, "c2": 2.0}


@pytest.mark.parametrize("value, match", [
    ("eyebrow:4", "no class 'eyebrow'"),
    ("c1", "NAME:WEIGHT"),
    ("c1:0", "positive number"),
    ("c1:-2", "positive number"),
    ("c1:x", "positive number"),
    ("c1:inf", "positive number"),
    (4, "NAME:WEIGHT"),
])
def test_head_segmentation_class_weights_reject_bad_values(value, match):
    with pytest.raises(ValueError, match=match):
        _head(3, class_weights=value)
