"""A cache written by many processes: each part fills a shard cache, the shards are joined in order.

A shard is an ordinary cache whose provenance adds `shard: [index, count]`
to the job's, so a shard of other settings is refused like any foreign
cache. Joining copies the shards' rows in order into a cache of the job's
own spec, written under a temporary name and renamed when complete: the
result holds the same rows as the cache one process writes.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from dgan_cli import distributed
from dgan_cli.cache.reader import CacheReader, finished_job
from dgan_cli.cache.schema import CacheSpec
from dgan_cli.cache.writer import CacheWriter
from dgan_cli.errors import CacheFormatError

COPY_BYTES = 64 << 20  # rows copied per step when joining


def shard_spec(spec: CacheSpec, index: int, count: int) -> CacheSpec:
    return CacheSpec(spec.image_shape, tuple(spec.layers), dict(spec.latents), tuple(spec.scores),
                     {**spec.provenance, "shard": [index, count]})


def write_job(part: distributed.Part, path: Path, spec: CacheSpec, total: int, batch: int,
              fill: Callable[[CacheWriter, range], None], *, hint: str,
              finish: Optional[Callable[[CacheWriter], None]] = None,
              overwrite: bool = False) -> distributed.Outcome:
    """Make the cache `path` of job `spec` (items 0..total-1), or this part's shard of it.

    `fill(writer, items)` appends the items not yet committed in `writer`
    (resume); `finish(writer)` runs on the whole cache, after its last row and
    before it is marked complete (the synth filter).
    """
    path = Path(path)
    if not overwrite and finished_job(path, spec, hint=hint):
        return distributed.Outcome(distributed.DONE)
    if part.count > 1 and path.exists() and not overwrite:
        raise CacheFormatError(f"{path}: an unfinished run of one process is there",
                               hint="resume it without --shard or torchrun, or delete it")

    def write(dest: Path, items: range, shard: Optional[tuple[int, int]]) -> None:
        dest_spec = spec if shard is None else shard_spec(spec, *shard)
        if shard is not None and not overwrite and finished_job(dest, dest_spec, hint=_foreign_hint(path)):
            return
        writer = CacheWriter.open(dest, dest_spec, overwrite=overwrite)
        try:
            fill(writer, items)
            if shard is None and finish is not None:
                finish(writer)
            writer.finish()
        finally:
            writer.close()

    if overwrite and part.count == 1:  # start over: shards of an earlier split are not used
        write(path, range(total), None)
        return distributed.Outcome(distributed.SINGLE)
    return distributed.run(part, path, total, batch, write,
                           lambda shards: join(shards, path, spec, finish, overwrite))


def _foreign_hint(path: Path) -> str:
    return f"delete {distributed.shard_folder(path)} or use the original settings"


def join(shards: list[Path], path: Path, spec: CacheSpec, finish=None, overwrite: bool = False) -> None:
    """Write `path` from its complete shards, in order (then `finish(writer)`, as `write_job`)."""
    if path.exists() and not overwrite:
        raise CacheFormatError(f"{path}: an unfinished run of one process, and the shards of a split run "
                               f"in {distributed.shard_folder(path)}", hint="delete one of them")
    readers = []
    try:
        for index, shard in enumerate(shards):
            readers.append(_open_shard(shard, shard_spec(spec, index, len(shards)), path))
        tmp = path.with_name(f".{path.name}.joining-{os.getpid()}")
        writer = CacheWriter.open(tmp, spec, overwrite=True)
        try:
            kinds = {}
            for reader in readers:
                kinds.update({kind: reader.label_schema(kind) for kind in reader.label_kinds})
            for kind, label_schema in kinds.items():
                writer.declare_labels(kind, label_schema)
            for reader in readers:
                _copy_rows(reader, writer)
            if finish is not None:
                finish(writer)
            writer.finish()
            os.replace(tmp, path)
        finally:
            writer.close()
            tmp.unlink(missing_ok=True)
    finally:
        for reader in readers:
            reader.close()


def _open_shard(shard: Path, expected: CacheSpec, path: Path) -> CacheReader:
    index, count = expected.provenance["shard"]
    reader = CacheReader(shard, allow_incomplete=True)
    if not reader.spec.same_job(expected):
        reader.close()
        raise CacheFormatError(f"{shard}: a shard of another job (other backbone, layers or settings)",
                               hint=_foreign_hint(path))
    if not reader.complete:
        reader.close()
        raise CacheFormatError(f"{shard}: shard {index} of {count} is unfinished ({reader.n} samples)",
                               hint=f"run its part again (--shard {index}/{count}, or the same torchrun)")
    return reader


def _copy_rows(reader: CacheReader, writer: CacheWriter) -> None:
    h5 = reader.h5
    row_bytes = sum(int(np.prod(h5[name].shape[1:])) * h5[name].dtype.itemsize
                    for name in ["images", *[f"features/{layer.name}" for layer in reader.layers]])
    step = max(1, COPY_BYTES // max(1, row_bytes))
    ids, seeds = reader.ids, reader.seeds
    for start in range(0, reader.n, step):
        rows = slice(start, min(start + step, reader.n))
        writer.append(images=h5["images"][rows], ids=ids[rows], seeds=seeds[rows],
                      latents={space: h5[f"latents/{space}"][rows] for space in reader.spec.latents},
                      features={layer.name: h5[f"features/{layer.name}"][rows] for layer in reader.layers},
                      scores={name: h5[f"scores/{name}"][rows] for name in writer.spec.scores},
                      labels={kind: h5[f"labels/{kind}/values"][rows] for kind in reader.label_kinds},
                      present={kind: h5[f"labels/{kind}/present"][rows] for kind in reader.label_kinds})
