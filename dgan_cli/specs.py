"""What plugins register: one frozen spec per component, collected by kind.

A spec is cheap to build (no torch import); the work happens in its factory,
which the core calls only when a run asks for the component by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

KINDS = ("backbone", "label_source", "head", "filter", "distiller", "command")


@dataclass(frozen=True)
class BackboneSpec:
    """A generator family. `load(source, device)` returns a Backbone object.

    `source` is a checkpoint path, or None for a backbone that ships its own
    weights (e.g. `toy`). `accepts(path)` tells whether this plugin can read a
    checkpoint file, so `--backbone FILE` needs no format flag.
    `convert(src, dst, **options)`, if given, writes a file it accepts to `dst`
    in the plugin's own format and returns (summary dict, table rows); `dgan
    backbone convert` hands SRC to the plugin that accepts it.
    """

    name: str
    summary: str
    load: Callable[..., Any]
    accepts: Callable[[Path], bool] = lambda path: False
    convert: Callable[..., Any] | None = None
    version: str = "1"
    kind: str = field(default="backbone", init=False)


@dataclass(frozen=True)
class LabelSourceSpec:
    """Produces labels for cached samples (manual import, GAN inversion...)."""

    name: str
    summary: str
    build: Callable[..., Any]
    version: str = "1"
    kind: str = field(default="label_source", init=False)


@dataclass(frozen=True)
class HeadSpec:
    """A label type: storage, per-pixel model and loss, ensemble combination."""

    name: str
    summary: str
    build: Callable[..., Any]
    version: str = "1"
    kind: str = field(default="head", init=False)


@dataclass(frozen=True)
class FilterSpec:
    """Scores synthesized samples so that a fraction can be dropped."""

    name: str
    summary: str
    build: Callable[..., Any]
    version: str = "1"
    kind: str = field(default="filter", init=False)


@dataclass(frozen=True)
class DistillerSpec:
    """Learns an image encoder from generator representations."""

    name: str
    summary: str
    build: Callable[..., Any]
    version: str = "1"
    kind: str = field(default="distiller", init=False)


@dataclass(frozen=True)
class CommandSpec:
    """A CLI command contributed by a plugin.

    `app` is either a `typer.Typer` (added as a command group called `name`)
    or a plain function (added as a single command called `name`). `group`
    puts it under an existing core group such as `backbone` or `cache`.
    """

    name: str
    app: Any
    summary: str = ""
    group: str | None = None
    version: str = "1"
    kind: str = field(default="command", init=False)
