"""Real labelled images, read from a labelled folder and aligned to the generator's grid.

Every image keeps all the label kinds chosen (the folder format guarantees
one label of each declared kind per image); the image-level `class` kind has
no head and is not carried into caches. Labels are converted to the storage
of their head plugin (`label_schema`), e.g. masks to int16.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from dgan_cli.errors import DganError
from dgan_plugins.handsoff import align

PIXEL_KINDS = ("segmentation", "keypoints", "depth")
REAL_IMAGE_KIND = "real_image"


@dataclass
class RealSet:
    """Aligned real data: ids, images uint8 [N, R, R, 3], labels {kind: [N, ...]}, names per kind."""

    ids: list[str]
    images: np.ndarray
    labels: dict = field(default_factory=dict)
    label_names: dict = field(default_factory=dict)
    source_sizes: list = field(default_factory=list)

    def digest(self) -> str:
        """sha256 of ids, aligned images and labels: a resumed job must see the same inputs."""
        h = hashlib.sha256()
        for i, item in enumerate(self.ids):
            h.update(item.encode() + b"\0")
            h.update(self.images[i].tobytes())
            for kind in sorted(self.labels):
                h.update(kind.encode() + np.ascontiguousarray(self.labels[kind][i]).tobytes())
        return h.hexdigest()


def choose_kinds(available, requested: str | None, folder) -> list[str]:
    """Label kinds to carry: the folder's pixel kinds, or the comma-separated subset asked for."""
    present = [k for k in PIXEL_KINDS if k in available]
    if requested is None:
        if not present:
            raise DganError(f"{folder}: no segmentation, keypoints or depth labels to pair with inversions")
        return present
    names = [k.strip() for k in requested.split(",") if k.strip()]
    missing = [k for k in names if k not in present]
    if missing or not names:
        raise DganError(f"--labels: the folder has no '{missing[0] if missing else requested}' labels",
                        hint=f"it has: {', '.join(present) or 'none'}")
    return names


def read_real_set(path, size: int, policy: str, kinds: str | None = None) -> RealSet:
    """Read and align a labelled folder; any unreadable image or missing label is one DganError."""
    from dgan_cli.labelled_folder import LabelledFolder, beyond_far_unlabelled

    folder = LabelledFolder(path)
    chosen = choose_kinds(folder.label_names, kinds, folder.path)
    ids, images, sizes = [], [], []
    labels = {k: [] for k in chosen}
    for item in folder:
        name = folder.path / "images" / f"{item['id']}.png"
        where = align.placement(item["image"].shape[:2], size, policy, name=str(name))
        ids.append(item["id"])
        sizes.append(list(item["image"].shape[:2]))
        images.append(align.align_image(item["image"], where))
        for kind in chosen:
            value = (beyond_far_unlabelled(item[kind], folder.label_names[kind].get("far")) if kind == "depth"
                     else item[kind])  # the backdrop is never taught as a depth
            labels[kind].append(align.align_keypoints(value, where) if kind == "keypoints"
                                else align.align_map(value, where))
    names = {k: dict(folder.label_names[k]) for k in chosen}
    return RealSet(ids, np.stack(images), {k: np.stack(v) for k, v in labels.items()}, names, sizes)


def head_names(kind: str, entry: dict) -> list[str]:
    """The names a head is built with, from a labelled folder's labels.json entry."""
    if kind == "segmentation":
        return list(entry["classes"])
    if kind == "keypoints":
        return list(entry["names"])
    return list(entry.get("names", []))


def label_schemas(real: RealSet, size: int, registry=None) -> dict:
    """{kind: LabelSchema} from each kind's head plugin, plus the real image itself."""
    from dgan_cli.cache import LabelSchema
    from dgan_cli.registry import default_registry

    registry = registry or default_registry()
    schemas = {}
    for kind, entry in real.label_names.items():
        try:
            head = registry.get("head", kind).build(head_names(kind, entry))
        except (TypeError, ValueError) as exc:
            raise DganError(f"the '{kind}' head refuses this folder's names ({exc})") from None
        schemas[kind] = head.label_schema((size, size))
    schemas[REAL_IMAGE_KIND] = LabelSchema(shape=(size, size, 3), dtype="uint8", fill=0,
                                           attrs={"description": "the real image, aligned like the labels; "
                                                                 "`images` holds its reconstruction G(w)"})
    return schemas
