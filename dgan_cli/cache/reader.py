"""Reading caches. A reader refuses foreign, truncated or incomplete files in one line."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from dgan_cli.cache import pixels
from dgan_cli.cache import schema as S
from dgan_cli.cache.writer import _open_h5, _read_spec
from dgan_cli.errors import CacheFormatError


class CacheReader:
    """Read access to a complete dgan cache (or, with allow_incomplete, its committed rows)."""

    def __init__(self, path, *, allow_incomplete: bool = False):
        self.path = Path(path)
        if not self.path.exists():
            raise CacheFormatError(f"{self.path}: no such cache")
        self.h5 = _open_h5(self.path, "r")
        try:
            self.spec = _read_spec(self.h5, self.path)
            self.complete = bool(self.h5.attrs[S.ATTR_COMPLETE])
            if not self.complete and not allow_incomplete:
                raise CacheFormatError(f"{self.path}: incomplete cache (its writer was interrupted)",
                                       hint="run the same command again to resume it")
            if S.ATTR_COMMITTED not in self.h5.attrs:  # written at creation, with the header: only damage removes it
                raise CacheFormatError(f"{self.path}: damaged (no committed count)",
                                       hint="delete it and run the command that made it again")
            self.n = int(self.h5.attrs[S.ATTR_COMMITTED])
            if self.h5["images"].shape[0] < self.n:
                raise CacheFormatError(f"{self.path}: truncated cache ({self.h5['images'].shape[0]} "
                                       f"of {self.n} samples present)")
        except BaseException:
            self.h5.close()
            raise

    # -- metadata ----------------------------------------------------------
    @property
    def layers(self):
        return list(self.spec.layers)

    @property
    def image_hw(self) -> tuple[int, int]:
        return int(self.spec.image_shape[0]), int(self.spec.image_shape[1])

    @property
    def provenance(self) -> dict:
        return self.spec.provenance

    @property
    def backbone(self) -> dict | None:
        return self.spec.provenance.get("backbone")

    def check_backbone(self, identity: dict) -> None:
        """Refuse to mix a cache with a generator other than the one that made it."""
        mine = self.backbone or {}
        if mine.get("sha256") != identity.get("sha256"):
            raise CacheFormatError(
                f"{self.path}: made by backbone {mine.get('name', '?')} sha256 {str(mine.get('sha256'))[:12]}, "
                f"not by the given one ({identity.get('name', '?')} sha256 {str(identity.get('sha256'))[:12]})")

    @property
    def ids(self) -> list[str]:
        return [s.decode() if isinstance(s, bytes) else s for s in self.h5["ids"][: self.n]]

    @property
    def seeds(self) -> np.ndarray:
        return self.h5["seeds"][: self.n]

    # -- rows ----------------------------------------------------------------
    def images(self, indices: Sequence[int] | slice | None = None) -> np.ndarray:
        return self._rows("images", indices)

    def latents(self, space: str, indices=None) -> np.ndarray:
        if space not in self.spec.latents:
            raise CacheFormatError(f"{self.path}: no '{space}' latents (has: {', '.join(self.spec.latents) or 'none'})")
        return self._rows(f"latents/{space}", indices)

    def features(self, index: int, layers: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Native-resolution fp16 feature maps of one sample, {layer: [C, h, w]}."""
        self._check_index(index)
        names = layers or [layer.name for layer in self.spec.layers]
        return {name: self.h5[f"features/{name}"][index] for name in names}

    def pixel_features(self, index: int, ys: np.ndarray, xs: np.ndarray,
                       layers: Sequence[str] | None = None) -> np.ndarray:
        """Upsampled, concatenated features at pixels (ys, xs) -> float32 [P, sum C]."""
        maps = self.features(index, layers)
        return np.concatenate([pixels.sample_points(f, ys, xs, self.image_hw) for f in maps.values()], axis=1)

    def tile_features(self, index: int, y0: int, y1: int, x0: int, x1: int,
                      layers: Sequence[str] | None = None) -> np.ndarray:
        """Upsampled, concatenated features of an image tile -> float32 [sum C, y1-y0, x1-x0]."""
        maps = self.features(index, layers)
        return np.concatenate([pixels.sample_tile(f, self.image_hw, y0, y1, x0, x1) for f in maps.values()])

    # -- labels and scores -------------------------------------------------------
    @property
    def label_kinds(self) -> list[str]:
        return sorted(self.h5["labels"].keys())

    def label_schema(self, kind: str) -> S.LabelSchema:
        self._check_kind(kind)
        return S.LabelSchema.from_dict(json.loads(self.h5[f"labels/{kind}"].attrs["schema"]))

    def labelled(self, kind: str) -> np.ndarray:
        """Indices of the samples that carry a `kind` label."""
        self._check_kind(kind)
        return np.flatnonzero(self.h5[f"labels/{kind}/present"][: self.n])

    def labels(self, kind: str, indices=None) -> np.ndarray:
        self._check_kind(kind)
        return self._rows(f"labels/{kind}/values", indices)

    @property
    def score_names(self) -> list[str]:
        return sorted(self.h5["scores"].keys()) if "scores" in self.h5 else []

    def scores(self, name: str) -> np.ndarray:
        if name not in self.score_names:
            raise CacheFormatError(f"{self.path}: no '{name}' scores")
        return self.h5[f"scores/{name}"][: self.n]

    # -- internals -------------------------------------------------------------
    def _rows(self, name: str, indices):
        ds = self.h5[name]
        if indices is None:
            return ds[: self.n]
        idx = np.arange(self.n)[indices] if isinstance(indices, slice) else np.asarray(indices, dtype=np.int64)
        for i in idx:
            self._check_index(int(i))
        uniq, inverse = np.unique(idx, return_inverse=True)  # h5py wants increasing indices
        return ds[uniq][inverse]

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.n:
            raise CacheFormatError(f"{self.path}: sample {index} out of range (0..{self.n - 1})")

    def _check_kind(self, kind: str) -> None:
        if kind not in self.h5["labels"]:
            raise CacheFormatError(f"{self.path}: no '{kind}' labels (has: {', '.join(self.label_kinds) or 'none'})")

    def close(self) -> None:
        if self.h5.id.valid:
            self.h5.close()

    def __enter__(self) -> "CacheReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def finished_job(path, spec: S.CacheSpec, hint: str) -> bool:
    """True when `path` is a complete cache of this very job (so a re-run can skip the work).

    False when it is absent, unfinished or unreadable (CacheWriter.open then
    resumes or refuses it); a complete cache of another job is refused.
    """
    path = Path(path)
    if not path.exists():
        return False
    try:
        with CacheReader(path) as reader:
            stored = reader.spec
    except CacheFormatError:
        return False
    if not stored.same_job(spec):
        raise CacheFormatError(f"{path}: already a complete cache made by another job", hint=hint)
    return True
