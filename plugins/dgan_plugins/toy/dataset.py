"""The toy world's data sets: seed ranges of the splits, label names, writers.

Seed ranges never overlap, so the GAN never sees a test image:

    train16   seeds 0 .. 15            the few labelled real images (4 per class)
    test      seeds 100000 .. 100499   evaluation set (125 per class)
    full      seeds 200000 .. 204999   fully supervised upper bound (1250 per class)
    GAN       seeds from 1000000 on    unlabelled images the toy GAN is trained on

Any range of 4k consecutive seeds holds exactly k samples of each class.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from dgan_cli.cache import CacheSpec, CacheWriter, LabelSchema
from dgan_cli.labelled_folder import KEYPOINT_COORDINATES, FolderWriter, format_ids
from dgan_plugins.toy.render import (FAR_DEPTH, KEYPOINT_NAMES, OBJECT_CLASSES, PALETTE, PART_CLASSES,
                                     SKELETON, render_batch)

SPLITS = {"train16": (0, 16), "test": (100_000, 500), "full": (200_000, 5_000)}
GAN_SEED_START = 1_000_000
RENDERER_VERSION = "1"
BATCH = 32


def split_seeds(name: str) -> range:
    first, count = SPLITS[name]
    return range(first, first + count)


def label_names() -> dict:
    """Names of every label kind of the toy world, as a labelled folder's labels.json holds them."""
    return {
        "segmentation": {"classes": list(PART_CLASSES), "palette": [list(c) for c in PALETTE]},
        "keypoints": {"names": list(KEYPOINT_NAMES), "skeleton": [list(e) for e in SKELETON],
                      "category": "creature", "coordinates": KEYPOINT_COORDINATES},
        "depth": {"unit": "toy units (a head is about 2 units tall)", "far": FAR_DEPTH},
        "class": {"names": list(OBJECT_CLASSES)},
    }


def _cache_schemas(resolution: int) -> dict:
    names = label_names()
    return {
        "segmentation": LabelSchema((resolution, resolution), "int16", -1, names["segmentation"]),
        "keypoints": LabelSchema((len(KEYPOINT_NAMES), 3), "float32", 0, names["keypoints"]),
        "depth": LabelSchema((resolution, resolution), "float32", float("nan"), names["depth"]),
        "class": LabelSchema((), "int64", -1, names["class"]),
    }


def sample_ids(seeds: Sequence[int]) -> list[str]:
    """Ids are the seeds, zero-padded to one width so that they sort in order."""
    return format_ids(seeds, width=max(6, len(str(max(seeds)))))


def open_output(out: Path, fmt: str, resolution: int, *, overwrite: bool = False,
                provenance: dict | None = None):
    """A labelled folder ("folder") or HDF5 cache ("hdf5") sink, opened before any rendering.

    An unfinished HDF5 file of the same job is resumed: `sink.done` samples are already in.
    """
    if fmt == "folder":
        return _FolderSink(out, overwrite)
    return _CacheSink(out, resolution, overwrite, provenance or {})


def write(sink, seeds: Sequence[int], resolution: int,
          advance: Callable[[int], None] = lambda n: None) -> dict:
    """Render `seeds` (from `sink.done` on) into an open sink; returns timing and class counts."""
    seeds, ids = list(seeds), sample_ids(seeds)
    counts = np.zeros(len(OBJECT_CLASSES), np.int64)
    render_seconds = 0.0
    start = time.perf_counter()
    with sink:
        advance(sink.done)
        for lo in range(sink.done, len(seeds), BATCH):
            t0 = time.perf_counter()
            batch = render_batch(seeds[lo:lo + BATCH], resolution)
            render_seconds += time.perf_counter() - t0
            counts += np.bincount(batch["class"], minlength=len(counts))
            sink.add(ids[lo:lo + BATCH], seeds[lo:lo + BATCH], batch)
            advance(len(batch["class"]))
    seconds = time.perf_counter() - start
    rendered = len(seeds) - sink.done
    return {"n": len(seeds), "rendered": rendered, "seconds": seconds, "render_seconds": render_seconds,
            "images_per_s": rendered / seconds if seconds > 0 else None,
            "render_images_per_s": rendered / render_seconds if render_seconds > 0 else None,
            "class_counts": dict(zip(OBJECT_CLASSES, counts.tolist()))}


class _FolderSink:
    def __init__(self, out: Path, overwrite: bool):
        self.writer = FolderWriter(out, label_names(), overwrite=overwrite)
        self.done = 0

    def add(self, ids, seeds, batch) -> None:
        self.writer.add(ids, batch["images"], _labels(batch))

    def __enter__(self):
        self.writer.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.writer.__exit__(*exc)


class _CacheSink:
    def __init__(self, out: Path, resolution: int, overwrite: bool, provenance: dict):
        spec = CacheSpec(image_shape=(resolution, resolution, 3),
                         provenance={"source": "toy world renderer", "renderer_version": RENDERER_VERSION,
                                     **provenance})
        self.writer = CacheWriter.open(out, spec, overwrite=overwrite)
        for kind, schema in _cache_schemas(resolution).items():
            self.writer.declare_labels(kind, schema)  # idempotent on a resumed file
        self.done = self.writer.count

    def add(self, ids, seeds, batch) -> None:
        labels = _labels(batch)
        labels["segmentation"] = labels["segmentation"].astype(np.int16)
        self.writer.append(images=batch["images"], ids=ids, seeds=seeds, labels=labels)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if exc_type is None:
            self.writer.finish()
        else:
            self.writer.close()


def _labels(batch: dict) -> dict:
    """The label kinds of a `render_batch` result (its keys match the kind names)."""
    return {kind: batch[kind] for kind in ("segmentation", "keypoints", "depth", "class")}
