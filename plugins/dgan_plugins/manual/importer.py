"""The `manual` label source: read every annotation file, check it all, then write the cache.

Nothing is written until every file has been read and matched to a cached
sample, so a bad file (unknown label name, wrong size, unknown sample, corrupt
JSON) costs one error line and leaves earlier imports intact. Storage of each
label kind is the head plugin's `label_schema`, looked up by name.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from dgan_cli.errors import DganError
from dgan_plugins.manual.annotation import Annotation, Notes
from dgan_plugins.manual.coco_keypoints import read_coco_keypoints
from dgan_plugins.manual.depth import read_depth
from dgan_plugins.manual.labelme import EXTRA_SHAPES, read_labelme
from dgan_plugins.manual.names import LabelNames, read_label_names
from dgan_plugins.manual.png_masks import read_png_masks

UNLABELLED = ("background", "ignore")
FORMATS: dict[str, Callable] = {"labelme": read_labelme, "png-masks": read_png_masks,
                                "coco-keypoints": read_coco_keypoints, "depth": read_depth}


class ManualSource:
    """Human annotations of cached GAN samples, in one file format.

    `notes` collects what reading accepted with an assumption; the command prints one warning per note.
    """

    def __init__(self, fmt: str, labels, unlabelled: str = "background", extra_shapes: str = "draw"):
        if fmt not in FORMATS:
            raise DganError(f"unknown annotation format '{fmt}'", hint=f"one of: {', '.join(FORMATS)}")
        if unlabelled not in UNLABELLED:
            raise DganError(f"--unlabelled must be one of {', '.join(UNLABELLED)}, got '{unlabelled}'")
        if extra_shapes not in EXTRA_SHAPES:
            raise DganError(f"--extra-shapes must be one of {', '.join(EXTRA_SHAPES)}, got '{extra_shapes}'")
        self.format, self.unlabelled, self.extra_shapes = fmt, unlabelled, extra_shapes
        self.names = labels if isinstance(labels, LabelNames) else read_label_names(Path(labels))
        self.notes = Notes()

    def read(self, directory: Path, image_hw: tuple[int, int]) -> list[Annotation]:
        directory = Path(directory)
        if not directory.exists():
            raise DganError(f"{directory}: no such annotation folder or file")
        options = ({"unlabelled": self.unlabelled, "extra_shapes": self.extra_shapes}
                   if self.format == "labelme" else {})
        return FORMATS[self.format](directory, self.names, image_hw, self.notes, **options)


@dataclass
class KindImport:
    """The labels of one kind to store: cache indices, sample ids, values in head storage."""

    kind: str
    indices: list[int]
    ids: list[str]
    values: np.ndarray
    schema: object = None


def match_samples(annotations: list[Annotation], cache_ids: list[str]) -> dict[str, KindImport]:
    """Group annotations by kind and map them to cache rows; refuses unknown or doubled samples."""
    row_of = {sample_id: i for i, sample_id in enumerate(cache_ids)}
    by_kind: dict[str, dict[str, Annotation]] = {}
    for ann in annotations:
        if ann.sample_id not in row_of:
            raise DganError(f"{ann.source}: annotation for unknown sample '{ann.sample_id}'",
                            hint="the cache has no sample with that id (file name)")
        done = by_kind.setdefault(ann.kind, {})
        if ann.sample_id in done:
            raise DganError(f"{ann.source}: sample '{ann.sample_id}' already annotated in {done[ann.sample_id].source}")
        done[ann.sample_id] = ann
    plan = {}
    for kind, anns in sorted(by_kind.items()):
        ordered = sorted(anns.values(), key=lambda a: row_of[a.sample_id])
        plan[kind] = KindImport(kind, [row_of[a.sample_id] for a in ordered], [a.sample_id for a in ordered],
                                np.stack([a.value for a in ordered]))
    return plan


def head_label_names(kind: str, names: LabelNames) -> list[str]:
    """What a head is built with: its class or keypoint names (none for depth)."""
    if kind == "segmentation":
        return names.classes
    if kind == "keypoints":
        return names.keypoints
    return list(names.entry(kind).get("names", []))


def attach_schemas(plan: dict[str, KindImport], names: LabelNames, image_hw, registry) -> None:
    """Ask each kind's head plugin how it stores labels, and check the values fit."""
    for kind, item in plan.items():
        spec = registry.get("head", kind)
        try:
            head = spec.build(head_label_names(kind, names))
        except (ValueError, TypeError) as exc:
            raise DganError(f"{names.path}: the '{kind}' head refuses these names ({exc})") from None
        schema = head.label_schema(tuple(image_hw))
        if tuple(item.values.shape[1:]) != tuple(schema.shape):
            raise DganError(f"'{kind}' labels have shape {list(item.values.shape[1:])}, "
                            f"the '{kind}' head stores {list(schema.shape)}")
        item.values = item.values.astype(schema.dtype)
        item.schema = schema


def write_labels(cache: Path, plan: dict[str, KindImport]) -> None:
    """Declare every kind first (a schema clash stops before any value is written), then store."""
    from dgan_cli.cache import CacheWriter

    with CacheWriter.edit(cache) as writer:
        for item in plan.values():
            writer.declare_labels(item.kind, item.schema)
        for item in plan.values():
            writer.set_labels(item.kind, item.indices, item.values)


def import_annotations(directory: Path, cache: Path, source: ManualSource, registry) -> dict[str, KindImport]:
    from dgan_cli.cache import CacheReader
    from dgan_cli.console import warn

    with CacheReader(cache) as reader:
        cache_ids, image_hw = reader.ids, reader.image_hw
    annotations = source.read(directory, image_hw)
    for line in source.notes.lines():
        warn(line)
    plan = match_samples(annotations, cache_ids)
    if not plan:
        raise DganError(f"{directory}: no annotations found")
    attach_schemas(plan, source.names, image_hw, registry)
    write_labels(cache, plan)
    return plan


def summarise(plan: dict[str, KindImport], names: LabelNames) -> dict:
    """Per kind: samples imported and what they hold (pixels per class, visible keypoints, depth range)."""
    summary = {}
    for kind, item in plan.items():
        entry = {"samples": len(item.ids), "ids": item.ids}
        values = item.values
        if kind == "segmentation":
            counts = np.bincount(values[values >= 0].ravel().astype(np.int64), minlength=len(names.classes))
            entry["pixels"] = {name: int(c) for name, c in zip(names.classes, counts)}
            entry["pixels"]["(ignored)"] = int((values < 0).sum())
        elif kind == "keypoints":
            visible = values[..., 2] > 0
            occluded = (values[..., 2] == 0) & (values[..., :2] != 0).any(-1)
            entry["visible"] = {name: int(v) for name, v in zip(names.keypoints, visible.sum(0))}
            entry["occluded"] = {name: int(v) for name, v in zip(names.keypoints, occluded.sum(0))}
        elif kind == "depth":
            valid = values[np.isfinite(values)]
            entry.update(labelled_pixels=int(valid.size), min=float(valid.min()) if valid.size else None,
                         max=float(valid.max()) if valid.size else None)
        summary[kind] = entry
    return summary
