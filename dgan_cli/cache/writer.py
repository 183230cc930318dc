"""Writing caches: append batches, resume after a crash, mark completion last.

Crash safety: rows are written and flushed first, then the `committed`
counter is raised; rows beyond it are ignored and cut on resume. `complete`
is set only by `finish()`, so an interrupted file never reads as complete.
A failed write (full disk, I/O error) ends the command with one line and
leaves the file as of its last flush (guarded.py), so the same command
resumes once there is space.
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Mapping, Sequence

import h5py
import numpy as np

from dgan_cli import __version__
from dgan_cli.cache import schema as S
from dgan_cli.cache.guarded import GuardedFile
from dgan_cli.errors import CacheFormatError, DganError


def _open_h5(path: Path, mode: str) -> h5py.File:
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        raise CacheFormatError(f"{path}: not a readable HDF5 file ({_h5_reason(exc)})",
                               hint="delete it to start over") from exc


def _open_guarded(path: Path, create: bool) -> h5py.File:
    """The cache opened for writing through a GuardedFile (`h5.guarded`)."""
    guarded = GuardedFile(path, create)
    try:
        h5 = h5py.File(guarded, "w" if create else "r+")
    except BaseException as exc:
        guarded.close()
        if create:
            path.unlink(missing_ok=True)
        if isinstance(exc, OSError) and guarded.failure is not None:
            raise _write_error(path, guarded.failure, None) from exc
        if isinstance(exc, OSError):
            raise CacheFormatError(f"{path}: not a readable HDF5 file ({_h5_reason(exc)})",
                                   hint="delete it to start over") from exc
        raise
    h5.guarded = guarded
    return h5


def _write_error(path: Path, failure: OSError, committed: int | None) -> DganError:
    kept = "" if committed is None else f"; the {committed} samples committed before it are kept"
    return DganError(f"{path}: writing the cache failed ({failure.strerror or failure}){kept}",
                     hint="free space (or fix the disk) and run the same command again to resume")


def _h5_reason(exc: OSError) -> str:
    text = str(exc)
    return text.split("(")[0].strip() or "unreadable"


class CacheWriter:
    """Appends samples to a dgan cache. Use `CacheWriter.open` or `CacheWriter.edit`."""

    def __init__(self, h5: h5py.File, spec: S.CacheSpec, path: Path):
        self.h5, self.spec, self.path = h5, spec, path

    # -- opening ---------------------------------------------------------------
    @classmethod
    def open(cls, path, spec: S.CacheSpec, *, overwrite: bool = False) -> "CacheWriter":
        """Create a cache, or resume an incomplete one made by the same job."""
        path = Path(path)
        if path.exists() and not overwrite:
            return cls._resume(path, spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        provenance = {"dgan_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                      **spec.provenance}
        spec = S.CacheSpec(spec.image_shape, tuple(spec.layers), dict(spec.latents),
                           tuple(spec.scores), provenance)
        h5 = _open_guarded(path, create=True)
        writer = cls(h5, spec, path)
        with writer._writing(created=True):
            writer._create()
        return writer

    def _create(self) -> None:
        h5, spec = self.h5, self.spec
        h5.attrs[S.ATTR_FORMAT] = S.FORMAT_NAME
        h5.attrs[S.ATTR_VERSION] = S.FORMAT_VERSION
        h5.attrs[S.ATTR_COMPLETE] = False
        h5.attrs[S.ATTR_COMMITTED] = 0
        h5.attrs[S.ATTR_SPEC] = spec.to_json()
        _rows(h5, "ids", (), h5py.string_dtype())
        _rows(h5, "seeds", (), "int64")
        _rows(h5, "images", tuple(spec.image_shape), "uint8", compression="lzf")
        for space, shape in spec.latents.items():
            _rows(h5, f"latents/{space}", tuple(shape), "float32")
        for layer in spec.layers:
            _rows(h5, f"features/{layer.name}", (layer.channels, layer.resolution, layer.resolution), "float16")
        for name in spec.scores:
            _rows(h5, f"scores/{name}", (), "float32", fill=np.nan)
        h5.create_group("labels")
        h5.flush()

    @classmethod
    def _resume(cls, path: Path, spec: S.CacheSpec) -> "CacheWriter":
        h5 = _open_guarded(path, create=False)
        try:
            stored = _read_spec(h5, path)
            if h5.attrs[S.ATTR_COMPLETE]:
                raise CacheFormatError(f"{path}: already a complete cache",
                                       hint="choose another path or delete it")
            if not stored.same_job(spec):
                raise CacheFormatError(f"{path}: an unfinished cache from a different job "
                                       "(other backbone, layers or parameters)",
                                       hint="delete it or use the original settings")
        except BaseException:
            h5.guarded.seal()
            h5.close()
            h5.guarded.close()
            raise
        writer = cls(h5, stored, path)
        with writer._writing():
            writer._truncate(int(h5.attrs[S.ATTR_COMMITTED]))
        return writer

    @classmethod
    def edit(cls, path) -> "CacheWriter":
        """Open a complete cache to add labels or scores (e.g. imported annotations)."""
        path = Path(path)
        if not path.exists():
            raise CacheFormatError(f"{path}: no such cache")
        h5 = _open_guarded(path, create=False)
        try:
            spec = _read_spec(h5, path)
            if not h5.attrs[S.ATTR_COMPLETE]:
                raise CacheFormatError(f"{path}: the cache is incomplete",
                                       hint="run the command that makes it again to finish it")
        except BaseException:
            h5.guarded.seal()
            h5.close()
            h5.guarded.close()
            raise
        return cls(h5, spec, path)

    # -- writing ---------------------------------------------------------------
    @property
    def count(self) -> int:
        return int(self.h5.attrs[S.ATTR_COMMITTED])

    @contextmanager
    def _writing(self, created: bool = False):
        """Turn a failed write into one line; the file keeps its last commit (and a new file goes)."""
        committed = None if created else self.count
        try:
            yield
        except (OSError, RuntimeError, ValueError) as exc:
            if self.h5.guarded.failure is None:
                raise
            self._failed(committed, created, exc)
        if self.h5.guarded.failure is not None:
            self._failed(committed, created, None)

    def _failed(self, committed: int | None, created: bool, exc: BaseException | None) -> None:
        failure = self.h5.guarded.failure
        self.close()
        if created:
            self.path.unlink(missing_ok=True)
        raise _write_error(self.path, failure, committed) from exc

    def declare_labels(self, kind: str, label_schema: S.LabelSchema) -> None:
        """Add a label kind (idempotent; a different schema for a known kind is refused)."""
        with self._writing():
            self._declare_labels(kind, label_schema)

    def _check_schema(self, kind: str, label_schema: S.LabelSchema) -> bool:
        """True if `kind` is already declared with this schema, False if new; a clash is refused."""
        group = self.h5["labels"]
        if kind not in group:
            return False
        stored, wanted = group[kind].attrs["schema"], json.dumps(label_schema.as_dict(), sort_keys=True)
        # Equal as text covers a NaN fill (depth), which never equals itself as a float.
        if stored != wanted and json.loads(stored) != json.loads(wanted):
            raise CacheFormatError(f"{self.path}: labels '{kind}' already stored with another schema",
                                   hint=f"stored {stored}")
        return True

    def _declare_labels(self, kind: str, label_schema: S.LabelSchema) -> None:
        if self._check_schema(kind, label_schema):
            return
        group = self.h5["labels"]
        sub = group.create_group(kind)
        sub.attrs["schema"] = json.dumps(label_schema.as_dict(), sort_keys=True)
        n = self.h5["images"].shape[0]
        _rows(sub, "values", tuple(label_schema.shape), label_schema.dtype, fill=label_schema.fill,
              compression="lzf", length=n)
        _rows(sub, "present", (), "bool", fill=False, length=n)
        self.h5.flush()

    def append(self, *, images: np.ndarray, ids: Sequence[str] | None = None,
               seeds: Sequence[int] | None = None, latents: Mapping[str, np.ndarray] | None = None,
               features: Mapping[str, np.ndarray] | None = None,
               scores: Mapping[str, np.ndarray] | None = None,
               labels: Mapping[str, np.ndarray] | None = None,
               present: Mapping[str, np.ndarray] | None = None) -> range:
        """Write a batch of samples; returns their indices. Everything the spec names is required.

        `present` {kind: bool [B]} says which samples carry their `labels` entry (default: all).
        """
        with self._writing():
            return self._append(images, ids, seeds, latents, features, scores, labels, present or {})

    def _append(self, images, ids, seeds, latents, features, scores, labels, present) -> range:
        start, b = self.count, len(images)
        stop = start + b
        latents, features, scores, labels = latents or {}, features or {}, scores or {}, labels or {}
        self._check_batch(b, latents, features, labels)
        self._grow(stop)
        h5 = self.h5
        h5["ids"][start:stop] = list(ids) if ids is not None else [f"{i:06d}" for i in range(start, stop)]
        h5["seeds"][start:stop] = np.asarray(seeds if seeds is not None else [-1] * b, dtype=np.int64)
        h5["images"][start:stop] = images
        for space, value in latents.items():
            h5[f"latents/{space}"][start:stop] = np.asarray(value, dtype=np.float32)
        for name, value in features.items():
            h5[f"features/{name}"][start:stop] = np.asarray(value, dtype=np.float16)
        for name, value in scores.items():
            h5[f"scores/{name}"][start:stop] = np.asarray(value, dtype=np.float32)
        for kind, value in labels.items():
            h5[f"labels/{kind}/values"][start:stop] = value
            h5[f"labels/{kind}/present"][start:stop] = present.get(kind, True)
        h5.flush()  # data first, then the counter that makes it count
        h5.attrs[S.ATTR_COMMITTED] = stop
        h5.flush()
        return range(start, stop)

    def set_labels(self, kind: str, indices: Sequence[int], values: np.ndarray) -> None:
        """Store labels for existing samples (kind must be declared)."""
        with self._writing():
            self._set_labels(kind, indices, values)

    def _set_labels(self, kind: str, indices: Sequence[int], values: np.ndarray) -> None:
        if kind not in self.h5["labels"]:
            raise CacheFormatError(f"{self.path}: labels '{kind}' not declared")
        group = self.h5[f"labels/{kind}"]
        for i, value in zip(indices, values):
            group["values"][int(i)] = value
        self.h5.flush()
        for i in indices:
            group["present"][int(i)] = True
        self.h5.flush()

    def replace_labels(self, updates: Mapping[str, tuple[S.LabelSchema, Sequence[int], np.ndarray]]) -> None:
        """Declare and store several label kinds as one change: {kind: (schema, indices, values)}.

        Every schema is checked before anything is written, and a failure while
        writing restores what the touched rows held (and drops kinds it declared).
        """
        for kind, (label_schema, _, _) in updates.items():
            self._check_schema(kind, label_schema)
        undo: list[tuple] = []
        with self._writing():
            try:
                for kind, (label_schema, indices, values) in updates.items():
                    if kind not in self.h5["labels"]:
                        undo.append((kind, None))
                        self._declare_labels(kind, label_schema)
                    else:
                        group, rows = self.h5[f"labels/{kind}"], [int(i) for i in indices]
                        undo.append((kind, (rows, [group["values"][i] for i in rows],
                                            [group["present"][i] for i in rows])))
                    self._set_labels(kind, indices, values)
            except BaseException:
                self._undo(undo)
                raise

    def _undo(self, undo: list[tuple]) -> None:
        for kind, before in reversed(undo):
            if before is None:
                del self.h5[f"labels/{kind}"]
                continue
            group = self.h5[f"labels/{kind}"]
            for i, value, present in zip(*before):
                group["values"][i] = value
                group["present"][i] = present
        self.h5.flush()

    def set_scores(self, name: str, indices: Sequence[int], values: Sequence[float]) -> None:
        with self._writing():
            self._set_scores(name, indices, values)

    def _set_scores(self, name: str, indices: Sequence[int], values: Sequence[float]) -> None:
        if f"scores/{name}" not in self.h5:
            _rows(self.h5, f"scores/{name}", (), "float32", fill=np.nan, length=self.h5["images"].shape[0])
        order = np.argsort(np.asarray(indices))
        self.h5[f"scores/{name}"][np.asarray(indices)[order]] = np.asarray(values, np.float32)[order]
        self.h5.flush()

    def finish(self) -> None:
        """Mark the cache complete; only now does a reader accept it."""
        with self._writing():
            self.h5.attrs[S.ATTR_COMPLETE] = True
            self.h5.flush()
        self.close()

    def close(self) -> None:
        """Close; anything not committed by a flush (a step a Ctrl-C cut short) is dropped."""
        self.h5.guarded.seal()
        if self.h5.id.valid:
            try:
                self.h5.close()
            except (OSError, RuntimeError):
                if self.h5.guarded.failure is None:
                    raise
        self.h5.guarded.close()

    def __enter__(self) -> "CacheWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals -------------------------------------------------------------
    def _check_batch(self, b, latents, features, labels) -> None:
        missing = ([f"latents/{s}" for s in self.spec.latents if s not in latents]
                   + [f"features/{l.name}" for l in self.spec.layers if l.name not in features])
        unknown = [k for k in labels if k not in self.h5["labels"]]
        if missing or unknown:
            raise ValueError(f"batch lacks {missing} or has undeclared labels {unknown}")

    def _datasets(self):
        found = []
        self.h5.visititems(lambda name, obj: found.append(obj) if isinstance(obj, h5py.Dataset) else None)
        return found

    def _grow(self, n: int) -> None:
        for ds in self._datasets():
            if ds.shape[0] < n:
                ds.resize(n, axis=0)

    def _truncate(self, n: int) -> None:
        for ds in self._datasets():
            if ds.shape[0] > n:
                ds.resize(n, axis=0)
        self.h5.flush()


def _rows(parent, name: str, shape: tuple, dtype, *, fill=None, compression=None, length: int = 0):
    """A dataset growing along axis 0, one chunk per sample (features, images) or per 256 rows."""
    per_sample = int(np.prod(shape)) if shape else 1
    chunk_rows = 1 if per_sample >= 4096 else 256
    return parent.create_dataset(name, shape=(length, *shape), maxshape=(None, *shape), dtype=dtype,
                                 chunks=(chunk_rows, *shape), fillvalue=fill, compression=compression)


def _read_spec(h5: h5py.File, path: Path) -> S.CacheSpec:
    if h5.attrs.get(S.ATTR_FORMAT) != S.FORMAT_NAME:
        raise CacheFormatError(f"{path}: not a dgan cache (no '{S.ATTR_FORMAT}={S.FORMAT_NAME}' attribute)")
    version = int(h5.attrs.get(S.ATTR_VERSION, -1))
    if version != S.FORMAT_VERSION:
        raise CacheFormatError(f"{path}: cache format v{version}, this dgan reads v{S.FORMAT_VERSION}",
                               hint="re-create it with this dgan version")
    try:
        return S.CacheSpec.from_json(h5.attrs[S.ATTR_SPEC])
    except (KeyError, ValueError, TypeError) as exc:
        raise CacheFormatError(f"{path}: damaged cache header ({exc})") from exc
