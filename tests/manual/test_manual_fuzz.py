"""Broken and hostile annotation files through the real CLI: each ends in one line, nothing half-imported.

One representative per class of issue 20: deep nesting, lying .npy headers, empty files, wrong
JSON types, absurd coordinates, broken embedded images, inconsistent COCO fields, bad labels
files, control characters in messages, and a labels.json beside LabelMe files.
"""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from manual_data import H, LABELS, W  # noqa: E402
from test_manual_import import FACE, import_, labelme, shape  # noqa: E402

from dgan_cli.cache import CacheReader  # noqa: E402


def _png_base64(width=W, height=H) -> str:
    import base64
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


REFUSED_LABELME = {
    "deep nesting": ("[" * 5000 + "]" * 5000, "levels deep"),
    "points as strings": (labelme("000001", [shape("face", [["1", "1"], [3, 1], [3, 3]])]), "finite numbers"),
    "points as booleans": (labelme("000001", [shape("face", [[True, 1], [3, 1], [3, 3]])]), "finite numbers"),
    "coordinate 1e308": (labelme("000001", [shape("face", [[1e308, 1], [3, 1], [3, 3]])]), "far outside"),
    "group_id as a string": (labelme("000001", [FACE | {"group_id": "1"}]), "group_id"),
    "imageData not base64": (labelme("000001", [FACE]) | {"imageData": "%%%"}, "not valid base64"),
    "imageData not an image": (labelme("000001", [FACE]) | {"imageData": "aGVsbG8="}, "not an image"),
    "imageData of another size": (labelme("000001", [FACE]) | {"imageData": _png_base64(4, 4)}, "size mismatch"),
    "duplicate keys": ('{"shapes": [], "shapes": []}', "appears twice"),
    "keypoint outside the image": (labelme("000001", [shape("nose", [[99, 1]], "point")]), "outside the"),
    "image height as a float": (labelme("000001", [FACE], height=8.0), "must be whole numbers"),
    "image width as a string": (labelme("000001", [FACE], width="12"), "must be whole numbers"),
    "image height as a boolean": (labelme("000001", [FACE], height=True), "must be whole numbers"),
    "only one of the sizes": ({k: v for k, v in labelme("000001", [FACE]).items() if k != "imageWidth"},
                              "must be whole numbers"),
    "flag as a string": (labelme("000001", [shape("nose", [[1, 1]], "point", occluded="yes")]),
                         "flags must be an object of true/false values"),
    "flag as a number": (labelme("000001", [shape("nose", [[1, 1]], "point", occluded=1)]),
                         "flags must be an object of true/false values"),
    "flags as a list": (labelme("000001", [shape("nose", [[1, 1]], "point") | {"flags": ["occluded"]}]),
                        "flags must be an object of true/false values"),
}


def _one_line(result, message):
    assert result.code == 2, result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert message in result.err, result.err


@pytest.mark.parametrize("case", list(REFUSED_LABELME))
def test_broken_labelme_is_refused_in_one_line(case, run_cli, registry, sampled_cache, labels_file, tmp_path):
    doc, message = REFUSED_LABELME[case]
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "000001.json").write_text(doc if isinstance(doc, str) else json.dumps(doc))
    _one_line(import_(run_cli, registry, folder, sampled_cache, labels_file), message)
    with CacheReader(sampled_cache) as reader:
        assert reader.label_kinds == []


def test_polygons_outside_the_image_and_extra_shapes_warn_or_draw(run_cli, registry, sampled_cache,
                                                                  labels_file, tmp_path):
    folder = tmp_path / "ann"
    folder.mkdir()
    outside = shape("eye", [[50, 50], [60, 50], [60, 60]])
    line = shape("eye", [[0, 7.5], [11.9, 7.5]], "line")
    (folder / "000001.json").write_text(json.dumps(labelme("000001", [FACE, outside, line])))
    (folder / "labels.json").write_text(json.dumps(LABELS))  # beside the annotations: skipped, not refused
    result = import_(run_cli, registry, folder, sampled_cache, folder / "labels.json")
    assert result.code == 0, result.err
    assert "entirely outside the image" in result.err and len(result.err.strip().splitlines()) == 1
    with CacheReader(sampled_cache) as reader:
        assert (reader.labels("segmentation")[1][7] == 2).all()  # the line drawn across the bottom row
    result = import_(run_cli, registry, folder, sampled_cache, folder / "labels.json", "labelme",
                     "--extra-shapes", "skip")
    assert result.code == 0 and "line, linestrip and points shapes were skipped" in result.err


def test_labelme_5_mask_shape(run_cli, registry, sampled_cache, labels_file, tmp_path):
    import base64
    buffer = io.BytesIO()
    Image.fromarray(np.ones((2, 3), np.uint8)).save(buffer, "PNG")
    mask = shape("eye", [[4, 3], [6, 4]], "mask") | {"mask": base64.b64encode(buffer.getvalue()).decode()}
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "000001.json").write_text(json.dumps(labelme("000001", [mask])))
    assert import_(run_cli, registry, folder, sampled_cache, labels_file).code == 0
    with CacheReader(sampled_cache) as reader:
        seg = reader.labels("segmentation")[1]
    assert (seg == 2).sum() == 6 and (seg[3:5, 4:7] == 2).all()


def test_depth_files_that_lie_or_are_empty(run_cli, registry, sampled_cache, labels_file, tmp_path):
    folder = tmp_path / "depth"
    folder.mkdir()
    (folder / "000001.npy").write_bytes(b"")
    _one_line(import_(run_cli, registry, folder, sampled_cache, labels_file, "depth"), "empty file")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (1_000_000, 1_000_000)})
    (folder / "000001.npy").write_bytes(header.getvalue() + bytes(64))
    _one_line(import_(run_cli, registry, folder, sampled_cache, labels_file, "depth"), "header declares")


COCO = {"images": [{"id": 1, "file_name": "000001.png", "width": W, "height": H}],
        "categories": [{"id": 1, "keypoints": ["nose"]}],
        "annotations": [{"image_id": 1, "category_id": 1, "keypoints": [1, 1, 2], "num_keypoints": 1}]}


@pytest.mark.parametrize("keypoints, message", [(["1", "1", 2], "flat list of numbers"),
                                                ([1, 1, True], "flat list of numbers"),
                                                ([40, 1, 2], "outside the")])
def test_broken_coco_is_refused(keypoints, message, run_cli, registry, sampled_cache, labels_file, tmp_path):
    doc = json.loads(json.dumps(COCO))
    doc["annotations"][0]["keypoints"] = keypoints
    (tmp_path / "kp.json").write_text(json.dumps(doc))
    _one_line(import_(run_cli, registry, tmp_path / "kp.json", sampled_cache, labels_file, "coco-keypoints"), message)


def _coco(**changes) -> dict:
    return {**json.loads(json.dumps(COCO)), **changes}


BROKEN_COCO_FIELDS = {
    "images not a list": (_coco(images={"1": "000001.png"}), "not a COCO keypoints file"),
    "an image that is not an object": (_coco(images=["000001.png"]), "images[0] needs 'id' (int or str)"),
    "an image without an id": (_coco(images=[{"file_name": "000001.png"}]), "images[0] needs 'id'"),
    "an image id as a boolean": (_coco(images=[{"id": True, "file_name": "000001.png"}]), "images[0] needs 'id'"),
    "an image id as a list": (_coco(images=[{"id": [1], "file_name": "000001.png"}]), "images[0] needs 'id'"),
    "image size as strings": (_coco(images=[{"id": 1, "file_name": "000001.png", "width": "12", "height": "8"}]),
                              "height and width must be whole numbers"),
    "image size as floats": (_coco(images=[{"id": 1, "file_name": "000001.png", "width": 12.0, "height": 8.0}]),
                             "height and width must be whole numbers"),
    "categories not a list": (_coco(categories={"id": 1, "keypoints": ["nose"]}), "not a COCO keypoints file"),
    "a category without keypoints": (_coco(categories=[{"id": 1}]), "categories[0] needs 'keypoints' (list)"),
    "category keypoints as text": (_coco(categories=[{"id": 1, "keypoints": "nose"}]),
                                   "categories[0] needs 'keypoints' (list)"),
    "category keypoint names as numbers": (_coco(categories=[{"id": 1, "keypoints": [0]}]),
                                           "categories[0].keypoints must be a list of names"),
    "a category id as a float": (_coco(categories=[{"id": 1.0, "keypoints": ["nose"]}]), "categories[0] needs 'id'"),
}


@pytest.mark.parametrize("case", list(BROKEN_COCO_FIELDS))
def test_malformed_coco_images_and_categories_are_refused(case, run_cli, registry, sampled_cache, labels_file,
                                                          tmp_path):
    doc, message = BROKEN_COCO_FIELDS[case]
    (tmp_path / "kp.json").write_text(json.dumps(doc))
    _one_line(import_(run_cli, registry, tmp_path / "kp.json", sampled_cache, labels_file, "coco-keypoints"), message)
    with CacheReader(sampled_cache) as reader:
        assert reader.label_kinds == []


def test_num_keypoints_disagreeing_is_a_warning(run_cli, registry, sampled_cache, labels_file, tmp_path):
    doc = json.loads(json.dumps(COCO))
    doc["annotations"][0]["num_keypoints"] = 3
    (tmp_path / "kp.json").write_text(json.dumps(doc))
    result = import_(run_cli, registry, tmp_path / "kp.json", sampled_cache, labels_file, "coco-keypoints")
    assert result.code == 0 and "num_keypoints disagrees" in result.err


@pytest.mark.parametrize("classes, message", [(["background", "face", "face"], "lists 'face' twice"),
                                              (["background", ""], "is empty")])
def test_bad_labels_files(classes, message, run_cli, registry, sampled_cache, tmp_path):
    labels = tmp_path / "bad-labels.json"
    labels.write_text(json.dumps({"segmentation": {"classes": classes}}))
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "000001.json").write_text(json.dumps(labelme("000001", [FACE])))
    _one_line(import_(run_cli, registry, folder, sampled_cache, labels), message)


def test_control_characters_from_files_are_shown_escaped(run_cli, registry, sampled_cache, labels_file, tmp_path):
    folder = tmp_path / "ann"
    folder.mkdir()
    (folder / "000001.json").write_text(json.dumps(labelme("000001", [shape("e\u202ey\x00e\u200b", [[1, 1]], "point")])))
    result = import_(run_cli, registry, folder, sampled_cache, labels_file)
    _one_line(result, "e\\u202ey\\x00e\\u200b")
    assert not any(ch in result.err for ch in "\u202e\x00\u200b")
