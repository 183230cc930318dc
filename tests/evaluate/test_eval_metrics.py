"""Metrics against values computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dgan_plugins.evaluate.metrics import DepthScore, KeypointScore, SegmentationScore


def test_miou_sums_over_the_set_skips_ignored_and_absent_classes():
    score = SegmentationScore(num_classes=4)
    # -1 is ignored, so the prediction "2" under it counts nowhere
    score.update(pred=np.array([[0, 1, 1], [1, 0, 2]]), target=np.array([[0, 0, 1], [1, 1, -1]]))
    score.update(pred=np.array([[0, 3]]), target=np.array([[0, 0]]))
    r = score.result(["bg", "a", "b", "c"])
    # class 0: I=2, U=4+3-2=5; class 1: I=2, U=3+3-2=4; class 2: empty union; class 3: I=0, U=1
    assert r["per_class_iou"] == {"bg": 0.4, "a": 0.5, "b": None, "c": 0.0}
    assert r["miou"] == pytest.approx((0.4 + 0.5 + 0.0) / 3)
    assert r["miou_foreground"] == pytest.approx((0.5 + 0.0) / 2)
    assert r["pixel_accuracy"] == pytest.approx(4 / 7)


def test_miou_is_not_a_mean_of_per_image_scores():
    score = SegmentationScore(num_classes=2)
    score.update(pred=np.array([[1, 1, 1, 1]]), target=np.array([[1, 1, 1, 1]]))  # perfect image
    score.update(pred=np.array([[0, 0]]), target=np.array([[1, 0]]))
    iou = score.iou()
    assert iou[0] == pytest.approx(1 / 2) and iou[1] == pytest.approx(4 / 5)


def test_pck_with_image_normalisation():
    score = KeypointScore(num_keypoints=3, norm="image")
    target = np.array([[[10, 10, 1], [50, 50, 1], [70, 70, 0]],
                       [[10, 10, 1], [50, 50, 1], [70, 70, 1]]], np.float32)
    pred = np.array([[[13, 10], [50, 58], [20, 70]],     # 3 px, 8 px, invisible
                     [[10, 30], [50, 50], [70, 74]]],    # 20 px, 0 px, 4 px
                    np.float32)
    score.update(pred, target, image_hw=(100, 80))  # norm = max(H, W) = 100
    r = score.result(["a", "b", "c"])
    assert r["keypoints_scored"] == 5
    assert r["pck@0.05"] == pytest.approx(3 / 5)  # within 5 px: 3, 0, 4
    assert r["pck@0.1"] == pytest.approx(4 / 5)   # within 10 px: also 8
    assert r["mean_error_px"] == pytest.approx((3 + 8 + 20 + 0 + 4) / 5)
    assert r["per_keypoint_pck@0.1"] == {"a": 0.5, "b": 1.0, "c": 1.0}


def test_pck_with_bbox_normalisation_and_degenerate_box():
    score = KeypointScore(num_keypoints=2, norm="bbox")
    # visible box 40 x 20 -> norm 40: 0.05 -> 2 px, 0.1 -> 4 px
    target = np.array([[[10, 10, 1], [50, 30, 1]],
                       [[10, 10, 1], [60, 60, 0]]], np.float32)  # a single visible point: not scored
    pred = np.array([[[13, 10], [50, 31]], [[10, 10], [0, 0]]], np.float32)
    score.update(pred, target, image_hw=(64, 64))
    r = score.result(["a", "b"])
    assert r["keypoints_scored"] == 2
    assert r["pck@0.05"] == pytest.approx(1 / 2)
    assert r["pck@0.1"] == pytest.approx(2 / 2)


def test_depth_errors_over_valid_pixels_only():
    score = DepthScore()
    score.update(pred=np.array([[3.0, 3.0], [1.0, 1.0]]), target=np.array([[2.0, 4.0], [np.nan, 0.0]]))
    score.update(pred=np.array([[5.0, 9.0]]), target=np.array([[4.0, np.inf]]))
    r = score.result()
    assert r["pixels_scored"] == 3
    assert r["mse"] == pytest.approx((1 + 1 + 1) / 3)
    assert r["rmse"] == pytest.approx(1.0)
    assert r["absrel"] == pytest.approx((1 / 2 + 1 / 4 + 1 / 4) / 3)


def test_empty_scores_are_nan_not_errors():
    assert math.isnan(DepthScore().result()["mse"])
    assert math.isnan(KeypointScore(2).result(["a", "b"])["pck@0.1"])
