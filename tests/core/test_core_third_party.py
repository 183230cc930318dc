"""A third-party plugin installed with pip is listed and its command runs; a broken one breaks nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dgan_cli.cache import CacheSpec, CacheWriter, LabelSchema

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """pip-install the example and the broken plugin into a private site folder."""
    target = tmp_path_factory.mktemp("site")
    for name in ("dgan-example", "dgan-broken"):
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
             "--no-index", "--target", str(target), str(FIXTURES / name)],
            capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    return target


def dgan(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200", **env}
    return subprocess.run([sys.executable, "-m", "dgan_cli", *map(str, args)],
                          capture_output=True, text=True, env=environ)


def test_plugins_lists_third_party_head_command_and_broken_plugin(plugin_site, tmp_path):
    out = tmp_path / "plugins.json"
    proc = dgan(plugin_site, "plugins", "--json", out)
    assert proc.returncode == 0, proc.stderr
    plugins = {p["plugin"]: p for p in json.loads(out.read_text())["plugins"]}
    example = plugins["dgan-example"]
    assert example["status"] == "ok" and not example["builtin"]
    assert (example["distribution"], example["version"]) == ("dgan-example", "0.3.0")
    assert {"kind": "head", "name": "edges", "version": "1"} in example["components"]
    assert {"kind": "command", "name": "edges", "version": "1"} in example["components"]
    broken = plugins["dgan-broken"]
    assert broken["status"].startswith("failed: ModuleNotFoundError")
    assert "dgan-broken" in proc.stdout and "failed" in proc.stdout


def test_third_party_subcommand_runs_and_broken_plugin_is_harmless(plugin_site, tmp_path):
    cache = tmp_path / "edges.h5"
    sys.path.insert(0, str(plugin_site))
    try:
        from dgan_example.head import EdgesHead
    finally:
        sys.path.remove(str(plugin_site))
    writer = CacheWriter.open(cache, CacheSpec(image_shape=(8, 8, 3)))
    writer.declare_labels("edges", EdgesHead().label_schema((8, 8)))
    label = np.zeros((2, 8, 8), np.uint8)
    label[:, :, :2] = 1
    writer.append(images=np.zeros((2, 8, 8, 3), np.uint8), labels={"edges": label})
    writer.finish()
    proc = dgan(plugin_site, "edges", "stats", cache)
    assert proc.returncode == 0, proc.stderr
    assert "2 labelled samples, edge fraction 0.250" in proc.stdout
    proc = dgan(plugin_site, "cache", "info", cache)  # core commands unaffected by dgan-broken
    assert proc.returncode == 0, proc.stderr


def test_disable_and_allow_lists(plugin_site, tmp_path):
    out = tmp_path / "p.json"
    assert dgan(plugin_site, "plugins", "--json", out, DGAN_DISABLE_PLUGINS="dgan-broken").returncode == 0
    names = {p["plugin"] for p in json.loads(out.read_text())["plugins"]}
    assert "dgan-broken" not in names and "dgan-example" in names
    assert dgan(plugin_site, "plugins", "--json", out, DGAN_LOAD_PLUGINS="dgan-example").returncode == 0
    assert {p["plugin"] for p in json.loads(out.read_text())["plugins"]} == {"dgan-example"}


def test_example_head_follows_the_head_protocol(plugin_site):
    import torch

    sys.path.insert(0, str(plugin_site))
    try:
        from dgan_example.head import EdgesHead
    finally:
        sys.path.remove(str(plugin_site))
    head = EdgesHead()
    label = np.eye(6, dtype=np.uint8)
    ys, xs = head.sample_pixels(label, 10, np.random.default_rng(0))
    targets = head.pixel_targets(label, ys, xs)
    assert targets.shape == (10, 1) and set(np.unique(targets)) <= {0.0, 1.0}
    outputs = torch.full((3, 1, 6, 6), -5.0)
    outputs[:, 0, 0, 0] = 5.0
    combined, uncertainty = head.combine(outputs)
    assert combined[0, 0] == 1 and combined.sum() == 1 and uncertainty.shape == (6, 6)


def test_third_party_head_trains_through_dgan_train(plugin_site, tmp_path):
    """The same `dgan train` that serves the built-in heads trains the pip-installed 'edges' head."""
    from dgan_cli.types import LayerInfo

    layers = (LayerInfo("b4.conv1", 4, 4), LayerInfo("b8.conv0", 4, 8))
    cache = tmp_path / "edges-features.h5"
    writer = CacheWriter.open(cache, CacheSpec(image_shape=(8, 8, 3), layers=layers,
                                               provenance={"backbone": {"name": "fake", "sha256": "ab"}}))
    writer.declare_labels("edges", LabelSchema((8, 8), "uint8", 0))
    rng = np.random.default_rng(0)
    label = np.zeros((4, 8, 8), np.uint8)
    label[:, :, 4:] = 1
    fine = np.zeros((4, 4, 8, 8))
    fine[:, 0] = label * 2.0 - 1.0  # one channel tells the edge side: learnable
    writer.append(images=np.zeros((4, 8, 8, 3), np.uint8), labels={"edges": label},
                  features={"b4.conv1": rng.normal(size=(4, 4, 4, 4)), "b8.conv0": fine})
    writer.finish()
    out = tmp_path / "edges.pt"
    proc = dgan(plugin_site, "-q", "train", "--cache", cache, "--head", "edges", "--out", out,
                "--members", "2", "--iters", "150", "--json", tmp_path / "t.json")
    assert proc.returncode == 0, proc.stderr
    members = json.loads((tmp_path / "t.json").read_text())["members"]
    assert out.exists() and len(members) == 2
    assert all(m["final_loss"] < 0.2 for m in members)  # BCE starts at ln 2: it learned the edge side
