"""LabelMe JSON files: polygons/rectangles/circles -> segmentation, points -> keypoints.

One JSON per image, as LabelMe saves it next to `<id>.png` in the folder
`dgan sample` wrote; the sample is the stem of `imagePath` (else of the JSON
file). Overlaps: the class listed later in LABELS wins, whatever the order the
shapes were drawn in (list containers such as "face" before their parts).
Pixels no shape covers get the first class (background) or, with
unlabelled="ignore", -1. A point shape named after a keypoint is that keypoint,
visible unless its LabelMe flag "occluded" is set (then visibility 0, position
kept); keypoints without a point get (0, 0, 0).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dgan_cli.errors import DganError
from dgan_plugins.manual.annotation import Annotation, check_size, files_in, read_annotation_json
from dgan_plugins.manual.names import LabelNames
from dgan_plugins.manual.rasterise import circle_mask, polygon_mask, rectangle_mask

AREA_SHAPES = {"polygon": 3, "rectangle": 2, "circle": 2}  # shape type -> points needed
SAMPLE_INDEX = "samples.json"  # written by `dgan sample` beside the images LabelMe annotates


def read_labelme(directory: Path, names: LabelNames, image_hw: tuple[int, int],
                 unlabelled: str = "background") -> list[Annotation]:
    found = []
    for path in files_in(directory, (".json",)):
        if path.name != SAMPLE_INDEX:
            found += read_labelme_file(path, names, image_hw, unlabelled)
    return found


def read_labelme_file(path: Path, names: LabelNames, image_hw: tuple[int, int],
                      unlabelled: str = "background") -> list[Annotation]:
    doc = read_annotation_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        raise DganError(f"{path}: not a LabelMe file (no 'shapes' list)")
    if "imageHeight" in doc and "imageWidth" in doc:
        check_size(path, (doc["imageHeight"], doc["imageWidth"]), image_hw)
    sample_id = Path(doc.get("imagePath") or path.name).stem
    areas, points = [], []
    for number, shape in enumerate(doc["shapes"]):
        kind, label, xy = _shape(path, number, shape)
        (points if kind == "point" else areas).append((kind, label, xy, shape))
    found = []
    if areas:
        found.append(Annotation(sample_id, "segmentation", _segmentation(path, areas, names, image_hw, unlabelled),
                                path))
    if points:
        found.append(Annotation(sample_id, "keypoints", _keypoints(path, points, names), path))
    return found


def _shape(path: Path, number: int, shape) -> tuple[str, str, list]:
    where = f"{path}: shape {number}"
    if not isinstance(shape, dict) or not isinstance(shape.get("label"), str):
        raise DganError(f"{where}: no label")
    kind = shape.get("shape_type") or "polygon"
    needed = AREA_SHAPES.get(kind, 1 if kind == "point" else None)
    if needed is None:
        raise DganError(f"{where} ('{shape['label']}'): shape type '{kind}' is not supported",
                        hint="use polygon, rectangle, circle or point")
    try:
        xy = [(float(x), float(y)) for x, y in shape.get("points")]
    except (TypeError, ValueError):
        raise DganError(f"{where} ('{shape['label']}'): points must be [x, y] pairs") from None
    if len(xy) < needed or (kind != "polygon" and len(xy) != needed) or not np.isfinite(xy).all():
        raise DganError(f"{where} ('{shape['label']}'): a {kind} needs {needed} finite points, got {len(xy)}")
    return kind, shape["label"], xy


def _segmentation(path, areas, names: LabelNames, hw, unlabelled: str) -> np.ndarray:
    classes = names.classes
    for _, label, _, _ in areas:
        if label not in classes:
            raise DganError(f"{path}: label '{label}' is not a segmentation class in {names.path}")
    mask = np.full(hw, 0 if unlabelled == "background" else -1, dtype=np.int16)
    for class_index, name in enumerate(classes):  # later classes are drawn on top
        for kind, label, xy, _ in areas:
            if label == name:
                mask[_area(kind, xy, hw)] = class_index
    return mask


def _area(kind: str, xy: list, hw) -> np.ndarray:
    if kind == "rectangle":
        return rectangle_mask(xy[0], xy[1], hw)
    if kind == "circle":
        return circle_mask(xy[0], xy[1], hw)
    return polygon_mask(xy, hw)


def _keypoints(path, points, names: LabelNames) -> np.ndarray:
    keypoint_names = names.keypoints
    value = np.zeros((len(keypoint_names), 3), dtype=np.float32)
    seen = set()
    for _, label, xy, shape in points:
        if label not in keypoint_names:
            raise DganError(f"{path}: point '{label}' is not a keypoint name in {names.path}")
        if label in seen:
            raise DganError(f"{path}: keypoint '{label}' is marked twice")
        seen.add(label)
        occluded = bool((shape.get("flags") or {}).get("occluded", False))
        value[keypoint_names.index(label)] = (xy[0][0], xy[0][1], 0.0 if occluded else 1.0)
    return value
