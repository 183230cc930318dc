"""`dgan select`: uncertainty band + k-center coreset, as pure functions and end to end."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dgan_cli.cache import CacheReader

sys.path.insert(0, str(Path(__file__).parent))
from pipe_sample_standin import StandinBackbone, standin_registry  # noqa: E402
from dgan_plugins.pipeline.select import candidate_band, k_center_greedy, select  # noqa: E402


def test_k_center_greedy_on_a_line():
    # From x=0 the farthest is 10; then 2 is the farthest from {0, 10} (distance 2 vs 1 for x=9).
    assert k_center_greedy(np.array([[0.0], [1], [2], [9], [10]]), 3) == [0, 4, 2]


def test_coreset_picks_one_point_per_cluster():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
    points = np.concatenate([c + rng.normal(0, 0.3, (5, 2)) for c in centres])  # 4 clusters of 5
    picked = k_center_greedy(points, 4, first=7)
    assert picked[0] == 7
    assert sorted(i // 5 for i in picked) == [0, 1, 2, 3]


def test_candidate_band_skips_the_most_uncertain():
    scores = np.arange(20, dtype=float)  # sample i has score i
    scores[3] = np.nan
    # skip 10% (19, 18), then the next 25% = 5 samples.
    assert candidate_band(scores, 2, skip=0.1, band=0.25).tolist() == [17, 16, 15, 14, 13]
    assert candidate_band(scores, 6, skip=0.1, band=0.1).tolist() == [17, 16, 15, 14, 13, 12]  # at least n
    assert candidate_band(scores, 3, skip=0.9, band=0.25).tolist()[-1] == 3  # NaN ranks last
    # select: the coreset starts at the band's most uncertain sample and spreads out.
    descriptors = np.zeros((20, 2))
    descriptors[13] = (5, 0)  # the one candidate unlike the others
    descriptors[0] = (50, 50)  # farther still, but outside the band
    assert select(scores, descriptors, 2, skip=0.1, band=0.25) == [17, 13]


@pytest.fixture
def setup(monkeypatch, tmp_path):
    from dgan_cli.interpreter import Ensemble, Interpreter

    backbone = StandinBackbone()
    registry = standin_registry(backbone)
    monkeypatch.setattr("dgan_cli.registry._REGISTRY", registry)
    head = registry.get("head", "segmentation").build(["bg", "a", "b"])
    ensemble = Ensemble(in_dim=18, num_outputs=3, members=3, hidden=(8, 4), seed=0)
    with torch.no_grad():  # larger weights than the init, so that the members disagree visibly
        for p in ensemble.parameters():
            p.mul_(50)
    path = tmp_path / "interp.pt"
    Interpreter(head, "segmentation", ["bg", "a", "b"], backbone.layers, (16, 16), backbone.identity(),
                ensemble.eval()).save(path)
    return backbone, registry, path


def expected_selection(backbone, interpreter_path, seeds, n):
    """The selection recomputed independently: naive ensemble path, per-pixel JS summed, pooled features."""
    from dgan_cli.interpreter import Interpreter, js_divergence, naive_outputs

    interp = Interpreter.load(interpreter_path)
    names = [layer.name for layer in backbone.layers]
    with torch.no_grad():
        _, feats = backbone.synthesize(backbone.sample(seeds, 0.7)["ws"], names)
        out = naive_outputs(interp.ensemble, feats, backbone.layers, (16, 16))
    scores = np.array([float(js_divergence(out[b]).sum()) for b in range(len(seeds))])
    pooled = np.concatenate([torch.nn.functional.normalize(feats[k].mean((2, 3)), dim=1).numpy() for k in names], 1)
    return [seeds[i] for i in select(scores, pooled, n, 0.1, 0.2)]


def test_select_writes_the_annotation_layout(run_cli, setup, tmp_path):
    backbone, registry, interp = setup
    args = ["select", "--backbone", "standin", "--interpreter", interp, "-n", "3", "--pool", "20",
            "--seed", "100", "--band", "0.2"]
    result = run_cli(*args, "--out", tmp_path / "sel", "--cache", tmp_path / "sel.h5", "--json", tmp_path / "s.json",
                     registry=registry)
    assert result.code == 0, result.err
    chosen = [row["seed"] for row in json.loads((tmp_path / "s.json").read_text())["selected"]]
    assert chosen == expected_selection(backbone, interp, list(range(100, 120)), 3)
    index = json.loads((tmp_path / "sel" / "samples.json").read_text())
    assert sorted(v["seed"] for v in index["samples"].values()) == sorted(chosen)
    assert all((tmp_path / "sel" / f"{s:06d}.png").exists() for s in chosen)
    with CacheReader(tmp_path / "sel.h5") as r:
        assert r.seeds.tolist() == chosen and r.provenance["job"]["name"] == "select"

    # Without --cache: the same images, straight into the folder.
    assert run_cli(*args, "--out", tmp_path / "plain", registry=registry).code == 0
    for s in chosen:
        assert (tmp_path / "plain" / f"{s:06d}.png").read_bytes() == (tmp_path / "sel" / f"{s:06d}.png").read_bytes()


def test_select_bad_input(run_cli, setup, tmp_path):
    backbone, registry, interp = setup
    base = ["select", "--backbone", "standin", "--out", tmp_path / "o"]
    cases = [(["--interpreter", interp, "-n", "30", "--pool", "20"], "-n must be between 1 and --pool"),
             (["--interpreter", interp, "--skip", "1.5"], "--skip must be a fraction"),
             (["--interpreter", interp, "--aggregation", "max"], "--aggregation must be one of"),
             (["--interpreter", tmp_path / "missing.pt"], "no such interpreter checkpoint")]
    for extra, message in cases:
        result = run_cli(*base, *extra, registry=registry)
        assert result.code == 2 and message in result.err, result.err
        assert len(result.err.strip().splitlines()) == 1
    backbone.mapping.add_(1)  # another generator: its identity no longer matches the interpreter's
    result = run_cli(*base, "--interpreter", interp, "-n", "2", "--pool", "4", registry=registry)
    assert result.code == 2 and "trained on backbone" in result.err
