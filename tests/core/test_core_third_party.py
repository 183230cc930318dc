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
    assert (example["distribution"], example["version"]) == ("dgan-example", "0.4.0")
    assert {"kind": "head", "name": "edges", "version": "1"} in example["components"]
    assert {"kind": "command", "name": "edges", "version": "1"} in example["components"]
    assert {"kind": "format", "name": "edge-png", "version": "1"} in example["components"]
    builtin_formats = {c["name"] for c in plugins["builtin-manual"]["components"] if c["kind"] == "format"}
    assert builtin_formats == {"labelme", "png-masks", "coco-keypoints", "depth"}
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


def _edge_maps(sample_dir: Path, out: Path) -> None:
    """Machine-made 'edges' annotations of `dgan sample` images: thresholded image gradients."""
    from PIL import Image

    out.mkdir(parents=True)
    for path in sorted(sample_dir.glob("*.png")):
        grey = np.asarray(Image.open(path).convert("L")).astype(np.float64)
        edges = (np.abs(np.diff(grey, axis=0, prepend=grey[:1])) + np.abs(np.diff(grey, axis=1, prepend=grey[:, :1]))) > 24
        Image.fromarray(edges.astype(np.uint8) * 255).save(out / path.name)


def test_new_label_type_goes_through_every_command(plugin_site, tmp_path):
    """The pip-installed 'edges' type: import (its own format), train, synth, show, eval, results, export."""
    from PIL import Image

    from dgan_cli.cache import CacheReader
    from dgan_cli.labelled_folder import write_folder

    def ok(*args):
        proc = dgan(plugin_site, "-q", *args)
        assert proc.returncode == 0, (args[0], proc.stderr)
        return proc

    cache, samples, ann = tmp_path / "s.h5", tmp_path / "samples", tmp_path / "ann"
    ok("sample", "--backbone", "toy", "-n", "4", "--cache", cache, "--out", samples)
    _edge_maps(samples, ann)
    ok("annotate-import", ann, "--cache", cache, "--format", "edge-png", "--format-option", "threshold=0")
    with CacheReader(cache) as reader:
        assert reader.labelled("edges").tolist() == [0, 1, 2, 3]
        assert reader.label_schema("edges").dtype == "uint8"
    interp = tmp_path / "edges.pt"
    ok("train", "--cache", cache, "--head", "edges", "--out", interp, "--members", "2", "--iters", "60")
    synth = tmp_path / "synth"
    ok("synth", "--backbone", "toy", "--interpreter", interp, "-n", "6", "--out", synth, "--json", tmp_path / "y.json")
    exported = sorted(p.name for p in (synth / "folder" / "edges").glob("*.png"))  # the head's export hook
    assert exported == [f"{i:06d}.png" for i in range(6)]
    folder = json.loads((tmp_path / "y.json").read_text())["exports"]["folder"]
    assert folder["kinds"] == ["edges"] and folder["skipped_kinds"] == []

    sheet = tmp_path / "sheet.png"
    ok("show", synth, "--out", sheet, "--json", tmp_path / "show.json")
    assert json.loads((tmp_path / "show.json").read_text())["panels"] == ["image", "edges"]
    pixels = np.asarray(Image.open(sheet).convert("RGB")).reshape(-1, 3)
    assert ((pixels == (255, 0, 0)).all(1)).sum() > 100  # the head's own drawing: red edges
    ok("show", synth / "folder", "--out", tmp_path / "folder.png", "--json", tmp_path / "show2.json")
    assert json.loads((tmp_path / "show2.json").read_text())["panels"] == ["image", "edges"]  # read back

    test_set = tmp_path / "test"
    ids = [p.stem for p in sorted(samples.glob("*.png"))]
    write_folder(test_set, ids, np.stack([np.asarray(Image.open(samples / f"{i}.png").convert("RGB")) for i in ids]),
                 {}, {})
    (test_set / "edges").mkdir()
    for i in ids:
        (test_set / "edges" / f"{i}.png").write_bytes((ann / f"{i}.png").read_bytes())
    recipe = tmp_path / "r.toml"
    recipe.write_text(f"""
[recipe]
name = "edges"
out = "{tmp_path}/runs"

[[stage]]
name = "eval"
run = ["eval", "--train", "{synth}/folder", "--test", "{test_set}", "--head", "edges", "--steps", "10",
       "--batch", "2", "--json", "{{out}}/eval.json"]
results = "{{out}}/eval.json"
""")
    ok("run", recipe, "--json", tmp_path / "summary.json")
    metrics = json.loads((tmp_path / "runs" / "eval.json").read_text())["metrics"]
    assert set(metrics) == {"edge_f1", "edge_iou", "pixel_accuracy"} and 0 <= metrics["edge_f1"] <= 1
    proc = ok("results", tmp_path / "summary.json", "--json", tmp_path / "table.json")
    assert "metrics.edge_f1" in proc.stdout


def test_plugin_format_import_is_all_or_nothing(plugin_site, tmp_path):
    """A bad file among good ones: one error line, and the cache gains no 'edges' labels at all."""
    from PIL import Image

    from dgan_cli.cache import CacheReader

    cache = tmp_path / "c.h5"
    writer = CacheWriter.open(cache, CacheSpec(image_shape=(8, 8, 3)))
    writer.append(images=np.zeros((3, 8, 8, 3), np.uint8))
    writer.finish()
    ann = tmp_path / "ann"
    ann.mkdir()
    for i in range(2):
        Image.fromarray(np.full((8, 8), 255, np.uint8)).save(ann / f"{i:06d}.png")
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(ann / "000002.png")  # wrong size, read last
    proc = dgan(plugin_site, "annotate-import", ann, "--cache", cache, "--format", "edge-png")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "000002.png" in proc.stderr
    with CacheReader(cache) as reader:
        assert "edges" not in reader.label_kinds
    proc = dgan(plugin_site, "annotate-import", ann, "--cache", cache, "--format", "edge-png",
                "--format-option", "thresh=1")
    assert proc.returncode == 2 and "has no option 'thresh'" in proc.stderr
