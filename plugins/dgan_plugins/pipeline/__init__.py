"""Built-in pipeline commands: sample, show, select (annotation side), train, synth.

One module per command; this list is the plugin's only hook.
"""
from dgan_cli import hookimpl
from dgan_cli.specs import CommandSpec


@hookimpl
def dgan_commands():
    from dgan_plugins.pipeline.sample import sample_command
    from dgan_plugins.pipeline.select import select_command
    from dgan_plugins.pipeline.show import show_command
    from dgan_plugins.pipeline.synth import synth_command
    from dgan_plugins.pipeline.train import train_command

    return [
        CommandSpec(name="sample", app=sample_command, summary="Sample GAN images to annotate into a feature cache."),
        CommandSpec(name="show", app=show_command, summary="Contact sheets of images and label overlays."),
        CommandSpec(name="select", app=select_command, summary="Pick samples to annotate."),
        CommandSpec(name="train", app=train_command, summary="Train a head's pixel-MLP ensemble on a labelled cache."),
        CommandSpec(name="synth", app=synth_command, summary="Synthesize a labelled dataset: generator + interpreters + filter."),
    ]
