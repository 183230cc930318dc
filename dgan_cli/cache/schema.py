"""The HDF5 cache layout (format v1). See docs/cache-format.md for the full spec."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from dgan_cli.types import LayerInfo

FORMAT_NAME = "dgan-cache"
FORMAT_VERSION = 1

# Root attributes.
ATTR_FORMAT = "format"
ATTR_VERSION = "format_version"
ATTR_COMPLETE = "complete"
ATTR_COMMITTED = "committed"
ATTR_SPEC = "spec"


@dataclass(frozen=True)
class LabelSchema:
    """How one head kind stores its labels: per-sample shape, dtype, names.

    `fill` marks unlabelled entries on disk; which samples carry a label is
    recorded separately in `/labels/<kind>/present`.
    """

    shape: tuple
    dtype: str
    fill: float = 0
    attrs: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"shape": list(self.shape), "dtype": self.dtype, "fill": self.fill, "attrs": self.attrs}

    @classmethod
    def from_dict(cls, d: dict) -> "LabelSchema":
        return cls(tuple(d["shape"]), d["dtype"], d.get("fill", 0), d.get("attrs", {}))


@dataclass(frozen=True)
class CacheSpec:
    """Everything fixed when a cache is created; a resumed writer must match it.

    - image_shape: (H, W, 3) of the uint8 images.
    - layers: feature maps stored per sample at native resolution (fp16).
    - latents: latent spaces stored per sample and their per-sample shapes,
      e.g. {"z": (512,), "ws": (14, 512)}.
    - scores: names of per-sample float32 scalars (filter scores, PSNR...).
    - provenance: backbone identity, the job's parameters, plugin inventory.
    """

    image_shape: tuple
    layers: Sequence[LayerInfo] = ()
    latents: dict = field(default_factory=dict)
    scores: Sequence[str] = ()
    provenance: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "image_shape": list(self.image_shape),
            "layers": [layer.as_dict() for layer in self.layers],
            "latents": {k: list(v) for k, v in self.latents.items()},
            "scores": list(self.scores),
            "provenance": self.provenance,
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "CacheSpec":
        d = json.loads(text)
        return cls(
            image_shape=tuple(d["image_shape"]),
            layers=tuple(LayerInfo(**layer) for layer in d["layers"]),
            latents={k: tuple(v) for k, v in d["latents"].items()},
            scores=tuple(d["scores"]),
            provenance=d["provenance"],
        )

    def same_job(self, other: "CacheSpec") -> bool:
        """Equal apart from volatile provenance (creation time, plugin inventory)."""
        return _stable(self.as_dict()) == _stable(other.as_dict())


VOLATILE = ("created", "plugins", "dgan_version", "command")


def _stable(d: dict) -> Any:
    d = json.loads(json.dumps(d, sort_keys=True))
    for key in VOLATILE:
        d["provenance"].pop(key, None)
    return d
