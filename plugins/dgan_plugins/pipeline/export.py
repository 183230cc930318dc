"""Exports of a synthesized cache, kept samples only: a labelled folder and a compact HDF5.

- folder: `dgan_cli.labelled_folder` (images/*.png, masks/*.png with a
  palette, keypoints.json in COCO form, depth/*.npy + 16-bit PNG). A plugin
  head writes its own kind's files there through `HeadSpec.export`, into the
  same temporary folder (so they appear with the rest or not at all); a kind
  whose head gives no `export` stays in the HDF5 files only.
- hdf5: a dgan cache with the kept samples' images, latents, labels and
  scores and no features, written under a temporary name and then renamed.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dgan_cli.errors import DganError

CHUNK = 64


def kept_indices(reader) -> np.ndarray:
    """Indices with keep == 1 (every sample when the cache has no `keep` score)."""
    if "keep" not in reader.score_names:
        return np.arange(reader.n)
    return np.flatnonzero(reader.scores("keep") == 1)


def _chunks(indices: np.ndarray):
    for start in range(0, len(indices), CHUNK):
        yield indices[start:start + CHUNK]


def folder_label_names(reader, kinds, indices) -> dict:
    """labels.json entries of a labelled folder, from the cache's label schemas."""
    names = {}
    for kind in kinds:
        attrs = reader.label_schema(kind).attrs
        if kind == "segmentation":
            names[kind] = {"classes": list(attrs.get("names", []))}
            if "palette" in attrs:
                names[kind]["palette"] = attrs["palette"]
        elif kind == "keypoints":
            names[kind] = {"names": list(attrs.get("names", []))}
            if "skeleton" in attrs:
                names[kind]["skeleton"] = attrs["skeleton"]
        elif kind == "depth":
            far = max((float(np.nanmax(reader.labels(kind, chunk), initial=0.0)) for chunk in _chunks(indices)),
                      default=0.0)
            names[kind] = {"unit": attrs.get("unit", "unknown")}
            if far > 0:
                names[kind]["far"] = far
    return names


def export_folder(reader, out: Path, registry=None) -> dict:
    """Write the kept samples as a labelled folder at `out` (replaced if it exists)."""
    from dgan_cli.labelled_folder import KINDS, FolderWriter
    from dgan_cli.registry import default_registry

    registry = registry or default_registry()
    indices = kept_indices(reader)
    kinds = [k for k in reader.label_kinds if k in KINDS]
    exporters = {k: registry.get("head", k).export for k in reader.label_kinds
                 if k not in KINDS and k in registry.names("head") and registry.get("head", k).export is not None}
    skipped = [k for k in reader.label_kinds if k not in KINDS and k not in exporters]
    ids = reader.ids
    with FolderWriter(out, folder_label_names(reader, kinds, indices), overwrite=True) as writer:
        for chunk in _chunks(indices):
            chunk_ids = [ids[i] for i in chunk]
            writer.add(chunk_ids, reader.images(chunk), {k: reader.labels(k, chunk) for k in kinds})
            for kind, export in exporters.items():
                try:
                    export(writer.tmp, chunk_ids, reader.labels(kind, chunk), dict(reader.label_schema(kind).attrs))
                except OSError as exc:
                    raise DganError(f"cannot write {out}: the '{kind}' export failed ({exc.strerror or exc})") from exc
    return {"path": str(out), "samples": int(len(indices)), "kinds": kinds + list(exporters),
            "skipped_kinds": skipped}


def export_hdf5(reader, out: Path) -> dict:
    """Write the kept samples (no features) as a complete dgan cache at `out` (replaced if it exists)."""
    from dgan_cli.cache import CacheSpec, CacheWriter

    indices = kept_indices(reader)
    scores = [name for name in reader.score_names if name != "keep"]
    spec = CacheSpec(image_shape=reader.spec.image_shape, layers=(), latents=dict(reader.spec.latents),
                     scores=tuple(scores),
                     provenance={**reader.provenance, "exported_from": reader.path.name, "kept": int(len(indices))})
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    ids, seeds = reader.ids, reader.seeds
    all_scores = {name: reader.scores(name) for name in scores}
    writer = CacheWriter.open(tmp, spec, overwrite=True)
    try:
        for kind in reader.label_kinds:
            writer.declare_labels(kind, reader.label_schema(kind))
        for chunk in _chunks(indices):
            writer.append(images=reader.images(chunk), ids=[ids[i] for i in chunk], seeds=seeds[chunk],
                          latents={s: reader.latents(s, chunk) for s in reader.spec.latents},
                          scores={name: values[chunk] for name, values in all_scores.items()},
                          labels={k: reader.labels(k, chunk) for k in reader.label_kinds})
        writer.finish()
        os.replace(tmp, out)
    finally:
        writer.close()
        if tmp.exists():
            tmp.unlink()
    return {"path": str(out), "samples": int(len(indices))}
