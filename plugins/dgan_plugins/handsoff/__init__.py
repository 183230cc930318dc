"""The `handsoff` label source: labels from real images through GAN inversion.

`dgan encoder train` fits an image -> w+ encoder on the backbone's own
samples; `dgan invert` inverts a labelled folder of real images (encoder or
w_avg start, then per-image optimisation) into a cache of latents, G(w)
features, real labels and reconstruction scores that `dgan train` consumes.
See docs/handsoff.md. torch is imported only inside the commands.
"""
from dgan_cli import hookimpl
from dgan_cli.specs import CommandSpec, LabelSourceSpec


def build_handsoff_source(**options):
    """A HandsOffSource: `.write(backbone, folder, cache)` inverts a labelled folder into a cache."""
    from dgan_plugins.handsoff.source import HandsOffSource

    return HandsOffSource(**options)


@hookimpl
def dgan_label_sources():
    return [LabelSourceSpec(name="handsoff", build=build_handsoff_source,
                            summary="Real labelled images inverted into the GAN (encoder + latent optimisation)")]


@hookimpl
def dgan_commands():
    from dgan_plugins.handsoff.commands import encoder_app, invert_command

    return [CommandSpec(name="invert", app=invert_command,
                        summary="Invert real labelled images into the GAN: a cache `dgan train` learns from."),
            CommandSpec(name="encoder", app=encoder_app,
                        summary="Train an image -> w+ encoder on the backbone's own samples.")]
