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
from dgan_cli.annotations import Annotation, Notes
from dgan_plugins.manual.annotation import check_size, read_annotation_json
from dgan_plugins.manual.names import LabelNames

INDEX_FILE = "keypoints.json"


def read_coco_keypoints(directory: Path, names: LabelNames, image_hw: tuple[int, int],
                        notes: Notes) -> list[Annotation]:
    path = directory / INDEX_FILE if directory.is_dir() else directory
    if not path.is_file():
        raise DganError(f"{path}: no such COCO keypoints file")
    doc = read_annotation_json(path)
    if not isinstance(doc, dict) or not all(isinstance(doc.get(key), list)
                                            for key in ("images", "categories", "annotations")):
        raise DganError(f"{path}: not a COCO keypoints file (needs 'images', 'categories' and 'annotations' lists)")
    images = {_field(path, f"images[{i}]", img, "id", (int, str)): img for i, img in enumerate(doc["images"])}
    categories = {}
    for i, cat in enumerate(doc["categories"]):
        cat_names = _field(path, f"categories[{i}]", cat, "keypoints", list)
        if not all(isinstance(name, str) for name in cat_names):
            raise DganError(f"{path}: categories[{i}].keypoints must be a list of names")
        categories[_field(path, f"categories[{i}]", cat, "id", (int, str))] = cat_names
    wanted = names.keypoints
    for cat_id, cat_names in categories.items():
        unknown = [name for name in cat_names if name not in wanted]
        if unknown:
            raise DganError(f"{path}: keypoint '{unknown[0]}' (category {cat_id}) is not a keypoint name "
                            f"in {names.path}")
    found, seen = [], {}
    for number, ann in enumerate(doc["annotations"]):
        image = _image_of(path, number, ann, images)
        sample_id = Path(str(image.get("file_name", image["id"]))).stem
        if sample_id in seen:
            raise DganError(f"{path}: two keypoint annotations for image '{sample_id}' "
                            f"(annotations {seen[sample_id]} and {number})")
        seen[sample_id] = number
        if "height" in image or "width" in image:
            hw = image.get("height"), image.get("width")
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in hw):
                raise DganError(f"{path}: image '{sample_id}': height and width must be whole numbers")
            check_size(f"{path} (image '{sample_id}')", hw, image_hw)
        cat_names = categories.get(ann.get("category_id"))
        if cat_names is None:
            raise DganError(f"{path}: annotation {number} has unknown category_id {ann.get('category_id')!r}")
        value = _keypoints(path, number, ann, cat_names, wanted, image_hw, notes)
        found.append(Annotation(sample_id, "keypoints", value, path))
    return found


def _field(path: Path, where: str, item, key: str, types):
    if not isinstance(item, dict) or not isinstance(item.get(key), types) or isinstance(item.get(key), bool):
        raise DganError(f"{path}: {where} needs '{key}' ({' or '.join(t.__name__ for t in _tuple(types))})")
    return item[key]


def _tuple(types) -> tuple:
    return types if isinstance(types, tuple) else (types,)


def _image_of(path: Path, number: int, ann, images: dict) -> dict:
    if not isinstance(ann, dict) or isinstance(ann.get("image_id"), (bool, list, dict)) \
            or ann.get("image_id") not in images:
        raise DganError(f"{path}: annotation {number} refers to no image in 'images'")
    return images[ann["image_id"]]


def _keypoints(path: Path, number: int, ann: dict, cat_names: list, wanted: list, hw, notes) -> np.ndarray:
    where = f"{path}: annotation {number}"
    flat = ann.get("keypoints")
    if not isinstance(flat, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
        raise DganError(f"{where}: 'keypoints' must be a flat list of numbers x, y, v, ...")
    triples = np.asarray(flat, dtype=np.float64).reshape(-1, 3) if len(flat) % 3 == 0 else np.zeros((0, 3))
    if len(triples) != len(cat_names) or not np.isfinite(triples).all():
        raise DganError(f"{where}: expected {len(cat_names)} finite (x, y, v) triples, got {len(flat) / 3:g}")
    value = np.zeros((len(wanted), 3), dtype=np.float32)
    for name, (x, y, v) in zip(cat_names, triples):
        if v not in (0, 1, 2):
            raise DganError(f"{where}: keypoint '{name}' has visibility {v:g} (COCO uses 0/1/2)")
        if v > 0 and not (0 <= x <= hw[1] and 0 <= y <= hw[0]):
            raise DganError(f"{where}: keypoint '{name}' at ({x:g}, {y:g}) lies outside the {hw[1]}x{hw[0]} image")
        value[wanted.index(name)] = (x, y, 1.0 if v == 2 else 0.0)
    labelled = int((triples[:, 2] > 0).sum())
    if "num_keypoints" in ann and ann["num_keypoints"] != labelled:
        notes.add("num_keypoints disagrees with the visibilities; the visibilities were used", f"{where}")
    return value
