"""Fixtures for the `manual` label source: a small sampled cache, a LABELS file, a registry."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dgan_cli import hookimpl
from dgan_cli.cache import CacheSpec, CacheWriter, LabelSchema
from dgan_cli.registry import discover
from dgan_cli.specs import HeadSpec

H, W = 8, 12  # not square, so that a swapped height/width shows
IDS = ["000000", "000001", "000002", "000003"]
LABELS = {
    "segmentation": {"classes": ["background", "face", "eye"],
                     "palette": [[0, 0, 0], [200, 150, 100], [0, 0, 255]]},
    "keypoints": {"names": ["left_eye", "right_eye", "nose"], "skeleton": [[0, 1]]},
    "depth": {"unit": "m", "png_scale": 0.01},
}


@pytest.fixture
def sampled_cache(tmp_path):
    """A complete cache shaped like `dgan sample`'s output (ids = zero-padded seeds)."""
    path = tmp_path / "cache.h5"
    spec = CacheSpec(image_shape=(H, W, 3), latents={"z": (4,)}, provenance={"backbone": {"name": "test"}})
    writer = CacheWriter.open(path, spec)
    rng = np.random.default_rng(0)
    writer.append(images=rng.integers(0, 256, (len(IDS), H, W, 3), dtype=np.uint8), ids=IDS,
                  seeds=list(range(len(IDS))), latents={"z": rng.standard_normal((len(IDS), 4))})
    writer.finish()
    return path


@pytest.fixture
def labels_file(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(LABELS))
    return path


class _FixedSchemaHead:
    """Stores labels as docs/cache-format.md says the built-in head of that kind does."""

    def __init__(self, kind, label_names):
        self.name, self.names = kind, list(label_names)

    def label_schema(self, image_hw):
        if self.name == "keypoints":
            return LabelSchema((len(self.names), 3), "float32", 0, {"names": self.names})
        return LabelSchema(tuple(image_hw), "float32", float("nan"), {})


@pytest.fixture
def registry(monkeypatch):
    """The installed plugins, made the process-wide registry for the command under test."""
    reg = discover()
    missing = [kind for kind in ("keypoints", "depth") if kind not in reg.names("head")]

    class StandinHeads:  # TEMPORARY: until the keypoints and depth head plugins are installed
        @hookimpl
        def dgan_heads(self):
            return [HeadSpec(name=kind, summary="test", build=lambda names=(), kind=kind: _FixedSchemaHead(kind, names))
                    for kind in missing]

    reg.register(StandinHeads(), "test-standin-heads")
    monkeypatch.setattr("dgan_cli.registry._REGISTRY", reg)
    return reg
