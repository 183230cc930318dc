"""What plugins register: one frozen spec per component, collected by kind.

A spec is cheap to build (no torch import); the work happens in its factory,
which the core calls only when a run asks for the component by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

KINDS = ("backbone", "label_source", "format", "head", "filter", "distiller", "command", "data_source")


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
class FormatSpec:
    """An annotation file format that `dgan annotate-import --format NAME` and `dgan invert` read.

    `read(request)` gets a `dgan_cli.annotations.ImportRequest` and returns a
    list of `dgan_cli.annotations.Annotation`, values already in the storage
    layout of each kind's head. It only reads: the core checks every value
    against its head's `label_schema` and writes nothing unless all fit.
    `needs_labels`: the format needs a labels file (`--labels`) to name classes.
    `options`: the `--format-option KEY=VALUE` keys it reads from `request.options`.
    """

    name: str
    summary: str
    read: Callable[..., Any]
    needs_labels: bool = False
    options: tuple[str, ...] = ()
    version: str = "1"
    kind: str = field(default="format", init=False)


@dataclass(frozen=True)
class HeadSpec:
    """A label type: storage, per-pixel model and loss, ensemble combination.

    The optional callables reach the other commands (docs/plugins.md):
    - `draw(image, label, entry, scale)` -> uint8 [H*scale, W*scale, 3]: `dgan show`'s panel;
    - `evaluation(train_labels, names, **options)` -> an eval task: `dgan eval --head NAME`;
    - `read_folder_labels(folder, ids)` -> [N, ...] labels of a labelled folder (test sets);
    - `export(folder, ids, labels, attrs)`: write labels into a synth folder export.
    """

    name: str
    summary: str
    build: Callable[..., Any]
    draw: Callable[..., Any] | None = None
    evaluation: Callable[..., Any] | None = None
    read_folder_labels: Callable[..., Any] | None = None
    export: Callable[..., Any] | None = None
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
class DataSourceSpec:
    """Training images for `dgan backbone train --data NAME` (a name instead of a folder).

    `open(resolution, count)` returns a dataset: `len()`, `resolution`,
    `describe()` (one line) and `batch(indices)` -> uint8 [B, R, R, 3].
    `resolution` and `count` (`--resolution`, `--toy-images`) may be None for the
    source's defaults. A dataset that can render the image of a latent vector
    also has `latent_dim` and `render_latents(latents)` -> uint8 [B, R, R, 3],
    which `--objective paired` needs.
    """

    name: str
    summary: str
    open: Callable[..., Any]
    version: str = "1"
    kind: str = field(default="data_source", init=False)


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
