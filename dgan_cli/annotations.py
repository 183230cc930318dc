"""The label-import API: what an annotation format returns, and the one way labels reach a cache.

A format (`FormatSpec.read(request)`) only reads files and returns
`Annotation`s. `import_labels` matches them to the cache's samples, asks each
kind's head plugin for its storage (`label_schema`), checks every value, and
only then writes all kinds in one all-or-nothing change
(`CacheWriter.replace_labels`): a bad file, a refused name or a failed write
leaves the cache as it was.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from dgan_cli.errors import DganError


@dataclass(frozen=True)
class Annotation:
    """One label of one sample.

    `sample_id` is the cached sample's id (the image's file stem); `value` is in
    the storage layout of the head named `kind` (its `label_schema` shape);
    `source` is the file it came from, for error lines; `names` are the label
    names that head is built with (class or keypoint names; empty for depth).
    """

    sample_id: str
    kind: str
    value: np.ndarray
    source: Path | str
    names: tuple[str, ...] = ()


class Notes:
    """What an import accepted with an assumption: one warning line per kind of note, not per file."""

    def __init__(self):
        self.files: dict[str, list[Path | str]] = {}

    def add(self, note: str, path: Path | str) -> None:
        self.files.setdefault(note, []).append(path)

    def lines(self) -> list[str]:
        return [f"{note}: {paths[0]}" + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")
                for note, paths in self.files.items()]


@dataclass(frozen=True)
class ImportRequest:
    """What a format's `read` gets: the folder (or file), the cached image size (H, W),
    the `--labels` file (None when not given), `--format-option` values, and `notes`
    to record assumptions (printed as warnings)."""

    directory: Path
    image_hw: tuple[int, int]
    labels: Path | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    notes: Notes = field(default_factory=Notes)


@dataclass
class KindImport:
    """The labels of one kind to store: cache rows, sample ids, values, head names, schema."""

    kind: str
    indices: list[int]
    ids: list[str]
    values: np.ndarray
    names: tuple[str, ...] = ()
    schema: object = None


def plan_import(annotations: Sequence[Annotation], cache_ids: Sequence[str]) -> dict[str, KindImport]:
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
        first = next(iter(done.values()), None)
        if first is not None and tuple(first.names) != tuple(ann.names):
            raise DganError(f"{ann.source}: '{ann.kind}' label names differ from those of {first.source}")
        done[ann.sample_id] = ann
    plan = {}
    for kind, anns in sorted(by_kind.items()):
        ordered = sorted(anns.values(), key=lambda a: row_of[a.sample_id])
        shapes = {np.shape(a.value) for a in ordered}
        if len(shapes) > 1:
            raise DganError(f"'{kind}' annotations have different shapes: {sorted(map(list, shapes))}")
        plan[kind] = KindImport(kind, [row_of[a.sample_id] for a in ordered], [a.sample_id for a in ordered],
                                np.stack([np.asarray(a.value) for a in ordered]), tuple(ordered[0].names))
    return plan


def attach_schemas(plan: Mapping[str, KindImport], image_hw, registry) -> None:
    """Ask each kind's head plugin how it stores labels, and check the values fit."""
    for kind, item in plan.items():
        spec = registry.get("head", kind)
        try:
            head = spec.build(list(item.names))
        except (ValueError, TypeError) as exc:
            raise DganError(f"the '{kind}' head refuses these label names ({exc})") from None
        schema = head.label_schema(tuple(image_hw))
        if tuple(item.values.shape[1:]) != tuple(schema.shape):
            raise DganError(f"'{kind}' labels have shape {list(item.values.shape[1:])}, "
                            f"the '{kind}' head stores {list(schema.shape)}")
        item.values = item.values.astype(schema.dtype)
        item.schema = schema


def import_labels(cache, annotations: Sequence[Annotation], registry=None) -> dict[str, KindImport]:
    """Store `annotations` in `cache` (an existing, complete cache), all kinds or none.

    Re-importing a sample replaces its label. Returns what was stored, per kind.
    """
    from dgan_cli.cache import CacheReader, CacheWriter
    from dgan_cli.registry import default_registry

    registry = registry or default_registry()
    with CacheReader(cache) as reader:
        cache_ids, image_hw = reader.ids, reader.image_hw
    plan = plan_import(annotations, cache_ids)
    if not plan:
        raise DganError(f"{cache}: no annotations to import")
    attach_schemas(plan, image_hw, registry)
    with CacheWriter.edit(cache) as writer:
        writer.replace_labels({k: (item.schema, item.indices, item.values) for k, item in plan.items()})
    return plan


def parse_format_options(items: Sequence[str]) -> dict[str, str]:
    """`--format-option KEY=VALUE` values -> {key: value} (values stay text)."""
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DganError(f"--format-option must be KEY=VALUE, got '{item}'")
        options[key.strip()] = value
    return options


def read_annotations(fmt: str, request: ImportRequest, registry=None) -> list[Annotation]:
    """Run the registered format `fmt` on `request` (nothing is written)."""
    from dgan_cli.registry import default_registry

    registry = registry or default_registry()
    spec = registry.get("format", fmt)
    if spec.needs_labels and request.labels is None:
        raise DganError(f"--format {fmt} needs --labels (a labels.json naming the classes)")
    unknown = sorted(set(request.options) - set(spec.options))
    if unknown:
        raise DganError(f"--format {fmt} has no option '{unknown[0]}'",
                        hint=f"its options: {', '.join(spec.options) or 'none'}")
    if not Path(request.directory).exists():
        raise DganError(f"{request.directory}: no such annotation folder or file")
    return list(spec.read(request))
