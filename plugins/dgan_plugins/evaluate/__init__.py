"""`dgan eval`: the downstream measure of a labelled set (mIoU, PCK, depth error on real images).

Train a network from scratch on a synthetic or real labelled set for a fixed
number of steps and score it on real test images; the few-shot and fully
supervised baselines are the same command on real folders with --augment.
Cheap to import: torch loads only when the command runs.
"""
from dgan_cli.hookspecs import hookimpl
from dgan_cli.specs import CommandSpec


@hookimpl
def dgan_commands():
    from dgan_plugins.evaluate.command import eval_command

    return [CommandSpec(name="eval", app=eval_command,
                        summary="Train a downstream network on a labelled set; score it on real test images.")]
