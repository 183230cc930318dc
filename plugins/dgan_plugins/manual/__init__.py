"""The `manual` label source: human annotations of GAN samples (`dgan annotate-import`).

Formats, registered through `dgan_formats` (formats.py) with one reader module
each: LabelMe JSON (labelme.py), mask PNGs (png_masks.py), COCO keypoints
(coco_keypoints.py), depth maps (depth.py). See docs/annotation.md for the
annotator workflow and the conventions.
"""
from dgan_cli import hookimpl
from dgan_cli.specs import CommandSpec, LabelSourceSpec


def build_manual_source(fmt: str, labels=None, options=None):
    """A ManualSource: `.read(directory, image_hw)` -> annotations in head storage layout."""
    from dgan_plugins.manual.importer import ManualSource

    return ManualSource(fmt, labels, options)


@hookimpl
def dgan_formats():
    from dgan_plugins.manual.formats import FORMATS

    return FORMATS


@hookimpl
def dgan_label_sources():
    return [LabelSourceSpec(name="manual", build=build_manual_source,
                            summary="Human annotations of sampled GAN images, in any registered format")]


@hookimpl
def dgan_commands():
    from dgan_plugins.manual.command import annotate_import_command

    return [CommandSpec(name="annotate-import", app=annotate_import_command,
                        summary="Import annotations of `dgan sample` images into their cache.")]
