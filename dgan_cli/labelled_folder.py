"""The labelled image folder: images plus any of four label kinds, in common formats.

Layout (ids are zero-padded strings such as "000123" and sort in order):

    DIR/labels.json        format, version, count, and one entry per label kind present:
                           "segmentation": {"classes": [...], "palette": [[r, g, b], ...]}
                           "keypoints": {"names": [...], "skeleton": [[i, j], ...] (0-based),
                                         "category": "...", "coordinates": "..."}
                           "depth": {"unit": "...", "far": ..., "png_scale": ...}
                           "class": {"names": [...]}
    DIR/images/<id>.png    RGB
    DIR/masks/<id>.png     indexed ('P') PNG, pixel value = class index, palette as above;
                           255 = unlabelled (-1 in memory; PASCAL VOC's "void" value)
    DIR/keypoints.json     COCO keypoints (images, annotations, categories)
    DIR/depth/<id>.npy     float32 [H, W] (authoritative)
    DIR/depth/<id>.png     16-bit PNG, value = round(depth * png_scale), 0 where none, for viewers
    DIR/classes.json       {id: class index}

Keypoints are [x, y, v] with x, y in continuous pixel coordinates (pixel
(row i, col j) covers [j, j+1) x [i, i+1), its centre is (j + 0.5, i + 0.5))
and v = 1 visible, 0 not visible. In keypoints.json v follows COCO: 2 =
visible, 1 = in the image but hidden, 0 = outside the image; x, y are kept
for every keypoint (COCO tools ignore them when v = 0). COCO skeletons are
1-based, the one in labels.json 0-based.

A folder is written under a temporary name and renamed when complete, so a
half-written folder never carries the final name; the reader also checks
that every file of every id is present and names the first one missing.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np
from PIL import Image

from dgan_cli.errors import DganError
from dgan_cli.untrusted import check_names, read_image, read_json, read_npy

FORMAT_NAME = "dgan-labelled-folder"
FORMAT_VERSION = 1
KINDS = ("segmentation", "keypoints", "depth", "class")
KEYPOINT_COORDINATES = "pixels; the centre of pixel (row i, col j) is (j + 0.5, i + 0.5)"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def format_ids(numbers: Sequence[int], width: int = 6) -> list[str]:
    """Zero-padded string ids that sort in numeric order."""
    return [str(int(n)).zfill(width) for n in numbers]


def beyond_far_unlabelled(depth: np.ndarray, far: float | None) -> np.ndarray:
    """Depth at or beyond a set's far plane (its backdrop) is no reading: NaN, float32.

    The one rule every reader of `far` follows (eval, annotate-import, HandsOff's real set)."""
    depth = np.asarray(depth, np.float32)
    if far is None:
        return depth
    with np.errstate(invalid="ignore"):
        return np.where(depth >= float(far), np.float32(np.nan), depth)


def write_folder(path, ids: Sequence[str], images: np.ndarray, labels: Mapping[str, np.ndarray],
                 label_names: Mapping[str, dict], *, overwrite: bool = False) -> Path:
    """Write a complete labelled folder in one call (see `FolderWriter` for streaming)."""
    with FolderWriter(path, label_names, overwrite=overwrite) as writer:
        writer.add(ids, images, labels)
    return Path(path)


class FolderWriter:
    """Writes a labelled folder batch by batch; `commit()` (or leaving the `with`) publishes it.

    Everything goes to a hidden sibling folder first; leaving the `with` block
    by an exception removes it and leaves any existing folder untouched.
    """

    def __init__(self, path, label_names: Mapping[str, dict], *, overwrite: bool = False):
        self.path = Path(path)
        self.names = _check_names(label_names)
        self.overwrite = overwrite
        if self.path.exists() and not overwrite:
            raise DganError(f"{self.path} already exists", hint="choose another --out or remove it")
        self.tmp = self.path.parent / f".{self.path.name}.partial-{os.getpid()}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.tmp.exists():
                shutil.rmtree(self.tmp)
            for sub in ["images"] + [_SUBDIR[k] for k in self.names if k in _SUBDIR]:
                (self.tmp / sub).mkdir(parents=True)
        except OSError as exc:
            raise DganError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self.ids: list[str] = []
        self.sizes: list[tuple[int, int]] = []
        self.keypoints: list[np.ndarray] = []
        self.classes: dict[str, int] = {}

    def __enter__(self) -> "FolderWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def add(self, ids: Sequence[str], images: np.ndarray, labels: Mapping[str, np.ndarray]) -> None:
        """Write one batch: images uint8 [N,H,W,3] and a label array per declared kind."""
        ids = [str(i) for i in ids]
        _check_batch(ids, images, labels, self.names, set(self.ids))
        try:
            for n, item in enumerate(ids):
                Image.fromarray(images[n]).save(self.tmp / "images" / f"{item}.png")
                if "segmentation" in labels:
                    _save_mask(self.tmp / "masks" / f"{item}.png", labels["segmentation"][n],
                               self.names["segmentation"]["palette"])
                if "depth" in labels:
                    depth = np.asarray(labels["depth"][n], np.float32)
                    np.save(self.tmp / "depth" / f"{item}.npy", depth)
                    scaled = np.clip(np.round(np.nan_to_num(depth) * self.names["depth"]["png_scale"]), 0, 65535)
                    Image.fromarray(scaled.astype(np.uint16)).save(self.tmp / "depth" / f"{item}.png")
        except OSError as exc:
            raise DganError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        if "keypoints" in labels:
            self.keypoints.extend(np.asarray(labels["keypoints"], np.float32))
        if "class" in labels:
            self.classes.update({item: int(c) for item, c in zip(ids, labels["class"])})
        self.ids.extend(ids)
        self.sizes.extend([tuple(images.shape[1:3])] * len(ids))

    def commit(self) -> Path:
        """Write the index files and move the folder to its final name."""
        meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "count": len(self.ids), **self.names}
        try:
            if "keypoints" in self.names:
                _write_json(self.tmp / "keypoints.json", self._coco())
            if "class" in self.names:
                _write_json(self.tmp / "classes.json", self.classes)
            _write_json(self.tmp / "labels.json", meta)
            old = self.path.parent / f".{self.path.name}.replaced-{os.getpid()}"
            if self.path.exists():  # only reachable with overwrite=True
                os.replace(self.path, old)
            os.replace(self.tmp, self.path)
            if old.is_dir():
                shutil.rmtree(old)
            elif old.exists():
                old.unlink()
        except OSError as exc:
            raise DganError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        return self.path

    def _coco(self) -> dict:
        names = self.names["keypoints"]
        images, annotations = [], []
        for n, (item, (h, w), kp) in enumerate(zip(self.ids, self.sizes, self.keypoints), start=1):
            inside = (kp[:, 0] >= 0) & (kp[:, 0] < w) & (kp[:, 1] >= 0) & (kp[:, 1] < h)
            v = np.where(kp[:, 2] > 0, 2, np.where(inside, 1, 0))
            flat = [x for (px, py), vis in zip(kp[:, :2].tolist(), v.tolist()) for x in (px, py, vis)]
            images.append({"id": n, "file_name": f"{item}.png", "width": w, "height": h})
            annotations.append({"id": n, "image_id": n, "category_id": 1, "keypoints": flat,
                                "num_keypoints": int(np.count_nonzero(v)), "iscrowd": 0})
        category = {"id": 1, "name": names.get("category", "object"), "keypoints": list(names["names"]),
                    "skeleton": [[i + 1, j + 1] for i, j in names.get("skeleton", [])]}
        return {"images": images, "annotations": annotations, "categories": [category]}


_SUBDIR = {"segmentation": "masks", "depth": "depth"}
UNLABELLED = 255           # mask value of unlabelled pixels, as PASCAL VOC's "void"
VOID_COLOUR = [224, 224, 192]  # VOC's colour for it


def _check_names(label_names: Mapping[str, dict]) -> dict:
    unknown = set(label_names) - set(KINDS)
    if unknown:
        raise DganError(f"unknown label kind(s) {sorted(unknown)}; known: {', '.join(KINDS)}")
    names = {k: dict(label_names[k]) for k in KINDS if k in label_names}
    if "segmentation" in names:
        seg = names["segmentation"]
        seg["classes"] = list(seg["classes"])
        seg["palette"] = [list(map(int, c)) for c in seg.get("palette", _default_palette(len(seg["classes"])))]
        if len(seg["palette"]) < len(seg["classes"]) or len(seg["classes"]) > UNLABELLED:
            raise DganError(f"segmentation needs <= {UNLABELLED} classes ({UNLABELLED} marks unlabelled pixels) "
                            "and one palette colour per class")
    if "depth" in names:
        depth = names["depth"]
        depth.setdefault("unit", "unknown")
        if "png_scale" not in depth:  # the largest power of ten that keeps `far` within 16 bits
            far = float(depth.get("far", 65.535))
            depth["png_scale"] = 10.0 ** np.floor(np.log10(65535.0 / far)) if far > 0 else 1000.0
    if "keypoints" in names:
        names["keypoints"]["names"] = list(names["keypoints"]["names"])
        names["keypoints"].setdefault("coordinates", KEYPOINT_COORDINATES)
    return names


def _default_palette(n: int) -> list[list[int]]:
    rng = np.random.default_rng(0)
    return [[0, 0, 0]] + rng.integers(40, 256, (max(n - 1, 0), 3)).tolist()


def _check_batch(ids, images, labels, names, seen) -> None:
    n = len(ids)
    bad = [i for i in ids if not _ID.match(i)]
    if bad:
        raise DganError(f"invalid id {bad[0]!r}: use letters, digits, '_', '-' or '.'")
    if len(set(ids)) != n or seen.intersection(ids):
        raise DganError("duplicate ids in a labelled folder")
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[0] != n or images.shape[3] != 3:
        raise DganError(f"images must be uint8 [N, H, W, 3] with N = {n}, got {images.dtype} {images.shape}")
    if set(labels) != set(names):
        raise DganError(f"labels {sorted(labels)} do not match the declared kinds {sorted(names)}")
    for kind, values in labels.items():
        if len(values) != n:
            raise DganError(f"{kind}: {len(values)} labels for {n} images")
    if "segmentation" in labels:
        seg = np.asarray(labels["segmentation"])
        if int(np.max(seg, initial=0)) >= len(names["segmentation"]["classes"]) or int(np.min(seg, initial=0)) < -1:
            raise DganError("segmentation holds a class index beyond the declared classes (-1 = unlabelled)")
    if "keypoints" in labels and np.shape(labels["keypoints"])[1:] != (len(names["keypoints"]["names"]), 3):
        raise DganError(f"keypoints must be [N, {len(names['keypoints']['names'])}, 3]")
    if "class" in labels and not all(0 <= int(c) < len(names["class"]["names"]) for c in labels["class"]):
        raise DganError("class label out of range of the declared class names")


def _save_mask(path: Path, mask: np.ndarray, palette: list[list[int]]) -> None:
    mask = np.ascontiguousarray(np.where(np.asarray(mask) < 0, UNLABELLED, mask), np.uint8)
    image = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.tobytes())
    flat = [v for colour in palette[:UNLABELLED] for v in colour]
    image.putpalette(flat + [0] * (3 * UNLABELLED - len(flat)) + VOID_COLOUR)
    image.save(path)


def _write_json(path: Path, data) -> None:
    with open(path, "w") as fh:
        json.dump(data, fh, indent=1)
        fh.write("\n")


# -- reading -----------------------------------------------------------------------------------

class LabelledFolder:
    """A labelled folder opened for reading: `ids`, `label_names`, items by index or iteration."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise DganError(f"{self.path}: no such labelled folder")
        meta = _read_json(self.path / "labels.json")
        if not isinstance(meta, dict):
            raise DganError(f"{self.path / 'labels.json'}: expected a JSON object")
        if meta.get("format", FORMAT_NAME) != FORMAT_NAME or int(meta.get("version", 1)) > FORMAT_VERSION:
            raise DganError(f"{self.path / 'labels.json'}: unsupported format "
                            f"{meta.get('format')} v{meta.get('version')}", hint="upgrade dgan")
        unknown = set(meta) - set(KINDS) - {"format", "version", "count"}
        if unknown:
            raise DganError(f"{self.path / 'labels.json'}: unknown label kind(s) {sorted(unknown)}")
        self.label_names = {k: meta[k] for k in KINDS if k in meta}
        for kind, key in (("segmentation", "classes"), ("keypoints", "names"), ("class", "names")):
            if kind in self.label_names:
                entry = self.label_names[kind]
                check_names(f"{self.path / 'labels.json'}: '{kind}.{key}'",
                            entry.get(key) if isinstance(entry, dict) else None)
        self.ids = sorted(p.stem for p in (self.path / "images").glob("*.png"))
        if not self.ids:
            raise DganError(f"{self.path / 'images'}: no PNG images")
        if "count" in meta and int(meta["count"]) != len(self.ids):
            raise DganError(f"{self.path}: labels.json lists {meta['count']} images, "
                            f"images/ holds {len(self.ids)} (incomplete copy?)")
        self._check_files()
        self.keypoints = self._read_keypoints() if "keypoints" in self.label_names else None
        self.classes = self._read_classes() if "class" in self.label_names else None

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[dict]:
        for i in range(len(self.ids)):
            yield self[i]

    def __getitem__(self, index: int) -> dict:
        """{"id", "image" uint8 [H,W,3], and one entry per label kind}."""
        item = self.ids[index]
        image = np.asarray(_open_image(self.path / "images" / f"{item}.png").convert("RGB"))
        out = {"id": item, "image": image}
        if "segmentation" in self.label_names:
            out["segmentation"] = self._read_mask(item, image.shape[:2])
        if "depth" in self.label_names:
            out["depth"] = self._read_depth(item, image.shape[:2])
        if self.keypoints is not None:
            out["keypoints"] = self.keypoints[item]
        if self.classes is not None:
            out["class"] = self.classes[item]
        return out

    def read_all(self) -> tuple[list[str], np.ndarray, dict, dict]:
        """(ids, images uint8 [N,H,W,3], {kind: stacked labels}, label_names)."""
        items = list(self)
        shapes = {it["image"].shape for it in items}
        if len(shapes) > 1:
            raise DganError(f"{self.path}: images differ in size ({sorted(shapes)[:2]}...)")
        labels = {}
        for kind in self.label_names:
            values = [it[kind] for it in items]
            labels[kind] = np.array(values, np.int64) if kind == "class" else np.stack(values)
        return list(self.ids), np.stack([it["image"] for it in items]), labels, dict(self.label_names)

    def _check_files(self) -> None:
        for kind, sub, suffixes in (("segmentation", "masks", (".png",)), ("depth", "depth", (".npy", ".png"))):
            if kind not in self.label_names:
                continue
            for item in self.ids:
                if not any((self.path / sub / f"{item}{s}").is_file() for s in suffixes):
                    raise DganError(f"{self.path / sub / (item + suffixes[0])}: missing")

    def _read_mask(self, item: str, shape) -> np.ndarray:
        path = self.path / "masks" / f"{item}.png"
        image = _open_image(path)
        if image.mode not in ("P", "L"):
            raise DganError(f"{path}: a mask must be an indexed (P) or grayscale PNG, not {image.mode}")
        mask = np.asarray(image, np.uint8)
        if mask.shape != shape:
            raise DganError(f"{path}: size {mask.shape} differs from its image {shape}")
        labelled = mask[mask != UNLABELLED]
        if labelled.size and int(labelled.max()) >= len(self.label_names["segmentation"]["classes"]):
            raise DganError(f"{path}: class index {int(labelled.max())} beyond the classes in labels.json "
                            f"({UNLABELLED} = unlabelled)")
        return np.where(mask == UNLABELLED, -1, mask.astype(np.int16))

    def _read_depth(self, item: str, shape) -> np.ndarray:
        path = self.path / "depth" / f"{item}.npy"
        if path.is_file():
            depth = read_npy(path, "depth map")
        else:
            path = path.with_suffix(".png")
            depth = np.asarray(_open_image(path), np.float32) / float(self.label_names["depth"]["png_scale"])
        if depth.shape != shape:
            raise DganError(f"{path}: size {depth.shape} differs from its image {shape}")
        return depth.astype(np.float32)

    def _read_keypoints(self) -> dict[str, np.ndarray]:
        path = self.path / "keypoints.json"
        coco = _read_json(path)
        count = len(self.label_names["keypoints"]["names"])
        try:
            files = {im["id"]: Path(im["file_name"]).stem for im in coco["images"]}
            out = {}
            for ann in coco["annotations"]:
                kp = np.asarray(ann["keypoints"], np.float32).reshape(count, 3)
                kp[:, 2] = kp[:, 2] == 2  # COCO 2 = visible; 1 (hidden) and 0 (outside) -> 0
                out[files[ann["image_id"]]] = kp
        except (KeyError, TypeError, ValueError) as exc:
            raise DganError(f"{path}: not a COCO keypoints file with {count} keypoints ({exc!r})") from exc
        missing = [i for i in self.ids if i not in out]
        if missing:
            raise DganError(f"{path}: no annotation for image {missing[0]}")
        return out

    def _read_classes(self) -> dict[str, int]:
        path = self.path / "classes.json"
        classes = _read_json(path)
        missing = [i for i in self.ids if i not in classes]
        if missing:
            raise DganError(f"{path}: no class for image {missing[0]}")
        return {i: int(classes[i]) for i in self.ids}


def read_folder(path) -> tuple[list[str], np.ndarray, dict, dict]:
    """Read a whole labelled folder: (ids, images uint8 NHWC, labels by kind, label_names)."""
    return LabelledFolder(path).read_all()


def _read_json(path: Path):
    if not path.exists():
        raise DganError(f"{path}: missing (not a labelled folder, or an incomplete one)")
    return read_json(path, unreadable="not valid")


def _open_image(path: Path) -> Image.Image:
    if not path.exists():
        raise DganError(f"{path}: missing")
    return read_image(path)
