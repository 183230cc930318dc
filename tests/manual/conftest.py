"""Fixtures for the `manual` label source: a small sampled cache, a LABELS file, a registry."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from dgan_cli.cache import CacheSpec, CacheWriter
from dgan_cli.registry import discover

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


@pytest.fixture
def registry(monkeypatch):
    """The installed plugins, made the process-wide registry for the command under test."""
    reg = discover()
    monkeypatch.setattr("dgan_cli.registry._REGISTRY", reg)
    return reg
