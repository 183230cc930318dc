"""The toy world: a procedural labelled-image renderer (`dgan toy render`) and the
`toy` backbone, a small StyleGAN2 trained by dgan on the renderer's images.

Cheap to import: the command module, numpy and torch load only when used.
"""
from pathlib import Path

from dgan_cli.hookspecs import hookimpl
from dgan_cli.specs import BackboneSpec, CommandSpec

# Reproduced by recipes/toy/backbone.toml (the G_ema of that run, dgan format).
TOY_WEIGHTS = Path(__file__).parent / "weights" / "toy64.pt"
# The annotator stand-in (recipes/toy/annotations.toml, stage train-annotator).
ANNOTATOR_WEIGHTS = Path(__file__).parent / "weights" / "annotator.pt"


def load_toy(source, device="cpu"):
    from dgan_cli.errors import CheckpointError

    if source is not None:
        raise CheckpointError("the toy backbone ships its own weights; pass no checkpoint file")
    if not TOY_WEIGHTS.is_file():
        raise CheckpointError(f"the toy backbone's weights are missing ({TOY_WEIGHTS})",
                              hint="reinstall dgan, or train them with `dgan run recipes/toy/backbone.toml`")
    from dgan_plugins.stylegan2.backbone import load_backbone_file

    return load_backbone_file(TOY_WEIGHTS, device=device)


@hookimpl
def dgan_backbones():
    return [BackboneSpec(name="toy", load=load_toy,
                         summary="64px StyleGAN2 trained by dgan on the toy world (shipped with dgan)")]


@hookimpl
def dgan_commands():
    from dgan_plugins.toy.cli import app

    return [CommandSpec(name="toy", app=app, summary="The toy world: labelled images with known ground truth.")]
