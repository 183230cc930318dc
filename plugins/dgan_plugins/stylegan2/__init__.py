"""The `stylegan2` backbone plugin: StyleGAN2 / StyleGAN2-ADA generators.

Reads official stylegan2-ada-pytorch pickles (as data, never code), rosinality
stylegan2-pytorch checkpoints and dgan's own format; adds `dgan backbone convert`
and `dgan backbone train`. torch is imported only when a checkpoint is loaded.
"""
from __future__ import annotations

from pathlib import Path

from dgan_cli.hookspecs import hookimpl
from dgan_cli.specs import BackboneSpec, CommandSpec


def load(source, device="cpu"):
    from dgan_cli.errors import CheckpointError
    from dgan_plugins.stylegan2.backbone import load_backbone_file

    if source is None:
        raise CheckpointError("stylegan2 needs a checkpoint file (official .pkl, rosinality .pt or dgan .pt)")
    return load_backbone_file(Path(source), device=device)


def convert(src, dst, **options):
    from dgan_plugins.stylegan2.convert import convert as convert_file

    return convert_file(Path(src), Path(dst), **options)


def accepts(path) -> bool:
    from dgan_plugins.stylegan2.formats import sniff_format

    return sniff_format(Path(path)) is not None


@hookimpl
def dgan_backbones():
    return [BackboneSpec(name="stylegan2", load=load, accepts=accepts, convert=convert,
                         summary="StyleGAN2/ADA generator: official .pkl, rosinality .pt or dgan .pt checkpoints")]


@hookimpl
def dgan_commands():
    from dgan_plugins.stylegan2.train.command import train_command

    return [
        CommandSpec(name="train", group="backbone", app=train_command,
                    summary="Train a small StyleGAN2 generator on an image folder or the toy world."),
    ]
