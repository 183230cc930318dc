"""Fixtures for the `manual` label source: a small sampled cache, a LABELS file, a registry."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from dgan_cli import hookimpl
from dgan_cli.cache import CacheSpec, CacheWriter, LabelSchema
from dgan_cli.registry import discover
from dgan_cli.specs import HeadSpec

sys.path.insert(0, str(Path(__file__).parent))
from manual_data import H, IDS, LABELS, W  # noqa: E402


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
