"""Shared types: what a backbone object offers to the rest of dgan."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence


@dataclass(frozen=True)
class LayerInfo:
    """One feature map a backbone can return: name, channels, native resolution."""

    name: str
    channels: int
    resolution: int

    def as_dict(self) -> dict:
        return {"name": self.name, "channels": self.channels, "resolution": self.resolution}


class Backbone(Protocol):
    """A loaded generator. Tensors are torch tensors; images are NCHW float32 in [-1, 1].

    - `generator`: the torch module, called like the official one.
    - `layers`: every feature map `synthesize` can return, in order.
    - `identity()`: {"name", "sha256", "config"}, recorded in caches so that a
      cache made by another generator is refused.
    - `sample(seeds, truncation_psi)`: one latent per seed (seed -> z -> w+),
      so each sample is reproducible on its own: {"z": [N, z_dim], "ws": [N, num_ws, w_dim]}.
    - `synthesize(ws, layers, noise_mode)`: images and the requested feature
      maps at native resolution, differentiable w.r.t. `ws`.
    """

    generator: Any
    resolution: int
    layers: Sequence[LayerInfo]
    z_dim: int
    w_dim: int
    num_ws: int

    def identity(self) -> dict: ...

    def sample(self, seeds: Sequence[int], truncation_psi: float = 1.0) -> dict: ...

    def synthesize(self, ws, layers: Sequence[str] | None = None, noise_mode: str = "const"): ...


class Head(Protocol):
    """A label type, built by `HeadSpec.build(label_names, **options)`.

    The core's pixel-ensemble machinery (the style interpreter,
    `dgan_cli.interpreter`) is shared by every head; a head only says how its
    labels are stored, which pixels to train on, what the per-pixel targets
    and loss are, and how an ensemble's outputs combine into a label and an
    uncertainty map. `build(label_names, **config())` must rebuild an equal
    head: checkpoints store the label names and `config()`.

    - `name`: the label kind in caches and folders ("segmentation").
    - `num_outputs`: per-pixel outputs of each ensemble member.
    - `label_schema(image_hw)`: a `LabelSchema`, the storage of one sample's
      label in a cache; put the label names in `attrs["names"]`.
    - `sample_pixels(label, n, rng, image_hw)`: about `n` training pixels
      (ys, xs int arrays) of one labelled image of size image_hw, drawn with
      the numpy Generator `rng`.
    - `pixel_targets(label, ys, xs)`: float32 numpy targets [P, T] there.
    - `loss(outputs, targets)`: torch scalar; outputs [P, num_outputs] and
      targets [P, T] are float32 torch tensors.
    - `combine(outputs)`: one sample's member outputs [M, num_outputs, H, W]
      (a torch tensor, possibly on a GPU) -> (label as stored, numpy;
      float32 numpy uncertainty map [H, W], higher = less trustworthy).
    - `config()`: JSON-serialisable options (label names excluded).
    - optional `metrics(outputs, targets)`: {name: float} of training-pixel
      quality that `dgan train` reports (e.g. accuracy).
    """

    name: str
    num_outputs: int

    def label_schema(self, image_hw: tuple[int, int]) -> Any: ...

    def sample_pixels(self, label, n: int, rng, image_hw: tuple[int, int]) -> tuple: ...

    def pixel_targets(self, label, ys, xs): ...

    def loss(self, outputs, targets): ...

    def combine(self, outputs) -> tuple: ...

    def config(self) -> dict: ...


class Filter(Protocol):
    """Ranks synthesized samples by untrustworthiness, built by `FilterSpec.build(**options)`.

    - `name`: the filter's registered name ("js").
    - `score(uncertainty_map, label)`: one head's per-pixel uncertainty map
      [H, W] (from `Head.combine`) and label of one sample -> a float, higher
      = less trustworthy. Stored as `scores/<head>-uncertainty`.
    - `keep(scores, drop)`: scores [N, number of heads] of a whole run and the
      fraction to drop -> bool mask [N] of the samples to keep.
    - `config()`: JSON-serialisable options, recorded in the output's provenance.
    """

    name: str

    def score(self, uncertainty_map, label) -> float: ...

    def keep(self, scores, drop: float): ...

    def config(self) -> dict: ...
