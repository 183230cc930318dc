"""The `squeeze-span` distiller: generator representations -> a ResNet-18 image encoder.

Squeeze-and-span (Yang et al., NeurIPS 2022): a squeeze module maps pooled
generator features to a teacher vector that a student regresses from an
augmented G(w), with VICReg variance/covariance terms against collapse; "span"
adds real images with a two-view VICReg loss. Commands: `dgan distill train`,
`dgan distill eval` (linear probe + comparison rows), `dgan distill export`
(plain torchvision state dict). See docs/squeeze-span.md.
"""
from __future__ import annotations

from dgan_cli.hookspecs import hookimpl
from dgan_cli.specs import CommandSpec, DistillerSpec

RUN_OPTIONS = ("backbone_source", "real_source", "device", "checkpoint_every")


def build_squeeze_span(out, backbone=None, real=None, **options):
    """A `Distillation` run writing the student checkpoint `out`.

    `backbone`: a loaded backbone; `real`: uint8 [N, 3, R, R] images or None;
    `options`: TrainConfig fields plus backbone_source, real_source, device,
    checkpoint_every. Call `.resume()` (optional) then `.run()` -> summary dict.
    """
    from pathlib import Path

    from dgan_plugins.squeeze_span.config import TrainConfig
    from dgan_plugins.squeeze_span.trainer import Distillation

    run_options = {k: options.pop(k) for k in RUN_OPTIONS if k in options}
    return Distillation(TrainConfig(**options), Path(out), backbone=backbone, real=real, **run_options)


@hookimpl
def dgan_distillers():
    return [DistillerSpec(name="squeeze-span", build=build_squeeze_span,
                          summary="Squeeze-and-span: distil pooled generator features into a ResNet-18 "
                                  "(VICReg terms; real images via span)")]


@hookimpl
def dgan_commands():
    from dgan_plugins.squeeze_span.cli import distill_app

    return [CommandSpec(name="distill", app=distill_app(),
                        summary="Distil a generator into an image encoder: train, eval (linear probe), export.")]
