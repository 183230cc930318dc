"""LabelMe JSON files: area and line shapes -> segmentation, points -> keypoints.

One JSON per image, as LabelMe saves it next to `<id>.png` in the folder
`dgan sample` wrote; the sample is the stem of `imagePath` (else of the JSON
file). JSON files that are not LabelMe files (no "shapes", e.g. a labels.json
kept beside the annotations) are skipped with a warning. Overlaps: the class
listed later in LABELS wins, whatever the order the shapes were drawn in
(list containers such as "face" before their parts). Pixels no shape covers
get the first class (background) or, with unlabelled="ignore", -1.

Shapes: polygon, rectangle, circle and LabelMe 5's mask cover areas; line,
linestrip and points shapes of a class mark the pixels they pass through
(extra_shapes="draw") or are skipped with a warning ("skip"); masks are
always drawn. A point (or a one-point "points" shape) named after a keypoint
is that keypoint, visible unless its LabelMe flag "occluded" is set (then
visibility 0, position kept); keypoints without a point get (0, 0, 0).
Every field dgan reads is type-checked; the refusal names the file and the
shape. docs/annotation.md lists what is refused and what is warned about.
"""
from __future__ import annotations

import base64
import binascii
import io
import math
from pathlib import Path

import numpy as np

from dgan_cli.errors import DganError
from dgan_cli.untrusted import decode_image
from dgan_cli.annotations import Annotation, Notes
from dgan_plugins.manual.annotation import check_size, files_in, read_annotation_json
from dgan_plugins.manual.names import LabelNames
from dgan_plugins.manual.rasterise import circle_mask, path_mask, polygon_mask, rectangle_mask

AREA_SHAPES = {"polygon": 3, "rectangle": 2, "circle": 2, "mask": 2}  # shape type -> points needed
LINE_SHAPES = {"line": 2, "linestrip": 2, "points": 1}
EXTRA_SHAPES = ("draw", "skip")
SAMPLE_INDEX = "samples.json"  # written by `dgan sample` beside the images LabelMe annotates
FAR = 100  # coordinates beyond FAR image sizes from the image are a broken export, not a sloppy click


def read_labelme(directory: Path, names: LabelNames, image_hw: tuple[int, int], notes: Notes,
                 unlabelled: str = "background", extra_shapes: str = "draw") -> list[Annotation]:
    found = []
    for path in files_in(directory, (".json",)):
        if path.name != SAMPLE_INDEX and path.resolve() != names.path.resolve():
            found += read_labelme_file(path, names, image_hw, unlabelled, extra_shapes, notes)
    return found


def read_labelme_file(path: Path, names: LabelNames, image_hw: tuple[int, int], unlabelled: str = "background",
                      extra_shapes: str = "draw", notes: Notes | None = None) -> list[Annotation]:
    notes = Notes() if notes is None else notes
    doc = read_annotation_json(path)
    if not isinstance(doc, dict) or "shapes" not in doc:
        notes.add("JSON files without LabelMe 'shapes' were skipped", path)
        return []
    if not isinstance(doc["shapes"], list):
        raise DganError(f"{path}: 'shapes' must be a list")
    _check_header(path, doc, image_hw)
    sample_id = Path(doc.get("imagePath") or path.name).stem
    areas, points = [], []
    for number, shape in enumerate(doc["shapes"]):
        kind, label, xy = _shape(path, number, shape, image_hw)
        if kind in ("point", "points") and _is_keypoint(names, label):
            if len(xy) != 1:
                raise DganError(f"{path}: shape {number} ('{label}'): a keypoint is one point, got {len(xy)}")
            points.append((label, xy[0], _occluded(path, number, shape)))
            continue
        kind = "points" if kind == "point" else kind  # a point of a class marks its pixel
        if kind in LINE_SHAPES and extra_shapes == "skip":
            notes.add("line, linestrip and points shapes were skipped (--extra-shapes skip)", path)
        elif not _inside(xy, image_hw):
            notes.add("shapes entirely outside the image were ignored", path)
        else:
            areas.append((label, _pixels(path, number, kind, xy, shape, image_hw)))
    found = []
    if areas:
        found.append(Annotation(sample_id, "segmentation", _segmentation(path, areas, names, image_hw, unlabelled),
                                path))
    if points:
        found.append(Annotation(sample_id, "keypoints", _keypoints(path, points, names, image_hw), path))
    return found


def _check_header(path: Path, doc: dict, image_hw) -> None:
    if "imageHeight" in doc or "imageWidth" in doc:
        hw = doc.get("imageHeight"), doc.get("imageWidth")
        if not all(_is_int(v) for v in hw):
            raise DganError(f"{path}: imageHeight and imageWidth must be whole numbers, got {hw[0]!r}, {hw[1]!r}")
        check_size(path, hw, image_hw)
    if not isinstance(doc.get("imagePath"), (str, type(None))):
        raise DganError(f"{path}: imagePath must be a file name, got {type(doc['imagePath']).__name__}")
    data = doc.get("imageData")
    if data is not None:
        image = _decode_base64_image(f"{path}: imageData", data)
        check_size(f"{path} (imageData)", (image.height, image.width), image_hw)


def _decode_base64_image(where: str, data):
    if not isinstance(data, str):
        raise DganError(f"{where} must be base64 text, got {type(data).__name__}")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise DganError(f"{where} is not valid base64") from None
    return decode_image(io.BytesIO(raw), f"{where} is not an image")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _shape(path: Path, number: int, shape, image_hw) -> tuple[str, str, list]:
    where = f"{path}: shape {number}"
    if not isinstance(shape, dict) or not isinstance(shape.get("label"), str) or not shape["label"]:
        raise DganError(f"{where}: no label")
    where += f" ('{shape['label']}')"
    kind = shape.get("shape_type") or "polygon"
    needed = {**AREA_SHAPES, **LINE_SHAPES, "point": 1}.get(kind) if isinstance(kind, str) else None
    if needed is None:
        raise DganError(f"{where}: shape type {kind!r} is not supported",
                        hint="use polygon, rectangle, circle, mask, line, linestrip, points or point")
    if not _is_int(shape.get("group_id")) and shape.get("group_id") is not None:
        raise DganError(f"{where}: group_id must be a whole number or null, got {shape['group_id']!r}")
    points = shape.get("points")
    if (not isinstance(points, list)
            or not all(isinstance(p, list) and len(p) == 2 and all(map(_is_number, p)) for p in points)):
        raise DganError(f"{where}: points must be [x, y] pairs of finite numbers")
    exact = kind in ("rectangle", "circle", "mask", "point", "line")
    if len(points) < needed or (exact and len(points) != needed):
        raise DganError(f"{where}: a {kind} needs {'' if exact else 'at least '}{needed} points, got {len(points)}")
    h, w = image_hw
    if any(not (-FAR * w <= x <= (FAR + 1) * w and -FAR * h <= y <= (FAR + 1) * h) for x, y in points):
        raise DganError(f"{where}: a point lies far outside the {w}x{h} image")
    return kind, shape["label"], [(float(x), float(y)) for x, y in points]


def _is_keypoint(names: LabelNames, label: str) -> bool:
    """Points are keypoints unless named after a class only (then they mark pixels); unknown names are refused."""
    if "keypoints" in names.raw and label in names.keypoints:
        return True
    return "segmentation" not in names.raw or label not in names.classes


def _occluded(path: Path, number: int, shape: dict) -> bool:
    flags = shape.get("flags") or {}
    if not isinstance(flags, dict) or not isinstance(flags.get("occluded", False), bool):
        raise DganError(f"{path}: shape {number}: flags must be an object of true/false values")
    return flags.get("occluded", False)


def _inside(xy: list, hw) -> bool:
    """Whether the shape's bounding box meets the image at all."""
    xs, ys = [x for x, _ in xy], [y for _, y in xy]
    return max(xs) >= 0 and max(ys) >= 0 and min(xs) <= hw[1] and min(ys) <= hw[0]


def _pixels(path: Path, number: int, kind: str, xy: list, shape: dict, hw) -> np.ndarray:
    if kind == "rectangle":
        return rectangle_mask(xy[0], xy[1], hw)
    if kind == "circle":
        return circle_mask(xy[0], xy[1], hw)
    if kind == "mask":
        return _mask_shape(f"{path}: shape {number} ('{shape['label']}')", xy, shape.get("mask"), hw)
    if kind in LINE_SHAPES:
        return path_mask(xy, hw, connected=kind != "points")
    return polygon_mask(xy, hw)


def _mask_shape(where: str, xy: list, data, hw) -> np.ndarray:
    """LabelMe 5 stores a mask as a PNG of its bounding box, whose corners are the shape's two points."""
    crop = np.asarray(_decode_base64_image(f"{where}: mask", data).convert("L")) > 0
    left, top = int(xy[0][0]), int(xy[0][1])
    box = (int(xy[1][1]) - top + 1, int(xy[1][0]) - left + 1)
    if crop.shape != box:
        raise DganError(f"{where}: the mask is {crop.shape[1]}x{crop.shape[0]}, its box {box[1]}x{box[0]}")
    ys, xs = np.nonzero(crop)
    ys, xs = ys + top, xs + left
    inside = (ys >= 0) & (ys < hw[0]) & (xs >= 0) & (xs < hw[1])
    pixels = np.zeros(hw, dtype=bool)
    pixels[ys[inside], xs[inside]] = True
    return pixels


def _segmentation(path, areas, names: LabelNames, hw, unlabelled: str) -> np.ndarray:
    classes = names.classes
    for label, _ in areas:
        if label not in classes:
            raise DganError(f"{path}: label '{label}' is not a segmentation class in {names.path}")
    mask = np.full(hw, 0 if unlabelled == "background" else -1, dtype=np.int16)
    for class_index, name in enumerate(classes):  # later classes are drawn on top
        for label, pixels in areas:
            if label == name:
                mask[pixels] = class_index
    return mask


def _keypoints(path, points, names: LabelNames, hw) -> np.ndarray:
    keypoint_names = names.keypoints
    value = np.zeros((len(keypoint_names), 3), dtype=np.float32)
    seen = set()
    for label, (x, y), occluded in points:
        if label not in keypoint_names:
            raise DganError(f"{path}: point '{label}' is not a keypoint name in {names.path}")
        if label in seen:
            raise DganError(f"{path}: keypoint '{label}' is marked twice")
        if not (0 <= x <= hw[1] and 0 <= y <= hw[0]):
            raise DganError(f"{path}: keypoint '{label}' at ({x:g}, {y:g}) lies outside the {hw[1]}x{hw[0]} image")
        seen.add(label)
        value[keypoint_names.index(label)] = (x, y, 0.0 if occluded else 1.0)
    return value
