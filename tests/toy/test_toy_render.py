"""The toy renderer: determinism, label consistency, class balance."""
import numpy as np
import pytest

from dgan_plugins.toy.dataset import SPLITS, split_seeds
from dgan_plugins.toy.render import (FAR_DEPTH, KEYPOINT_NAMES, OBJECT_CLASSES, PALETTE, PART_CLASSES,
                                     render, render_batch)

# part class each keypoint must lie on
KEYPOINT_PART = {"left_eye": "eye", "right_eye": "eye", "nose": "nose", "mouth_left": "mouth",
                 "mouth_right": "mouth", "left_ear": "ear", "right_ear": "ear"}


@pytest.fixture(scope="module")
def batch():
    return render_batch(range(300, 396))


def test_shapes_and_dtypes(batch):
    n, k = 96, len(KEYPOINT_NAMES)
    assert batch["images"].shape == (n, 64, 64, 3) and batch["images"].dtype == np.uint8
    assert batch["segmentation"].shape == (n, 64, 64) and batch["segmentation"].dtype == np.uint8
    assert batch["keypoints"].shape == (n, k, 3) and batch["keypoints"].dtype == np.float32
    assert batch["depth"].shape == (n, 64, 64) and batch["depth"].dtype == np.float32
    assert batch["class"].shape == (n,) and batch["class"].dtype == np.int64
    assert len(PART_CLASSES) >= 8 and PART_CLASSES[0] == "background" and len(PALETTE) == len(PART_CLASSES)
    assert k >= 5 and len(OBJECT_CLASSES) >= 4


def test_same_seed_same_bytes_whatever_the_batch(batch):
    again = render_batch(range(300, 396))
    alone = render_batch([350, 311])
    for key in batch:
        assert batch[key].tobytes() == again[key].tobytes(), key
        assert np.array_equal(alone[key][0], batch[key][50]), key
        assert np.array_equal(alone[key][1], batch[key][11]), key
    one = render(311)
    assert np.array_equal(one.image, batch["images"][11]) and one.object_class == batch["class"][11]


def test_other_seeds_differ(batch):
    images = batch["images"].reshape(len(batch["images"]), -1)
    assert len({row.tobytes() for row in images}) == len(images)


def test_visible_keypoints_lie_on_their_part(batch):
    kp, seg = batch["keypoints"], batch["segmentation"]
    rows = np.floor(kp[..., 1]).astype(int).clip(0, 63)
    cols = np.floor(kp[..., 0]).astype(int).clip(0, 63)
    shown = seg[np.arange(len(kp))[:, None], rows, cols]
    expected = np.array([PART_CLASSES.index(KEYPOINT_PART[name]) for name in KEYPOINT_NAMES])
    visible = kp[..., 2] == 1
    assert set(np.unique(kp[..., 2])) <= {0.0, 1.0}
    assert np.all(shown[visible] == np.broadcast_to(expected, shown.shape)[visible])
    inside = (kp[..., 0] >= 0) & (kp[..., 0] < 64) & (kp[..., 1] >= 0) & (kp[..., 1] < 64)
    assert not np.any(visible & ~inside)
    # keypoints are placed on their parts, not merely flagged: most are visible
    assert np.all(visible.mean(axis=0) > 0.75), visible.mean(axis=0)


def test_depth_finite_and_in_front_of_far_plane_on_the_object(batch):
    depth, seg = batch["depth"], batch["segmentation"]
    assert np.all(np.isfinite(depth)) and np.all(depth > 0) and np.all(depth <= FAR_DEPTH)
    assert np.all(depth[seg > 0] < FAR_DEPTH)
    assert np.any(depth == FAR_DEPTH)  # the background is at the far plane
    # the head is nearer than the body behind it
    face, body = PART_CLASSES.index("face"), PART_CLASSES.index("body")
    for d, s in zip(depth[:8], seg[:8]):
        assert np.median(d[s == face]) < np.median(d[s == body])


def test_every_part_class_occurs(batch):
    present = np.bincount(batch["segmentation"].ravel(), minlength=len(PART_CLASSES))
    assert np.all(present > 0), dict(zip(PART_CLASSES, present))


def test_class_balance(batch):
    assert np.array_equal(np.bincount(batch["class"], minlength=4), [24, 24, 24, 24])
    for name, (first, count) in SPLITS.items():
        seeds = split_seeds(name)
        assert len(seeds) == count and seeds.start == first
    assert np.array_equal(np.bincount(render_batch(split_seeds("train16"), 16)["class"]), [4, 4, 4, 4])


def test_classes_change_the_shape(batch):
    """Cat ears stand above the face, dog ears hang beside it (rows relative to the face)."""
    seg, cls = batch["segmentation"], batch["class"]
    ear, face = PART_CLASSES.index("ear"), PART_CLASSES.index("face")
    rows = np.broadcast_to(np.arange(64)[:, None], (64, 64))

    def ear_height(i):
        face_rows, ear_rows = rows[seg[i] == face], rows[seg[i] == ear]
        return (face_rows.mean() - ear_rows.mean()) / (np.ptp(face_rows) + 1)

    cats = [ear_height(i) for i in np.flatnonzero(cls == OBJECT_CLASSES.index("cat"))]
    dogs = [ear_height(i) for i in np.flatnonzero(cls == OBJECT_CLASSES.index("dog"))]
    assert min(cats) > 0.3 and max(dogs) < 0.1


@pytest.mark.parametrize("resolution", [16, 100])
def test_other_resolutions(resolution):
    out = render_batch([7, 8], resolution)
    assert out["images"].shape == (2, resolution, resolution, 3)
    assert out["segmentation"].max() > 0 and np.isfinite(out["depth"]).all()
    assert np.all(out["keypoints"][..., :2] < resolution * 1.5)


def test_a_seed_renders_as_its_latent():
    from dgan_plugins.toy.render import render_latents, seed_latent

    seeds = [0, 5, 100003]
    by_latent = render_latents(np.stack([seed_latent(s) for s in seeds]))
    by_seed = render_batch(seeds)
    for key in by_seed:
        np.testing.assert_array_equal(by_latent[key], by_seed[key])


def test_a_latent_is_used_at_unit_rms_as_a_stylegan_mapping_sees_it():
    from dgan_plugins.toy.render import render_latents, seed_latent

    z = np.stack([seed_latent(s) for s in range(4)])
    for key, value in render_latents(z).items():
        np.testing.assert_array_equal(render_latents(2.5 * z)[key], value)


def test_the_class_is_the_argmax_of_the_first_four_components():
    from dgan_plugins.toy.render import LATENT_DIM, render_latents

    z = np.zeros((4, LATENT_DIM))
    z[:, 4:] = np.random.default_rng(0).standard_normal((4, LATENT_DIM - 4))
    z[np.arange(4), np.arange(4)] = 3.0
    assert render_latents(z)["class"].tolist() == [0, 1, 2, 3]


def test_parts_are_large_enough_to_learn():
    """World v2's promise (docs/toy-world.md): each eye >= 0.6% of the image, nose and mouth >= 0.4%."""
    seg = render_batch(range(100_000, 100_200))["segmentation"]
    share = {name: (seg == k).mean() for k, name in enumerate(PART_CLASSES)}
    assert share["eye"] / 2 >= 0.006 and share["nose"] >= 0.004 and share["mouth"] >= 0.004
    assert all((seg == k).reshape(len(seg), -1).any(1).mean() >= 0.25 for k in range(len(PART_CLASSES)))
