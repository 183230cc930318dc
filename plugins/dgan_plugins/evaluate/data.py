"""Load one label kind of a labelled folder or dgan cache into memory, and check two sets agree.

Normalised targets (what tasks.py expects; a plugin head's labels are passed as stored):
- segmentation int64 [N,H,W]; -1 = ignore (a cache's fill value); other ids must be in range.
- keypoints float32 [N,K,3]; a keypoint with non-finite coordinates counts as invisible.
- depth float32 [N,H,W]; NaN where there is no surface: non-finite values, values <= 0 and,
  when the set declares a far plane (`far` in its depth names, as the toy world does),
  values at or beyond it (the background).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dgan_cli.errors import DganError
from dgan_plugins.evaluate.metrics import IGNORE
from dgan_plugins.evaluate.train import LabelledSet

CACHE_SUFFIXES = (".h5", ".hdf5")


def load_set(path, kind: str, role: str) -> LabelledSet:
    """Read `path` (folder or .h5 cache) for label kind `kind`; `role` ("training", "test") names it in errors."""
    path = Path(path)
    if path.is_dir():
        ids, images, targets, names = _read_folder(path, kind)
    elif path.is_file() and path.suffix.lower() in CACHE_SUFFIXES:
        ids, images, targets, names = _read_cache(path, kind)
    elif not path.exists():
        raise DganError(f"{role} set {path}: no such folder or file")
    else:
        raise DganError(f"{role} set {path}: neither a labelled folder nor an .h5 dgan cache")
    if len(images) == 0:
        raise DganError(f"{role} set {path}: no images with '{kind}' labels")
    return LabelledSet(source=str(path), ids=list(ids), images=images,
                       target=_normalise(path, kind, targets, names), names=_names(kind, names))


def check_compatible(train: LabelledSet, test: LabelledSet, kind: str) -> None:
    """Refuse a test set whose classes/keypoints or image size differ from the training set's."""
    if train.names != test.names:
        what = "classes" if kind == "segmentation" else "keypoint names"
        raise DganError(f"the test set's {what} differ from the training set's: "
                        f"{_first_difference(train.names, test.names)} ({test.source} vs {train.source})")
    if train.image_hw != test.image_hw:
        raise DganError(f"test images are {test.image_hw[0]}x{test.image_hw[1]}, training images "
                        f"{train.image_hw[0]}x{train.image_hw[1]}: resize one set to the other's size")


def _read_folder(path: Path, kind: str):
    from dgan_cli.labelled_folder import KINDS, read_folder

    ids, images, labels, label_names = read_folder(path)
    if kind not in KINDS:  # a plugin head reads its own files (what its `export` wrote)
        from dgan_cli.registry import default_registry

        spec = default_registry().get("head", kind)
        if spec.read_folder_labels is None:
            raise DganError(f"{path}: the '{kind}' head reads no labelled folders", hint="give an .h5 cache")
        labels = np.asarray(spec.read_folder_labels(path, list(ids)))
        if len(labels) != len(ids):
            raise DganError(f"{path}: the '{kind}' head read {len(labels)} labels for {len(ids)} images")
        return ids, images, labels, {}
    if kind not in labels:
        raise DganError(f"{path}: no '{kind}' labels (has: {', '.join(labels) or 'none'})")
    return ids, images, labels[kind], label_names[kind]


def _read_cache(path: Path, kind: str):
    from dgan_cli.cache import CacheReader
    from dgan_cli.dataset import LabelledDataset

    rows = LabelledDataset(path, kinds=kind).indices  # labelled and, if filtered, kept samples
    with CacheReader(path) as reader:
        names = reader.label_schema(kind).attrs
        if len(rows) == 0:
            return [], np.zeros((0, 1, 1, 3), np.uint8), None, names
        all_ids = reader.ids
        return [all_ids[i] for i in rows], reader.images(rows), reader.labels(kind, rows), names


def _names(kind: str, names: dict) -> list[str]:
    if kind == "segmentation":
        return [str(n) for n in names.get("classes", names.get("names", []))]
    if kind == "keypoints":
        return [str(n) for n in names.get("names", [])]
    return []


def _normalise(path: Path, kind: str, target: np.ndarray, names: dict) -> np.ndarray:
    if kind == "segmentation":
        seg = np.asarray(target).astype(np.int64)
        count = len(_names(kind, names))
        if count < 2:
            raise DganError(f"{path}: segmentation needs at least 2 class names, found {count}")
        bad = (seg != IGNORE) & ((seg < 0) | (seg >= count))
        if bad.any():
            raise DganError(f"{path}: segmentation label id {int(seg[bad][0])} out of range "
                            f"0..{count - 1} (-1 = ignore)")
        return seg
    if kind == "keypoints":
        kp = np.asarray(target, np.float32).copy()
        if kp.ndim != 3 or kp.shape[-1] != 3 or kp.shape[1] != len(_names(kind, names)):
            raise DganError(f"{path}: keypoints must be [N, {len(_names(kind, names))}, 3], got {list(kp.shape)}")
        kp[..., 2] = np.where(np.isfinite(kp[..., :2]).all(-1) & (kp[..., 2] > 0), 1.0, 0.0)
        kp[..., :2] = np.nan_to_num(kp[..., :2])
        return kp
    if kind == "depth":
        from dgan_cli.labelled_folder import beyond_far_unlabelled

        depth = beyond_far_unlabelled(target, names.get("far")).copy()
        with np.errstate(invalid="ignore"):
            depth[~np.isfinite(depth) | (depth <= 0)] = np.nan
        return depth
    return np.asarray(target)


def _first_difference(train: list[str], test: list[str]) -> str:
    if len(train) != len(test):
        return f"{len(test)} names instead of {len(train)}"
    i = next(i for i, (a, b) in enumerate(zip(train, test)) if a != b)
    return f"#{i} is '{test[i]}', not '{train[i]}'"
