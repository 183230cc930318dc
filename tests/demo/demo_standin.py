"""A stand-in for the machine-made annotations of toy GAN samples (recipes/toy/annotations/n16).

Same layout as the shipped set:

    labelme/<id>.png + <id>.json   LabelMe: one rectangle-shaped polygon per run of a part's
                                   pixels on a row (exact at pixel centres), a point per keypoint
    masks/<id>.png                 indexed PNG of part classes
    depth/<id>.npy                 float32 depth
    labels.json                    the LABELS file for `annotate-import --labels`

The labels are the toy renderer's for the same seeds, not annotations of the
GAN's images: tests need the layout and the import path, not label quality.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from dgan_plugins.toy.dataset import label_names, sample_ids
from dgan_plugins.toy.render import render_batch


def row_runs(mask: np.ndarray):
    """(class, row, first column, end column) of every maximal run of one non-zero class on a row."""
    for row, values in enumerate(mask):
        edges = np.flatnonzero(np.diff(values)) + 1
        starts = np.concatenate([[0], edges])
        ends = np.concatenate([edges, [len(values)]])
        for start, end in zip(starts, ends):
            if values[start] != 0:
                yield int(values[start]), row, int(start), int(end)


def labelme_doc(sample_id: str, mask: np.ndarray, keypoints: np.ndarray, names: dict) -> dict:
    classes, keypoint_names = names["segmentation"]["classes"], names["keypoints"]["names"]
    shapes = [{"label": classes[c], "shape_type": "polygon", "flags": {},
               "points": [[x0, y], [x1, y], [x1, y + 1], [x0, y + 1]]}
              for c, y, x0, x1 in row_runs(mask)]
    shapes += [{"label": name, "shape_type": "point", "flags": {"occluded": bool(v == 0)},
                "points": [[float(x), float(y)]]}
               for name, (x, y, v) in zip(keypoint_names, keypoints)]
    height, width = mask.shape
    return {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": f"{sample_id}.png",
            "imageData": None, "imageHeight": height, "imageWidth": width}


def write_standin(out: Path, seeds=range(16), resolution: int = 64) -> Path:
    """Write the annotation layout for GAN samples of these seeds (ids = zero-padded seeds)."""
    out = Path(out)
    for sub in ("labelme", "masks", "depth"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    names = label_names()
    palette = [v for colour in names["segmentation"]["palette"] for v in colour]
    batch = render_batch(list(seeds), resolution)
    for i, sample_id in enumerate(sample_ids(list(seeds))):
        Image.fromarray(batch["images"][i]).save(out / "labelme" / f"{sample_id}.png")
        doc = labelme_doc(sample_id, batch["segmentation"][i], batch["keypoints"][i], names)
        (out / "labelme" / f"{sample_id}.json").write_text(json.dumps(doc))
        mask = Image.fromarray(batch["segmentation"][i], mode="P")
        mask.putpalette(palette + [0] * (768 - len(palette)))
        mask.save(out / "masks" / f"{sample_id}.png")
        np.save(out / "depth" / f"{sample_id}.npy", batch["depth"][i])
    (out / "labels.json").write_text(json.dumps({k: names[k] for k in ("segmentation", "keypoints", "depth")},
                                                indent=1))
    return out
