"""The `manual` label source: human annotations of GAN samples in a registered format.

Reading (any `dgan_formats` format, looked up by name) and storing are the
public API of `dgan_cli.annotations`: every file is read and checked before
the cache is touched, and all kinds are then written in one all-or-nothing
change, so a bad file costs one error line and leaves earlier imports intact.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dgan_cli.annotations import ImportRequest, KindImport, Notes, import_labels, read_annotations


class ManualSource:
    """Human annotations of cached GAN samples, in one registered format.

    `notes` collects what reading accepted with an assumption; the command prints one warning per note.
    """

    def __init__(self, fmt: str, labels: Path | None = None, options: dict | None = None, registry=None):
        self.format, self.labels, self.options = fmt, labels, dict(options or {})
        self.registry = registry
        self.notes = Notes()

    def read(self, directory: Path, image_hw: tuple[int, int]):
        request = ImportRequest(Path(directory), tuple(image_hw), self.labels, self.options, self.notes)
        return read_annotations(self.format, request, self.registry)


def import_annotations(directory: Path, cache: Path, source: ManualSource) -> dict[str, KindImport]:
    """Read every annotation (warnings printed), then store them all in `cache` or nothing."""
    from dgan_cli.cache import CacheReader
    from dgan_cli.console import warn
    from dgan_cli.errors import DganError

    with CacheReader(cache) as reader:
        image_hw = reader.image_hw
    annotations = source.read(directory, image_hw)
    for line in source.notes.lines():
        warn(line)
    if not annotations:
        raise DganError(f"{directory}: no annotations found")
    return import_labels(cache, annotations, source.registry)


def summarise(plan: dict[str, KindImport]) -> dict:
    """Per kind: samples imported and what they hold (pixels per class, visible keypoints, depth range)."""
    summary = {}
    for kind, item in plan.items():
        entry = {"samples": len(item.ids), "ids": item.ids}
        values = item.values
        if kind == "segmentation":
            counts = np.bincount(values[values >= 0].ravel().astype(np.int64), minlength=len(item.names))
            entry["pixels"] = {name: int(c) for name, c in zip(item.names, counts)}
            entry["pixels"]["(ignored)"] = int((values < 0).sum())
        elif kind == "keypoints":
            visible = values[..., 2] > 0
            occluded = (values[..., 2] == 0) & (values[..., :2] != 0).any(-1)
            entry["visible"] = {name: int(v) for name, v in zip(item.names, visible.sum(0))}
            entry["occluded"] = {name: int(v) for name, v in zip(item.names, occluded.sum(0))}
        elif kind == "depth":
            valid = values[np.isfinite(values)]
            entry.update(labelled_pixels=int(valid.size), min=float(valid.min()) if valid.size else None,
                         max=float(valid.max()) if valid.size else None)
        summary[kind] = entry
    return summary
