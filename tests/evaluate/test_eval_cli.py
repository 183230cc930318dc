"""`dgan eval` end to end on tiny toy sets: results, JSON, determinism, and bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dgan_cli.cli import main
from dgan_cli.labelled_folder import write_folder

TINY = ["--steps", "3", "--batch", "2", "--width", "4", "--device", "cpu"]


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval-sets")
    for name, seed in (("train", 0), ("test", 100_000)):
        assert main(["-q", "toy", "render", "--n", "4", "--seed", str(seed), "--resolution", "32",
                     "--out", str(root / name)]) == 0
    assert main(["-q", "toy", "render", "--n", "4", "--seed", "0", "--resolution", "32",
                 "--out", str(root / "train.h5")]) == 0
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    write_folder(root / "other-classes", ["a", "b"], images, {"segmentation": np.zeros((2, 32, 32), np.uint8)},
                 {"segmentation": {"classes": ["background", "wheel"]}})
    write_folder(root / "no-masks", ["a", "b"], images, {"class": np.zeros(2, np.int64)},
                 {"class": {"names": ["thing"]}})
    return root


@pytest.mark.parametrize("head", ["segmentation", "keypoints", "depth"])
def test_eval_writes_metrics_and_is_deterministic(run_cli, sets, tmp_path, head):
    reports = []
    for i in range(2):
        result = run_cli("-q", "eval", "--train", sets / "train", "--test", sets / "test", "--head", head,
                         "--augment", "--seed", "5", *TINY, "--json", tmp_path / f"r{i}.json")
        assert result.code == 0, result.err
        reports.append(json.loads((tmp_path / f"r{i}.json").read_text()))
    first, second = reports
    assert first["metrics"] == second["metrics"] and first["loss"] == second["loss"]
    assert first["train"]["images"] == 4 and first["test"]["images"] == 4 and first["config"]["steps"] == 3
    headline = {"segmentation": "miou", "keypoints": "pck@0.1", "depth": "absrel"}[head]
    assert headline in result.out and np.isfinite(first["metrics"][headline])


def test_eval_reads_a_cache_as_training_set(run_cli, sets, tmp_path):
    result = run_cli("-q", "eval", "--train", sets / "train.h5", "--test", sets / "test", "--head", "segmentation",
                     *TINY, "--json", tmp_path / "r.json")
    assert result.code == 0, result.err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["train"]["images"] == 4
    assert set(report["metrics"]["per_class_iou"]) >= {"background", "face", "eye"}


@pytest.mark.parametrize("args, words", [
    (["--train", "{s}/train", "--test", "{s}/other-classes", "--head", "segmentation"], "classes differ"),
    (["--train", "{s}/missing", "--test", "{s}/test", "--head", "segmentation"], "no such"),
    (["--train", "{s}/no-masks", "--test", "{s}/test", "--head", "segmentation"], "no 'segmentation' labels"),
    (["--train", "{s}/empty", "--test", "{s}/test", "--head", "depth"], "missing"),
    (["--train", "{s}/train", "--test", "{s}/test", "--head", "edges"], "unknown --head"),
    (["--train", "{s}/train", "--test", "{s}/test", "--head", "keypoints", "--net", "resnet"], "unknown --net"),
    (["--train", "{s}/train", "--test", "{s}/test", "--head", "segmentation", "--net", "resnet18",
      "--encoder", "{s}/train/labels.json"], "not a readable torch file"),
    (["--train", "{s}/train", "--test", "{s}/test", "--head", "segmentation", "--encoder", "{s}/x.pt"],
     "--encoder needs --net resnet18"),
])
def test_bad_input_is_one_line_and_exit_2(run_cli, sets, args, words):
    (sets / "empty").mkdir(exist_ok=True)
    result = run_cli("eval", *[a.format(s=sets) for a in args], *TINY)
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and words in lines[0], result.err


def test_learning_curve_scores_the_test_set_along_the_way(run_cli, sets, tmp_path):
    args = ["-q", "eval", "--train", sets / "train", "--test", sets / "test", "--head", "segmentation",
            "--steps", "4", "--batch", "2", "--width", "4", "--device", "cpu"]
    assert run_cli(*args, "--curve-every", "2", "--json", tmp_path / "c.json").code == 0
    assert run_cli(*args, "--json", tmp_path / "plain.json").code == 0
    curve, plain = (json.loads((tmp_path / n).read_text()) for n in ("c.json", "plain.json"))
    assert [p["step"] for p in curve["curve"]] == [2, 4]
    assert curve["curve"][-1]["miou"] == curve["metrics"]["miou"]
    # scoring along the way must not change the training itself
    assert curve["metrics"] == plain["metrics"] and "curve" not in plain
    # its time is reported on its own, not as training time
    assert curve["seconds"]["curve"] > 0 and "curve" not in plain["seconds"]
