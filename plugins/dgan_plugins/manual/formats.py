"""The four built-in annotation formats, registered like any plugin's (`dgan_formats`).

Each wraps one reader module: it reads the `--labels` file, runs the reader
and tags every annotation with the names its head is built with.
"""
from __future__ import annotations

from dataclasses import replace

from dgan_cli.annotations import Annotation, ImportRequest
from dgan_cli.errors import DganError
from dgan_cli.specs import FormatSpec

UNLABELLED = ("background", "ignore")


def head_names(kind: str, names) -> tuple[str, ...]:
    """What a head is built with: its class or keypoint names (none for depth)."""
    if kind == "segmentation":
        return tuple(names.classes)
    if kind == "keypoints":
        return tuple(names.keypoints)
    return tuple(names.entry(kind).get("names", []))


def _reader(module: str, function: str, options=()):
    def read(request: ImportRequest) -> list[Annotation]:
        import importlib

        from dgan_plugins.manual.names import read_label_names

        names = read_label_names(request.labels)
        reader = getattr(importlib.import_module(f"dgan_plugins.manual.{module}"), function)
        kwargs = {key: request.options[key] for key in options if key in request.options}
        found = reader(request.directory, names, tuple(request.image_hw), request.notes, **kwargs)
        return [replace(a, names=head_names(a.kind, names)) for a in found]

    return read


def read_labelme_request(request: ImportRequest) -> list[Annotation]:
    from dgan_plugins.manual.labelme import EXTRA_SHAPES

    for key, allowed in (("unlabelled", UNLABELLED), ("extra_shapes", EXTRA_SHAPES)):
        value = request.options.get(key)
        if value is not None and value not in allowed:
            raise DganError(f"--{key.replace('_', '-')} must be one of {', '.join(allowed)}, got '{value}'")
    return _reader("labelme", "read_labelme", ("unlabelled", "extra_shapes"))(request)


FORMATS = [
    FormatSpec(name="labelme", summary="LabelMe JSON: polygons, rectangles, circles -> segmentation; "
               "points -> keypoints", read=read_labelme_request, needs_labels=True,
               options=("unlabelled", "extra_shapes")),
    FormatSpec(name="png-masks", summary="Indexed or colour mask PNGs -> segmentation",
               read=_reader("png_masks", "read_png_masks"), needs_labels=True),
    FormatSpec(name="coco-keypoints", summary="A COCO keypoints JSON -> keypoints",
               read=_reader("coco_keypoints", "read_coco_keypoints"), needs_labels=True),
    FormatSpec(name="depth", summary="Depth maps: float .npy or 16-bit PNG -> depth",
               read=_reader("depth", "read_depth"), needs_labels=True),
]
