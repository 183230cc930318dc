"""Real images with labels in a registered annotation format (`dgan invert --format NAME`).

The images are `DIR/images/<id>.png` (all one size); the format reads their
labels from `--annotations` (default DIR) exactly as `annotate-import` would,
through `dgan_cli.annotations`. Every image needs a label of every kind
carried. Per-pixel labels ([H, W, ...]) are aligned like the images; keypoints
([K, 3] x, y, visible) are moved with them.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dgan_cli.errors import DganError
from dgan_plugins.handsoff import align
from dgan_plugins.handsoff.realset import RealSet


def read_format_set(path, fmt: str, size: int, policy: str, kinds: str | None = None,
                    annotations=None, labels=None, options=None) -> RealSet:
    from dgan_cli.annotations import ImportRequest, plan_import, read_annotations
    from dgan_cli.untrusted import read_image

    folder = Path(path) / "images"
    files = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not files:
        raise DganError(f"{folder}: no PNG images (--format {fmt} reads DIR/images/<id>.png)")
    images = [np.asarray(read_image(p, "image").convert("RGB")) for p in files]
    sizes = {im.shape[:2] for im in images}
    if len(sizes) > 1:
        raise DganError(f"{folder}: images differ in size ({sorted(sizes)[:2]}...)")
    ids = [p.stem for p in files]
    request = ImportRequest(Path(annotations or path), images[0].shape[:2], labels, dict(options or {}))
    plan = plan_import(read_annotations(fmt, request), ids)
    chosen = list(plan) if kinds is None else [k.strip() for k in kinds.split(",") if k.strip()]
    for kind in chosen:
        if kind not in plan:
            raise DganError(f"--labels: the annotations have no '{kind}' labels", hint=f"they have: {', '.join(plan)}")
        unlabelled = sorted(set(ids) - set(plan[kind].ids))
        if unlabelled:
            raise DganError(f"{folder / (unlabelled[0] + '.png')}: no '{kind}' label",
                            hint="every inverted image needs a label of each kind carried")
    real = RealSet(ids, np.zeros((0, size, size, 3), np.uint8))
    aligned, labels_out = [], {k: [] for k in chosen}
    for n, (item, image) in enumerate(zip(ids, images)):
        where = align.placement(image.shape[:2], size, policy, name=str(folder / f"{item}.png"))
        real.source_sizes.append(list(image.shape[:2]))
        aligned.append(align.align_image(image, where))
        for kind in chosen:
            value = plan[kind].values[plan[kind].ids.index(item)]
            labels_out[kind].append(align.align_keypoints(value, where) if kind == "keypoints"
                                    else align.align_map(value, where))
    real.images = np.stack(aligned)
    real.labels = {k: np.stack(v) for k, v in labels_out.items()}
    real.label_names = {k: {"classes" if k == "segmentation" else "names": list(plan[k].names)} for k in chosen}
    return real
