"""`dgan invert --label-shift R`: real label maps moved onto the reconstruction where its patches match."""
from __future__ import annotations

import numpy as np

from dgan_cli.cache import CacheReader
from dgan_cli.labelled_folder import read_folder
from dgan_plugins.handsoff.label_shift import match_offsets, shift_labels


def _scene(size=24, seed=0):
    """An image of flat coloured rectangles, its segmentation, and a depth map with one part unlabelled."""
    rng = np.random.default_rng(seed)
    image = np.full((size, size, 3), 40, dtype=np.uint8)
    seg = np.zeros((size, size), dtype=np.int16)
    for cls, (y, x, h, w) in enumerate([(3, 4, 6, 9), (12, 2, 5, 5), (11, 12, 8, 7), (5, 16, 3, 5)], start=1):
        image[y:y + h, x:x + w] = rng.integers(60, 255, 3)
        seg[y:y + h, x:x + w] = cls
    depth = 5.0 + seg.astype(np.float32)
    depth[seg == 4] = np.nan  # thin enough (3 px) that every pixel of it sees an edge
    return image, seg, depth


def _moved(a, dy, dx):
    """a[y, x] -> out[y + dy, x + dx], edges replicated (the reconstruction draws everything offset)."""
    h, w = a.shape[:2]
    rows = np.clip(np.arange(h) - dy, 0, h - 1)
    cols = np.clip(np.arange(w) - dx, 0, w - 1)
    return a[rows][:, cols]


def test_labels_follow_a_reconstruction_drawn_one_pixel_off():
    image, seg, depth = _scene()
    recon = _moved(image, 1, -1)
    keypoints = np.array([[[3.0, 4.0, 1.0]]], dtype=np.float32)
    labels = {"segmentation": seg[None], "depth": depth[None], "keypoints": keypoints, "real_image": image[None]}
    out = shift_labels(labels, image[None], recon[None], radius=1)
    inner = (slice(1, -1), slice(1, -1))
    expected_seg, expected_depth = _moved(seg, 1, -1), _moved(depth, 1, -1)
    assert np.array_equal(out["segmentation"][0][inner], expected_seg[inner])
    assert (out["segmentation"][0] != seg).sum() > 20  # it did move: the unshifted labels are wrong there
    assert np.array_equal(np.isnan(out["depth"][0][inner]), np.isnan(expected_depth[inner]))
    assert np.allclose(out["depth"][0][inner], expected_depth[inner], equal_nan=True)
    # keypoints and the real image are not maps of the labels' grid: kept as given
    assert out["keypoints"] is keypoints and out["real_image"] is labels["real_image"]
    assert out["segmentation"].dtype == np.int16 and out["depth"].dtype == np.float32


def test_an_exact_reconstruction_and_radius_zero_leave_labels_where_they_are():
    image, seg, depth = _scene(seed=1)
    labels = {"segmentation": seg[None], "depth": depth[None]}
    same = shift_labels(labels, image[None], image[None], radius=3)  # flat regions tie: no offset wins
    assert np.array_equal(same["segmentation"], labels["segmentation"])
    dy, dx = match_offsets(image[None], image[None], 3)
    assert not dy.any() and not dx.any()
    assert shift_labels(labels, image[None], _moved(image, 1, 0)[None], radius=0) is labels


def test_dgan_invert_label_shift_moves_the_maps_onto_the_toy_reconstructions(run_cli, tmp_path):
    real = tmp_path / "real"
    assert run_cli("-q", "toy", "render", "--n", "2", "--seed", "100000", "--out", real).code == 0
    cache = tmp_path / "inv.h5"
    base = ["-q", "invert", real, "--backbone", "toy", "--cache", cache, "--loss", "pixel+msssim",
            "--steps", "3", "--batch", "2", "--labels", "segmentation,keypoints"]
    result = run_cli(*base, "--label-shift", "9")
    lines = result.err.strip().splitlines()
    assert result.code == 2 and len(lines) == 1 and "--label-shift must be 0 to 8" in lines[0], result.err
    assert not cache.exists()
    assert run_cli(*base, "--label-shift", "2").code == 0
    _, images, labels, _ = read_folder(real)
    with CacheReader(cache) as reader:
        recon, stored = reader.images(), reader.labels("segmentation")
        assert reader.provenance["job"]["label_shift"]["radius"] == 2
        assert np.allclose(reader.labels("keypoints"), labels["keypoints"])
    # 3 steps from w_avg: the reconstructions are far off, so the labels move, and exactly as shift_labels says
    expected = shift_labels({"segmentation": labels["segmentation"]}, images, recon, 2)["segmentation"]
    assert np.array_equal(stored, expected) and not np.array_equal(stored, labels["segmentation"])
