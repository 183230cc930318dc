"""The `stylegan1` backbone plugin: the StyleGAN1 generators of the DatasetGAN release.

Reads the release's `karras2019stylegan-*.for_g_all.pt` state dicts and dgan's
`dgan-stylegan1` format, both as data (torch.load weights_only); `dgan backbone
convert` writes the latter, with the release's average latent. docs/stylegan1.md.
Cheap to import: torch loads only with a checkpoint.
"""
from __future__ import annotations

from pathlib import Path

from dgan_cli.hookspecs import hookimpl
from dgan_cli.specs import BackboneSpec


def load(source, device="cpu"):
    from dgan_cli.errors import CheckpointError
    from dgan_plugins.stylegan1.backbone import load_backbone_file

    if source is None:
        raise CheckpointError("stylegan1 needs a checkpoint file (a DatasetGAN .for_g_all.pt or a dgan .pt)")
    return load_backbone_file(Path(source), device=device)


def accepts(path) -> bool:
    from dgan_plugins.stylegan1.checkpoint import sniff_format

    return sniff_format(Path(path)) is not None


def convert(src, dst, **options):
    from dgan_plugins.stylegan1.convert import convert as convert_file

    return convert_file(Path(src), Path(dst), **options)


@hookimpl
def dgan_backbones():
    return [BackboneSpec(name="stylegan1", load=load, accepts=accepts, convert=convert,
                         summary="StyleGAN1 generator of the DatasetGAN release: .for_g_all.pt or dgan .pt")]
