"""Masks -> LabelMe polygons -> dgan's LabelMe reader: the round trip keeps the masks."""
import json

import numpy as np
import pytest

from dgan_plugins.manual.labelme import read_labelme_file
from dgan_plugins.manual.names import LabelNames
from dgan_plugins.toy.annotation_folder import labelme_document
from dgan_plugins.toy.polygons import DEFAULT_TOLERANCE, label_polygons, trace_regions
from dgan_plugins.toy.render import KEYPOINT_NAMES, PART_CLASSES, render_batch

NAMES = {"segmentation": {"classes": list(PART_CLASSES)}, "keypoints": {"names": list(KEYPOINT_NAMES)}}


def _round_trip(tmp_path, segmentation, tolerance=DEFAULT_TOLERANCE, keypoints=None):
    keypoints = np.zeros((len(KEYPOINT_NAMES), 3), np.float32) if keypoints is None else keypoints
    doc = labelme_document("000001", segmentation, keypoints, list(PART_CLASSES), list(KEYPOINT_NAMES), tolerance)
    path = tmp_path / "000001.json"
    path.write_text(json.dumps(doc))
    read = read_labelme_file(path, LabelNames(tmp_path / "labels.json", NAMES), segmentation.shape)
    return doc, {a.kind: a.value for a in read}


def _iou(a, b, classes):
    ious = [((a == c) & (b == c)).sum() / ((a == c) | (b == c)).sum() for c in classes if ((a == c) | (b == c)).any()]
    return float(np.mean(ious))


@pytest.mark.parametrize("tolerance, threshold", [(0.0, 1.0), (DEFAULT_TOLERANCE, 0.99)])
def test_rendered_masks_survive_the_labelme_round_trip(tmp_path, tolerance, threshold):
    # at tolerance 0 the polygons are exact by construction; at the default the
    # measured 500-image test split is exact too, and 0.99 is the stated floor
    segmentation = render_batch(range(100_000, 100_012), 64)["segmentation"]
    for mask in segmentation:
        _, back = _round_trip(tmp_path, mask, tolerance)
        assert _iou(back["segmentation"], mask, range(len(PART_CLASSES))) >= threshold


def test_simplification_drops_vertices():
    mask = render_batch([100_003], 64)["segmentation"][0]
    exact = sum(len(p) for _, p in label_polygons(mask, len(PART_CLASSES), 0.0))
    simple = sum(len(p) for _, p in label_polygons(mask, len(PART_CLASSES)))
    assert simple < exact / 2


def test_a_hole_showing_an_earlier_class_is_cut_out_and_one_showing_a_later_class_is_not(tmp_path):
    face, eye = PART_CLASSES.index("face"), PART_CLASSES.index("eye")
    mask = np.zeros((20, 20), np.uint8)
    mask[2:18, 2:18] = face
    mask[5:9, 5:9] = 0        # background seen through the face: must stay background
    mask[11:14, 11:15] = eye  # drawn after the face on import: no cut needed
    doc, back = _round_trip(tmp_path, mask, tolerance=0.0)
    np.testing.assert_array_equal(back["segmentation"], mask)
    polygons = {s["label"]: s["points"] for s in doc["shapes"] if s["shape_type"] == "polygon"}
    outer = 4 * 16           # crack midpoints of the face's outline
    assert len(polygons["face"]) == outer + (4 * 4 + 1) + 1  # plus the cut-out hole, walked in and out


def test_diagonal_pixels_are_one_region_and_a_ring_has_one_hole():
    diagonal = np.eye(4, dtype=bool)
    assert len(trace_regions(diagonal)) == 1
    ring = np.ones((5, 5), bool)
    ring[2, 2] = False
    [(outer, holes)] = trace_regions(ring)
    assert outer.area > 0 and len(holes) == 1 and holes[0].area < 0


def test_keypoints_become_points_with_the_occluded_flag(tmp_path):
    mask = render_batch([100_001], 64)["segmentation"][0]
    keypoints = np.array([[10.25, 20.5, 1], [30.0, 21.0, 0]] + [[5.0, 5.0, 1]] * 5, np.float32)
    doc, back = _round_trip(tmp_path, mask, keypoints=keypoints)
    points = [s for s in doc["shapes"] if s["shape_type"] == "point"]
    assert [p["label"] for p in points] == list(KEYPOINT_NAMES)
    assert points[1]["flags"] == {"occluded": True} and points[0]["flags"] == {"occluded": False}
    np.testing.assert_allclose(back["keypoints"], keypoints)
