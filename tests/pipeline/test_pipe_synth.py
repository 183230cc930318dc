"""`dgan synth`: labels from all heads, filter, exports, determinism, resume after SIGKILL, bad input."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interpreter"))
from interp_standin import (HERE, StandinBackbone, labelled_cache, one_torch_thread,  # noqa: E402,F401
                            registry_with_standin, segmentation_cache)

from dgan_cli.cache import CacheReader  # noqa: E402
from dgan_cli.dataset import LabelledDataset  # noqa: E402
from dgan_cli.interpreter import Interpreter, TrainOptions, naive_outputs, train_ensemble  # noqa: E402
from dgan_cli.labelled_folder import LabelledFolder  # noqa: E402
from dgan_cli.registry import default_registry  # noqa: E402

NAMES = {"segmentation": ["class0", "class1", "class2"], "keypoints": ["a", "b", "c"], "depth": ["depth"]}


@pytest.fixture(scope="module")
def interpreters(tmp_path_factory):
    """One small trained interpreter per built-in head, on stand-in caches."""
    folder = tmp_path_factory.mktemp("interps")
    torch.set_num_threads(1)
    paths = {}
    for kind in NAMES:
        cache = folder / f"{kind}.h5"
        segmentation_cache(cache, seeds=(1, 2)) if kind == "segmentation" else labelled_cache(cache, kind, (1, 2))
        head = default_registry().get("head", kind).build(NAMES[kind])
        with CacheReader(cache) as reader:
            ensemble, _ = train_ensemble(reader, head, reader.layers,
                                         TrainOptions(members=2, pixels_per_image=128, iters=30))
            Interpreter(head, kind, NAMES[kind], reader.layers, (16, 16), StandinBackbone().identity(),
                        ensemble).save(folder / f"{kind}.pt")
        paths[kind] = folder / f"{kind}.pt"
    return paths


@pytest.fixture
def registry(monkeypatch):
    reg = registry_with_standin()
    monkeypatch.setattr("dgan_cli.registry._REGISTRY", reg)
    return reg


def synth_args(interpreters, out, n=6, *extra, backbone="standin"):
    args = ["synth", "--backbone", backbone, "-n", str(n), "--seed", "10", "--out", str(out), "--batch", "2"]
    for path in interpreters.values():
        args += ["--interpreter", str(path)]
    return args + [str(e) for e in extra]


def contents(path) -> dict:
    with CacheReader(path) as r:
        out = {"ids": r.ids, "seeds": r.seeds, "images": r.images(), "z": r.latents("z"), "ws": r.latents("ws")}
        out.update({f"labels/{k}": r.labels(k) for k in r.label_kinds})
        out.update({f"scores/{k}": r.scores(k) for k in r.score_names})
    return out


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), key


def one_error_line(result) -> str:
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert result.code == 2 and len(lines) == 1 and "Traceback" not in result.err, result.err
    return lines[0]


def test_pipe_synth_all_heads_filter_and_exports(run_cli, registry, interpreters, tmp_path):
    res = run_cli("-q", *synth_args(interpreters, tmp_path / "a", 6, "--drop", "0.34", "--json", tmp_path / "a.json"),
                  registry=registry)
    assert res.code == 0, res.err
    summary = json.loads((tmp_path / "a.json").read_text())
    assert summary["kept"] == 4 and summary["dropped"] == 2 and summary["heads"] == list(NAMES)
    data = contents(tmp_path / "a" / "synth.h5")
    assert data["seeds"].tolist() == list(range(10, 16)) and data["ids"][0] == "000010"
    assert data["labels/segmentation"].dtype == np.int16 and data["labels/segmentation"].shape == (6, 16, 16)
    assert data["labels/keypoints"].shape == (6, 3, 3) and data["labels/depth"].dtype == np.float32
    keep = data["scores/keep"] == 1
    assert keep.sum() == 4
    ranks = np.mean([np.argsort(np.argsort(data[f"scores/{k}-uncertainty"])) for k in NAMES], axis=0)
    assert ranks[~keep].min() >= ranks[keep].max()  # the dropped ones are the least certain
    with CacheReader(tmp_path / "a" / "synth.h5") as r:
        assert r.layers == [] and r.provenance["job"]["filter"] == {"name": "js", "options": {"aggregate": "sum"}}
        assert "ignore_above" not in r.provenance["job"]  # the job of caches made before the option

    # the pipeline's labels are the interpreter's, computed here the slow way
    backbone = StandinBackbone()
    interp = Interpreter.load(interpreters["segmentation"])
    with torch.no_grad():
        _, feats = backbone.synthesize(backbone.sample([10], 0.7)["ws"])
    label, js = interp.head.combine(naive_outputs(interp.ensemble, feats, interp.layers, (16, 16))[0])
    assert np.array_equal(label, data["labels/segmentation"][0])
    assert data["scores/segmentation-uncertainty"][0] == pytest.approx(js.sum(), rel=1e-4)

    folder = LabelledFolder(tmp_path / "a" / "folder")
    kept_ids = [i for i, k in zip(data["ids"], keep) if k]
    assert folder.ids == kept_ids and set(folder.label_names) == set(NAMES)
    assert (tmp_path / "a" / "folder" / "keypoints.json").is_file()
    with CacheReader(tmp_path / "a" / "dataset.h5") as r:
        assert r.ids == kept_ids and r.layers == [] and "keep" not in r.score_names
    from_folder = LabelledDataset(tmp_path / "a" / "folder", kinds="segmentation")
    from_h5 = LabelledDataset(tmp_path / "a" / "synth.h5")
    assert len(from_folder) == len(from_h5) == 4
    image, mask = from_folder[1]
    image2, labels = from_h5[1]
    assert image.shape == (3, 16, 16) and image.dtype == torch.float32 and float(image.max()) <= 1
    assert torch.equal(image, image2) and torch.equal(mask, labels["segmentation"]) and mask.dtype == torch.int64
    np.testing.assert_allclose(LabelledDataset(tmp_path / "a" / "folder", "depth")[1][1], labels["depth"])
    np.testing.assert_allclose(LabelledDataset(tmp_path / "a" / "folder", "keypoints")[1][1][:, :2],
                               labels["keypoints"][:, :2])


def test_pipe_synth_ignore_above_leaves_uncertain_pixels_unlabelled(run_cli, registry, interpreters, tmp_path):
    backbone = StandinBackbone()
    interp = Interpreter.load(interpreters["segmentation"])
    with torch.no_grad():
        _, feats = backbone.synthesize(backbone.sample([10], 0.7)["ws"])
    label, js = interp.head.combine(naive_outputs(interp.ensemble, feats, interp.layers, (16, 16))[0])
    threshold = float(np.median(js))  # about half the pixels of sample 0 lose their label
    chosen = {k: interpreters[k] for k in ("segmentation", "depth")}
    res = run_cli("-q", *synth_args(chosen, tmp_path / "a", 2, "--ignore-above", f"segmentation={threshold}",
                                    "--ignore-above", "depth=0"), registry=registry)
    assert res.code == 0, res.err
    data = contents(tmp_path / "a" / "synth.h5")
    uncertain = js > threshold
    assert 0 < uncertain.sum() < uncertain.size
    expected = np.where(uncertain, -1, label)
    near = np.abs(js - threshold) < 1e-5  # the fast path's float32 sums may round across the threshold
    assert np.array_equal(data["labels/segmentation"][0][~near], expected[~near])
    assert np.isnan(data["labels/depth"]).all()  # every pixel has some variance: all unlabelled (NaN)
    # the unlabelled pixels survive the folder export (255 in the PNG) and read back as -1
    mask = LabelledDataset(tmp_path / "a" / "folder", kinds="segmentation")[0][1].numpy()
    assert np.array_equal(mask, data["labels/segmentation"][0])
    with CacheReader(tmp_path / "a" / "synth.h5") as r:
        assert r.provenance["job"]["ignore_above"] == {"segmentation": pytest.approx(threshold), "depth": 0}

    def err(chosen, *args):
        return one_error_line(run_cli(*synth_args(chosen, tmp_path / "b", 2, *args), registry=registry))

    assert "head 'keypoints' labels are not per-pixel maps" in err(interpreters, "--ignore-above", "keypoints=0.1")
    assert "no interpreter for head 'keypoints'" in err(chosen, "--ignore-above", "keypoints=0.1")
    for bad in ("segmentation", "=0.2"):
        assert "--ignore-above expects KEY=VALUE" in err(chosen, "--ignore-above", bad)
    for bad in ("segmentation=-1", "segmentation=x", "segmentation=nan", "segmentation=true"):
        assert "the threshold must be a finite number >= 0" in err(chosen, "--ignore-above", bad)


def test_pipe_synth_same_seed_same_bytes(run_cli, registry, interpreters, tmp_path):
    for name in ("a", "b"):
        res = run_cli("-q", *synth_args(interpreters, tmp_path / name, 4, "--export", "none"), registry=registry)
        assert res.code == 0, res.err
    assert_same(contents(tmp_path / "a" / "synth.h5"), contents(tmp_path / "b" / "synth.h5"))
    # a sample depends only on its seed: a run starting at seed 12 repeats samples 2, 3
    res = run_cli("-q", *synth_args(interpreters, tmp_path / "c", 2, "--export", "none"), registry=registry)
    assert res.code == 0
    shifted = contents(tmp_path / "c" / "synth.h5")
    assert np.array_equal(shifted["images"], contents(tmp_path / "a" / "synth.h5")["images"][:2])


def test_pipe_synth_resumes_after_sigkill(run_cli, registry, interpreters, tmp_path):
    calls = tmp_path / "calls.txt"
    env = {**os.environ, "STANDIN_CALLS_FILE": str(calls), "PYTHONUNBUFFERED": "1"}
    args = synth_args(interpreters, tmp_path / "killed", 40, "--export", "none", backbone="standin-slow")
    proc = subprocess.Popen([sys.executable, str(HERE / "interp_standin.py"), "-q", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        count = calls.read_text().strip() if calls.exists() else ""  # read once: the writer rewrites it
        if count.isdigit() and int(count) >= 4:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with CacheReader(tmp_path / "killed" / "synth.h5", allow_incomplete=True) as r:
        assert not r.complete and 0 < r.n < 40
    res = run_cli("-q", *synth_args(interpreters, tmp_path / "killed", 40, "--export", "none",
                                    "--json", tmp_path / "r.json"), registry=registry)
    assert res.code == 0, res.err
    assert json.loads((tmp_path / "r.json").read_text())["resumed_from"] > 0
    res = run_cli("-q", *synth_args(interpreters, tmp_path / "whole", 40, "--export", "none"), registry=registry)
    assert res.code == 0, res.err
    assert_same(contents(tmp_path / "killed" / "synth.h5"), contents(tmp_path / "whole" / "synth.h5"))


def test_pipe_synth_bad_inputs_exit_2_with_one_line(run_cli, registry, interpreters, tmp_path):
    def err(*args, backbone="standin", chosen=interpreters):
        return one_error_line(run_cli(*synth_args(chosen, tmp_path / "x", 2, *args, backbone=backbone),
                                      registry=registry))

    assert "not on the given one" in err(backbone="standin-other")
    assert "--drop must be in [0, 1)" in err("--drop", "1.5")
    assert "unknown export 'zip'" in err("--export", "folder,zip")
    assert "unknown filter 'jss'" in err("--filter", "jss")
    assert "aggregate must be one of" in err("--filter-option", "aggregate=max")
    assert "no such interpreter checkpoint" in err(chosen={"x": tmp_path / "missing.pt"})
    twice = {"a": interpreters["depth"], "b": interpreters["depth"]}
    assert "two interpreters for head 'depth'" in err(chosen=twice)
    one = {"segmentation": interpreters["segmentation"]}
    assert run_cli("-q", *synth_args(one, tmp_path / "done", 2, "--export", "none"), registry=registry).code == 0
    line = one_error_line(run_cli(*synth_args(one, tmp_path / "done", 3), registry=registry))
    assert "already a complete cache made by another job (use another --out" in line


def test_pipe_synth_depth_coverage_leaves_the_backdrop_unlabelled(run_cli, registry, tmp_path):
    """`dgan train --head-option coverage=true` on depth labels with a backdrop (NaN) the features decide:
    the synthetic labels leave the same backdrop unlabelled, through the cache and the folder."""
    from interp_standin import make_cache, render, rule_depth

    seeds = (1, 2, 3, 4)
    _, feats, _ = render(StandinBackbone(), seeds)
    truth = rule_depth(feats)
    truth[truth > 3.5] = np.nan
    head = default_registry().get("head", "depth").build(["depth"])
    make_cache(tmp_path / "d.h5", seeds, {"depth": truth}, {"depth": head.label_schema((16, 16))})
    res = run_cli("-q", "train", "--cache", tmp_path / "d.h5", "--head", "depth", "--out", tmp_path / "d.pt",
                  "--members", "2", "--iters", "600", "--pixels-per-image", "256", "--seed", "1",
                  "--head-option", "coverage=true", registry=registry)
    assert res.code == 0, res.err
    assert Interpreter.load(tmp_path / "d.pt").head.coverage
    res = run_cli("-q", *synth_args({"depth": tmp_path / "d.pt"}, tmp_path / "a", 6), registry=registry)
    assert res.code == 0, res.err
    data = contents(tmp_path / "a" / "synth.h5")
    backbone = StandinBackbone()
    with torch.no_grad():
        _, synth_feats = backbone.synthesize(backbone.sample(list(range(10, 16)), 0.7)["ws"])
    backdrop = rule_depth({k: v.numpy() for k, v in synth_feats.items()}) > 3.5
    unlabelled = np.isnan(data["labels/depth"])
    assert 0.2 < backdrop.mean() < 0.8 and (unlabelled == backdrop).mean() > 0.85, (unlabelled == backdrop).mean()
    assert np.isfinite(data["scores/depth-uncertainty"]).all()  # the filter scores the labelled pixels
    kept = np.flatnonzero(data["scores/keep"] == 1)
    folder = LabelledDataset(tmp_path / "a" / "folder", "depth")
    assert np.array_equal(np.isnan(folder[0][1].numpy()), unlabelled[kept[0]])
    line = [l for l in run_cli("-q", "train", "--cache", tmp_path / "d.h5", "--head", "depth", "--out",
                               tmp_path / "e.pt", "--head-option", "coverage=yes", registry=registry).err.splitlines()
            if l.strip()]
    assert len(line) == 1 and "coverage must be true or false" in line[0]
    assert not (tmp_path / "e.pt").exists()
