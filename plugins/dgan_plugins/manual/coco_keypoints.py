"""COCO keypoint annotations -> keypoints [K, 3] (x, y, visibility) in LABELS order.

DIR is the JSON file itself or a folder holding `keypoints.json` (the
labelled-folder layout). The sample is the stem of each image's `file_name`.
Keypoints are matched to LABELS by name (the category's `keypoints` list), so
their order in the file does not matter. COCO's v = 2 (visible) -> visibility
1; v = 1 (hidden) and v = 0 (not labelled / outside) -> 0; x, y are kept as
given (as the labelled folder reads them). One annotation per image: this is
one object per generated sample.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dgan_cli.errors import DganError
from dgan_plugins.manual.annotation import Annotation, check_size, read_annotation_json
from dgan_plugins.manual.names import LabelNames

INDEX_FILE = "keypoints.json"


def read_coco_keypoints(directory: Path, names: LabelNames, image_hw: tuple[int, int]) -> list[Annotation]:
    path = directory / INDEX_FILE if directory.is_dir() else directory
    if not path.is_file():
        raise DganError(f"{path}: no such COCO keypoints file")
    doc = read_annotation_json(path)
    try:
        images = {img["id"]: img for img in doc["images"]}
        categories = {cat["id"]: list(cat["keypoints"]) for cat in doc["categories"]}
        annotations = list(doc["annotations"])
    except (TypeError, KeyError) as exc:
        raise DganError(f"{path}: not a COCO keypoints file (missing {exc})") from None
    wanted = names.keypoints
    for cat_id, cat_names in categories.items():
        unknown = [name for name in cat_names if name not in wanted]
        if unknown:
            raise DganError(f"{path}: keypoint '{unknown[0]}' (category {cat_id}) is not a keypoint name "
                            f"in {names.path}")
    found, seen = [], {}
    for number, ann in enumerate(annotations):
        image = _image_of(path, number, ann, images)
        sample_id = Path(str(image.get("file_name", image["id"]))).stem
        if sample_id in seen:
            raise DganError(f"{path}: two keypoint annotations for image '{sample_id}' "
                            f"(annotations {seen[sample_id]} and {number})")
        seen[sample_id] = number
        if "height" in image and "width" in image:
            check_size(f"{path} (image '{sample_id}')", (image["height"], image["width"]), image_hw)
        cat_names = categories.get(ann.get("category_id"))
        if cat_names is None:
            raise DganError(f"{path}: annotation {number} has unknown category_id {ann.get('category_id')}")
        found.append(Annotation(sample_id, "keypoints", _keypoints(path, number, ann, cat_names, wanted), path))
    return found


def _image_of(path: Path, number: int, ann, images: dict) -> dict:
    if not isinstance(ann, dict) or ann.get("image_id") not in images:
        raise DganError(f"{path}: annotation {number} refers to no image in 'images'")
    return images[ann["image_id"]]


def _keypoints(path: Path, number: int, ann: dict, cat_names: list, wanted: list) -> np.ndarray:
    try:
        triples = np.asarray(ann["keypoints"], dtype=np.float64).reshape(-1, 3)
    except (KeyError, TypeError, ValueError):
        raise DganError(f"{path}: annotation {number}: 'keypoints' must be a flat list x, y, v, ...") from None
    if len(triples) != len(cat_names) or not np.isfinite(triples).all():
        raise DganError(f"{path}: annotation {number}: expected {len(cat_names)} finite (x, y, v) triples, "
                        f"got {len(triples)}")
    value = np.zeros((len(wanted), 3), dtype=np.float32)
    for name, (x, y, v) in zip(cat_names, triples):
        if v not in (0, 1, 2):
            raise DganError(f"{path}: annotation {number}: keypoint '{name}' has visibility {v:g} (COCO uses 0/1/2)")
        value[wanted.index(name)] = (x, y, 1.0 if v == 2 else 0.0)
    return value
