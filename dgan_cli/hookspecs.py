"""The hooks a dgan plugin implements. Each returns a list of specs.

Plugins are modules (or objects) registered through the `dgan` entry-point
group; built-ins use the same group. Implement any subset:

    from dgan_cli import hookimpl
    from dgan_cli.specs import HeadSpec

    @hookimpl
    def dgan_heads():
        return [HeadSpec(name="normals", summary="...", build=make_normals_head)]
"""
import pluggy

PROJECT = "dgan"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def dgan_backbones():
    """Return a list of `BackboneSpec`."""


@hookspec
def dgan_label_sources():
    """Return a list of `LabelSourceSpec`."""


@hookspec
def dgan_formats():
    """Return a list of `FormatSpec` (annotation file formats for `annotate-import` and `invert`)."""


@hookspec
def dgan_heads():
    """Return a list of `HeadSpec`."""


@hookspec
def dgan_filters():
    """Return a list of `FilterSpec`."""


@hookspec
def dgan_distillers():
    """Return a list of `DistillerSpec`."""


@hookspec
def dgan_commands():
    """Return a list of `CommandSpec` (CLI commands and command groups)."""


@hookspec
def dgan_data_sources():
    """Return a list of `DataSourceSpec` (named training-image sources for `backbone train --data`)."""
