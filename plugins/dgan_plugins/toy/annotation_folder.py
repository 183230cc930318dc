"""Write machine-made annotations of generator samples the way a person would hand them in.

    DIR/labelme/<id>.png, <id>.json   LabelMe: a polygon per connected region of each part,
                                      a point per keypoint (flag "occluded" when not visible)
    DIR/masks/<id>.png                indexed PNG (part class per pixel)
    DIR/depth/<id>.npy, <id>.png      float32 depth (and its 16-bit copy)
    DIR/keypoints.json                COCO keypoints
    DIR/images/<id>.png               the sample (a labelled folder: dgan show reads DIR)
    DIR/labels.json                   the LABELS file for `dgan annotate-import`
    DIR/samples.json, README.md       backbone identity, seeds, how the labels were made, import commands

The folder is a labelled folder (dgan_cli/labelled_folder.py) plus labelme/,
samples.json and README.md, all written under a temporary name and renamed
when complete. Every LabelMe file is read back through dgan's own LabelMe
reader and compared with the predicted mask (the polygon fidelity).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from dgan_cli.errors import DganError
from dgan_cli.labelled_folder import FolderWriter
from dgan_plugins.evaluate.metrics import SegmentationScore
from dgan_plugins.manual.labelme import read_labelme_file
from dgan_plugins.manual.names import LabelNames
from dgan_plugins.toy.annotator import Prediction
from dgan_plugins.toy.dataset import label_names
from dgan_plugins.toy.polygons import label_polygons

LABELME_VERSION = "5.4.1"  # the LabelMe file version these files follow
KINDS = ("segmentation", "keypoints", "depth")


def labelme_document(sample_id: str, segmentation: np.ndarray, keypoints: np.ndarray, classes: list[str],
                     keypoint_names: list[str], tolerance: float) -> dict:
    shapes = [_shape(classes[c], polygon.tolist(), "polygon")
              for c, polygon in label_polygons(segmentation, len(classes), tolerance)]
    for name, (x, y, visible) in zip(keypoint_names, keypoints.tolist()):
        shapes.append(_shape(name, [[round(x, 2), round(y, 2)]], "point", {"occluded": not visible}))
    h, w = segmentation.shape
    return {"version": LABELME_VERSION, "flags": {}, "shapes": shapes, "imagePath": f"{sample_id}.png",
            "imageData": None, "imageHeight": h, "imageWidth": w}


def _shape(label: str, points: list, kind: str, flags: dict | None = None) -> dict:
    return {"label": label, "points": points, "group_id": None, "description": "", "shape_type": kind,
            "flags": flags or {}}


def write_annotation_folder(out: Path, seeds: list[int], ids: list[str], images: np.ndarray,
                            prediction: Prediction, *, tolerance: float, about: dict,
                            readme: Callable[[dict], str], overwrite: bool = False) -> dict:
    """Write DIR (see the module docstring); returns the polygon fidelity and shape counts.

    `about` goes into samples.json; `readme(summary)` is the text of README.md.
    """
    names = {kind: label_names()[kind] for kind in KINDS}
    labels = {"segmentation": prediction.segmentation, "keypoints": prediction.keypoints,
              "depth": prediction.depth}
    classes, keypoint_names = names["segmentation"]["classes"], names["keypoints"]["names"]
    writer = FolderWriter(out, names, overwrite=overwrite)
    with writer:
        writer.add(ids, images, labels)
        labelme = writer.tmp / "labelme"
        # what dgan's LabelMe reader sees: the LABELS file this folder ships
        reader_names = LabelNames(out / "labels.json", {k: dict(v) for k, v in names.items()})
        score, shapes, vertices = SegmentationScore(len(classes)), 0, 0
        try:
            labelme.mkdir()
            for n, sample_id in enumerate(ids):
                doc = labelme_document(sample_id, prediction.segmentation[n], prediction.keypoints[n], classes,
                                       keypoint_names, tolerance)
                Image.fromarray(images[n]).save(labelme / f"{sample_id}.png")
                path = labelme / f"{sample_id}.json"
                path.write_text(json.dumps(doc, indent=1) + "\n")
                back = {a.kind: a.value for a in read_labelme_file(path, reader_names, images.shape[1:3])}
                score.update(back["segmentation"], prediction.segmentation[n].astype(np.int64))
                polygons = [s for s in doc["shapes"] if s["shape_type"] == "polygon"]
                shapes += len(polygons)
                vertices += sum(len(s["points"]) for s in polygons)
            fidelity = score.result(classes)
            summary = {"polygons": shapes, "polygon_vertices": vertices, "tolerance_px": tolerance,
                       "polygon_miou": fidelity["miou"], "polygon_pixel_agreement": fidelity["pixel_accuracy"]}
            index = {**about, "polygon_fidelity": summary,
                     "samples": {i: {"seed": s, "image": f"images/{i}.png", "labelme": f"labelme/{i}.json"}
                                 for i, s in zip(ids, seeds)}}
            (writer.tmp / "samples.json").write_text(json.dumps(index, indent=1) + "\n")
            (writer.tmp / "README.md").write_text(readme(summary))
        except OSError as exc:
            raise DganError(f"cannot write {out}: {exc.strerror or exc}") from None
    return summary
