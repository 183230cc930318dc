"""The toy world: a procedural labelled-image renderer (`dgan toy render`).

Cheap to import: the command module (and numpy) load only when the hook runs
or the command is called.
"""
from dgan_cli.hookspecs import hookimpl
from dgan_cli.specs import CommandSpec


@hookimpl
def dgan_commands():
    from dgan_plugins.toy.cli import app

    return [CommandSpec(name="toy", app=app, summary="The toy world: labelled images with known ground truth.")]
