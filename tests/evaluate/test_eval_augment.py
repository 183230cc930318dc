"""Augmentation moves labels with the pixels and swaps left/right on a flip."""
from __future__ import annotations

import numpy as np
import torch

from dgan_plugins.evaluate.augment import Augmenter
from dgan_plugins.evaluate.tasks import decode_heatmaps, gaussian_heatmaps, mirror_permutation

B, RES = 16, 32


def test_mirror_permutation_swaps_whole_words_only():
    names = ["background", "left_eye", "right_eye", "nose", "mouth-left", "mouth-right", "Left Ear", "Right Ear",
             "cleft", "left_only"]
    perm = mirror_permutation(names)
    assert [names[i] for i in perm] == ["background", "right_eye", "left_eye", "nose", "mouth-right", "mouth-left",
                                        "Right Ear", "Left Ear", "cleft", "left_only"]


def coloured_squares():
    """Red square = class 1, green square = class 2, on black."""
    images = torch.zeros(B, 3, RES, RES)
    seg = torch.zeros(B, RES, RES, dtype=torch.long)
    images[:, 0, 6:14, 4:12], seg[:, 6:14, 4:12] = 1.0, 1
    images[:, 1, 18:26, 18:28], seg[:, 18:26, 18:28] = 1.0, 2
    return images, seg


def test_segmentation_follows_the_pixels_under_zoom_and_shift():
    images, seg = coloured_squares()
    aug = Augmenter("segmentation", mirror=np.arange(3), zoom=0.15, shift=0.1, colour=0.0)
    out, labels = aug(images, seg, torch.Generator().manual_seed(0))
    assert not torch.equal(labels, seg)  # the map did move things
    red, green = out[:, 0] > 0.5, out[:, 1] > 0.5
    # bilinear edges may disagree by a pixel: demand near-perfect agreement, not equality
    assert (red[labels == 1]).float().mean() > 0.95 and (green[labels == 2]).float().mean() > 0.95
    assert (labels[red] == 1).float().mean() > 0.9 and (labels[green] == 2).float().mean() > 0.9
    assert ((labels == -1) | (labels >= 0)).all()


def test_flip_swaps_left_and_right_classes():
    images, seg = coloured_squares()
    names = ["background", "left_thing", "right_thing"]
    aug = Augmenter("segmentation", mirror=mirror_permutation(names), zoom=0.0, shift=0.0, colour=0.0)
    out, labels = aug(images, seg, torch.Generator().manual_seed(3))
    flipped = torch.tensor([not torch.equal(o, i) for o, i in zip(out, images)])
    assert flipped.any() and not flipped.all()
    assert torch.equal(out[flipped], images[flipped].flip(-1))
    assert torch.equal(labels[~flipped], seg[~flipped])
    mirrored = seg[flipped].flip(-1)
    assert torch.equal(labels[flipped], torch.where(mirrored > 0, 3 - mirrored, mirrored))


def test_keypoints_move_with_the_image_and_swap_on_flip():
    images = torch.zeros(B, 3, RES, RES)
    images[:, 0, 10, 6] = 1.0   # left_eye: a red dot at pixel (row 10, col 6)
    images[:, 1, 12, 25] = 1.0  # right_eye: a green dot at (row 12, col 25)
    kp = torch.tensor([[6.5, 10.5, 1.0], [25.5, 12.5, 1.0]]).expand(B, 2, 3).clone()
    aug = Augmenter("keypoints", mirror=mirror_permutation(["left_eye", "right_eye"]), zoom=0.1, shift=0.05,
                    colour=0.0)
    out, moved = aug(images, kp, torch.Generator().manual_seed(1))
    flips = 0
    for img, points in zip(out, moved):
        red_peak, green_peak = int(img[0].argmax()), int(img[1].argmax())
        flipped = red_peak % RES > RES // 2  # the red dot went to the right half
        flips += flipped
        # after a flip, the point named left_eye is the mirrored right eye: the green dot
        on = [green_peak, red_peak] if flipped else [red_peak, green_peak]
        for (x, y, v), peak in zip(points.tolist(), on):
            assert v == 1.0
            assert abs(peak % RES + 0.5 - x) <= 1.0 and abs(peak // RES + 0.5 - y) <= 1.0
    assert 0 < flips < B


def test_keypoints_leaving_the_image_become_invisible():
    kp = torch.tensor([[0.2, 16.0, 1.0], [16.0, 16.0, 1.0]]).expand(B, 2, 3).clone()
    aug = Augmenter("keypoints", mirror=np.arange(2), zoom=0.0, shift=0.1, colour=0.0)
    _, moved = aug(torch.zeros(B, 3, RES, RES), kp, torch.Generator().manual_seed(0))
    outside = (moved[..., 0] < 0) | (moved[..., 0] >= RES)
    assert outside.any()
    assert torch.equal(moved[..., 2], (~outside).float())


def test_heatmap_decoding_recovers_subpixel_positions():
    xy = torch.tensor([[[5.3, 7.8], [20.5, 3.5], [0.6, 31.2]]], dtype=torch.float64)
    logits = gaussian_heatmaps(xy, 32, 32, sigma=1.0).log()
    assert torch.allclose(decode_heatmaps(logits), xy, atol=0.35)


def test_zoom_divides_depth_and_outside_pixels_become_invalid():
    depth = torch.full((B, RES, RES), 5.0)
    aug = Augmenter("depth", mirror=np.arange(0), zoom=0.1, shift=0.1, colour=0.0)
    _, moved = aug(torch.zeros(B, 3, RES, RES), depth, torch.Generator().manual_seed(0))
    inside = moved > 0
    assert (~inside).any() and inside.float().mean() > 0.5
    per_image = [m[i].unique() for m, i in zip(moved, inside)]
    assert all(len(u) == 1 and 5 / 1.1 - 1e-5 <= float(u) <= 5 / 0.9 + 1e-5 for u in per_image)
    assert len({round(float(u), 5) for u in per_image}) > 1
