"""Real images and labels onto the generator grid: crop, fit, refuse; labels follow the pixels."""
from __future__ import annotations

import numpy as np
import pytest

from dgan_cli.errors import DganError
from dgan_plugins.handsoff import align


def _coordinate_image(h: int, w: int) -> np.ndarray:
    """uint8 image whose red channel is the column and green channel the row."""
    rows, cols = np.mgrid[0:h, 0:w]
    return np.stack([cols * 8, rows * 8, np.full_like(rows, 50)], axis=2).astype(np.uint8)


def test_crop_keeps_the_centred_square_and_labels_follow():
    # 16 x 32 (h x w) onto 16 x 16: no scaling, columns 8..23 survive.
    image = _coordinate_image(16, 32)
    where = align.placement((16, 32), 16, "crop")
    assert where.box == (8.0, 0.0, 24.0, 16.0)
    out = align.align_image(image, where)
    assert np.array_equal(out, image[:, 8:24])
    cols = np.tile(np.arange(32, dtype=np.int16), (16, 1))
    assert np.array_equal(align.align_map(cols, where), cols[:, 8:24])


def test_crop_with_downscaling_samples_labels_at_pixel_centres():
    # 32 x 64 onto 16 x 16: scale 1/2, source box x in [16, 48).
    where = align.placement((32, 64), 16, "crop")
    rows, cols = np.mgrid[0:32, 0:64]
    label = (rows * 100 + cols).astype(np.int32)
    out = align.align_map(label, where)
    # output pixel (i, j) centre -> source (16 + 2j + 1, 2i + 1)
    i, j = np.mgrid[0:16, 0:16]
    assert np.array_equal(out, (2 * i + 1) * 100 + (16 + 2 * j + 1))
    # a half-white image (right half of the crop box) stays split at the same output column
    image = np.zeros((32, 64, 3), np.uint8)
    image[:, 32:] = 255
    mask = (cols >= 32).astype(np.uint8)
    img_out, mask_out = align.align_image(image, where), align.align_map(mask, where)
    assert np.array_equal(img_out[..., 0] > 127, mask_out == 1)


def test_fit_stretches_the_whole_image():
    where = align.placement((8, 32), 16, "fit")
    assert where.box == (0.0, 0.0, 32.0, 8.0)
    rows, cols = np.mgrid[0:8, 0:32]
    out = align.align_map(cols, where)
    assert np.array_equal(out[0], np.arange(16) * 2 + 1)  # x: 2 source columns per output column
    assert np.array_equal(align.align_map(rows, where)[:, 0], np.arange(16) // 2)


def test_keypoints_move_with_the_crop_and_leave_the_image_invisible():
    where = align.placement((32, 64), 16, "crop")  # box x 16..48, scale 0.5
    points = np.array([[32.0, 16.0, 1], [10.0, 4.0, 1], [47.0, 31.0, 0]], np.float32)
    out = align.align_keypoints(points, where)
    assert np.allclose(out[0], [8.0, 8.0, 1])
    assert out[1, 2] == 0 and out[1, 0] == pytest.approx(-3.0)  # cropped away
    assert np.allclose(out[2], [15.5, 15.5, 0])                 # inside but stays hidden


def test_refuse_names_the_image_and_the_way_out():
    with pytest.raises(DganError) as err:
        align.placement((20, 16), 16, "refuse", name="real/images/000003.png")
    line = err.value.one_line()
    assert "000003.png" in line and "16x20" in line and "--resize crop" in line
    assert align.placement((16, 16), 16, "refuse").is_identity
    with pytest.raises(DganError, match="--resize must be one of"):
        align.placement((16, 16), 16, "stretch")


def test_images_of_the_right_size_are_copied_unchanged():
    image = _coordinate_image(16, 16)
    for policy in align.POLICIES:
        assert np.array_equal(align.align_image(image, align.placement((16, 16), 16, policy)), image)


def test_real_set_reads_the_far_plane_as_unlabelled(tmp_path):
    """A labelled folder's backdrop at its `far` depth is no reading: HandsOff never pairs it with features
    (as `dgan eval` and `dgan annotate-import` read it); without `far` every depth is kept."""
    from dgan_cli.labelled_folder import write_folder
    from dgan_plugins.handsoff.realset import read_real_set

    depth = np.full((2, 8, 8), 12.0, np.float32)
    depth[:, 2:6, 2:6] = 3.5
    images = np.zeros((2, 8, 8, 3), np.uint8)
    for name, entry in (("far", {"unit": "m", "far": 12.0}), ("plain", {"unit": "m"})):
        write_folder(tmp_path / name, ["000000", "000001"], images, {"depth": depth}, {"depth": entry})
        read = read_real_set(tmp_path / name, 8, "refuse").labels["depth"]
        if name == "far":
            assert np.array_equal(np.isnan(read), depth == 12.0) and (read[~np.isnan(read)] == 3.5).all()
        else:
            assert np.array_equal(read, depth)
