"""The keypoints head: Gaussian targets, sub-pixel decoding, visibility, and learning fixed spots."""
import numpy as np
import pytest
import torch

from dgan_cli.cache import CacheReader
from dgan_cli.interpreter import TrainOptions, naive_outputs, train_ensemble
from dgan_cli.registry import default_registry

from interp_standin import labelled_cache


def _head(**options):
    return default_registry().get("head", "keypoints").build(["a", "b", "c"], **options)


def _gaussian(x, y, sigma=2.0, size=(16, 20), peak=1.0):
    cy, cx = np.mgrid[: size[0], : size[1]] + 0.5
    return peak * np.exp(-((cx - x) ** 2 + (cy - y) ** 2) / (2 * sigma ** 2))


def test_head_keypoints_targets_follow_pixel_centres():
    head = _head(sigma=2.0)
    label = np.array([[3.5, 2.5, 1], [7.0, 2.5, 1], [1.0, 1.0, 0]], np.float32)
    t = head.pixel_targets(label, np.array([2, 2, 2]), np.array([3, 5, 0]))
    assert t.shape == (3, 3) and t.dtype == np.float32
    assert t[0, 0] == pytest.approx(1.0)              # pixel (2, 3) has its centre at (3.5, 2.5)
    assert t[1, 0] == pytest.approx(np.exp(-0.5))     # 2 px (= sigma) to the right
    assert t[1, 1] == pytest.approx(np.exp(-1.5 ** 2 / 8))
    assert not t[:, 2].any()                          # invisible keypoint: all-zero heatmap


def test_head_keypoints_decodes_sub_pixel_and_visibility():
    head = _head(sigma=2.0, visibility_threshold=0.5)
    heat = np.stack([_gaussian(10.3, 7.8), _gaussian(0.6, 15.2), _gaussian(5, 5, peak=0.3)])
    out = head.decode(heat.astype(np.float32))
    assert out[0, :2] == pytest.approx([10.3, 7.8], abs=1e-3)
    assert out[1, :2] == pytest.approx([0.6, 15.2], abs=0.51)  # at the border: the peak pixel's centre
    assert out[:, 2].tolist() == [1.0, 1.0, 0.0]
    members = torch.from_numpy(np.stack([heat, heat * 0.5])).float()
    label, var = head.combine(members)
    assert label[0, :2] == pytest.approx([10.3, 7.8], abs=1e-3)
    expected = ((heat * 0.25) ** 2).sum(0)  # variance of {h, h/2} is (h/4)^2, summed over keypoints
    np.testing.assert_allclose(var, expected, rtol=1e-4, atol=1e-7)


def test_head_keypoints_sampling_favours_the_peaks():
    head = _head(sigma=1.0, near_fraction=0.5)
    label = np.array([[4.5, 4.5, 1], [14.5, 3.5, 1], [0, 0, 0]], np.float32)
    ys, xs = head.sample_pixels(label, 40, np.random.default_rng(0), (16, 20))
    assert len(ys) == 40 and len(set(zip(ys.tolist(), xs.tolist()))) == 40
    near = [(abs(x + 0.5 - kx) <= 3 and abs(y + 0.5 - ky) <= 3) for y, x in zip(ys, xs) for kx, ky in [label[0, :2]]]
    assert sum(near) >= 10


def test_head_keypoints_learns_fixed_spots(tmp_path):
    truth = labelled_cache(tmp_path / "k.h5", "keypoints")
    head = _head(sigma=1.5)
    with CacheReader(tmp_path / "k.h5") as reader:
        ensemble, reports = train_ensemble(reader, head, reader.layers,
                                           TrainOptions(members=3, pixels_per_image=256, iters=400, seed=1))
        found = []
        for i in range(reader.n):
            feats = {k: torch.from_numpy(v.astype(np.float32))[None] for k, v in reader.features(i).items()}
            found.append(head.combine(naive_outputs(ensemble, feats, reader.layers, (16, 16))[0])[0])
    found = np.stack(found)
    assert all(r.metrics["heat_mse"] < 0.01 for r in reports), [r.metrics for r in reports]
    error = np.linalg.norm(found[:, :2, :2] - truth[:, :2, :2], axis=-1)
    assert error.max() < 1.0, error  # stated: visible keypoints within 1 px on the training images
    assert (found[:, :, 2] == truth[:, :, 2]).all()
