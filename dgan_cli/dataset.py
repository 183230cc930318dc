"""A PyTorch `Dataset` over labelled images: a labelled folder or a dgan cache (.h5).

    from dgan_cli.dataset import LabelledDataset
    data = LabelledDataset("out/folder", kinds="segmentation")   # (image, mask)
    data = LabelledDataset("out/synth.h5")                       # (image, {kind: label})

Images are float32 [3, H, W] in [0, 1]. Labels: segmentation int64 [H, W],
keypoints float32 [K, 3] (x, y, visible), depth float32 [H, W], class int64.
From a cache, only samples carrying every requested kind are served and, if
the cache has a `keep` score (written by `dgan synth`'s filter), only kept ones.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from dgan_cli.errors import DganError


def _as_tensor(kind: str, value) -> torch.Tensor:
    if kind in ("segmentation", "class"):
        return torch.as_tensor(np.asarray(value).astype(np.int64))
    return torch.as_tensor(np.asarray(value, dtype=np.float32))


class LabelledDataset(Dataset):
    """Items are (image, label) when `kinds` is one name, else (image, {kind: label})."""

    def __init__(self, path, kinds: str | Sequence[str] | None = None, kept_only: bool = True):
        self.path = Path(path)
        self.single = isinstance(kinds, str)
        wanted = [kinds] if self.single else (list(kinds) if kinds is not None else None)
        self._reader, self._pid = None, None
        if self.path.is_dir():
            from dgan_cli.labelled_folder import LabelledFolder

            self.folder = LabelledFolder(self.path)
            available = list(self.folder.label_names)
            self.indices = np.arange(len(self.folder))
        else:
            self.folder = None
            reader = self._cache()
            available = reader.label_kinds
            present = np.ones(reader.n, dtype=bool)
            for kind in wanted or available:
                if kind in available:
                    present &= np.isin(np.arange(reader.n), reader.labelled(kind))
            if kept_only and "keep" in reader.score_names:
                present &= reader.scores("keep") == 1
            self.indices = np.flatnonzero(present)
        self.kinds = wanted if wanted is not None else available
        missing = [k for k in self.kinds if k not in available]
        if missing:
            raise DganError(f"{self.path}: no '{missing[0]}' labels (has: {', '.join(available) or 'none'})")

    def _cache(self):
        from dgan_cli.cache import CacheReader

        if self._reader is None or self._pid != os.getpid():  # one HDF5 handle per worker process
            self._reader, self._pid = CacheReader(self.path), os.getpid()
        return self._reader

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        index = int(self.indices[i])
        if self.folder is not None:
            item = self.folder[index]
            image, labels = item["image"], {k: item[k] for k in self.kinds}
        else:
            reader = self._cache()
            image = reader.images([index])[0]
            labels = {k: reader.labels(k, [index])[0] for k in self.kinds}
        image = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float() / 255.0
        labels = {k: _as_tensor(k, v) for k, v in labels.items()}
        return (image, labels[self.kinds[0]]) if self.single else (image, labels)

    def __getstate__(self):  # DataLoader workers reopen the cache themselves
        state = dict(self.__dict__)
        state["_reader"], state["_pid"] = None, None
        return state
