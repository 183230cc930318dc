"""`dgan train`: trains from a labelled cache, writes a loadable checkpoint, refuses bad input."""
import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interpreter"))
from interp_standin import make_cache, one_torch_thread, registry_with_standin, segmentation_cache  # noqa: E402,F401


@pytest.fixture(scope="module")
def seg_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("train") / "seg.h5"
    segmentation_cache(path, seeds=(1, 2))
    return path


@pytest.fixture
def registry(monkeypatch):
    reg = registry_with_standin()
    monkeypatch.setattr("dgan_cli.registry._REGISTRY", reg)
    return reg


def train(run_cli, registry, cache, out, *extra):
    return run_cli("-q", "train", "--cache", cache, "--head", "segmentation", "--out", out,
                   "--members", "2", "--iters", "10", "--pixels-per-image", "64", *extra, registry=registry)


def one_error_line(result) -> str:
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert result.code == 2 and len(lines) == 1, result.err
    assert "Traceback" not in result.err
    return lines[0]


def test_pipe_train_writes_checkpoint_table_and_json(run_cli, registry, seg_cache, tmp_path):
    res = train(run_cli, registry, seg_cache, tmp_path / "i.pt", "--json", tmp_path / "r.json",
                "--backbone", "standin", "--head-option", "balanced=true", "--head-option", "class_weights=class2:3",
                "--hidden", "16,8")
    assert res.code == 0, res.err
    assert "accuracy" in res.out and "final loss" in res.out
    summary = json.loads((tmp_path / "r.json").read_text())
    assert len(summary["members"]) == 2 and summary["hidden"] == [16, 8]
    assert summary["head_options"] == {"balanced": True, "class_weights": {"class2": 3.0}}
    assert summary["labelled_samples"] == 2
    assert all(0 <= m["metrics"]["accuracy"] <= 1 and m["iterations"] == 10 for m in summary["members"])
    from dgan_cli.interpreter import Interpreter

    interp = Interpreter.load(tmp_path / "i.pt")
    assert interp.head_name == "segmentation" and interp.head.balanced and len(interp.ensemble) == 2
    assert interp.head.class_weights == {"class2": 3.0}  # rebuilt from the checkpoint's config
    assert interp.label_names == ["class0", "class1", "class2"]
    assert interp.training["options"]["seed"] == 0 and interp.training["samples"] == ["000000", "000001"]
    assert torch.load(tmp_path / "i.pt", weights_only=True)["format"] == "dgan-interpreter"


def test_pipe_train_refuses_cache_of_another_backbone(run_cli, registry, seg_cache, tmp_path):
    line = one_error_line(train(run_cli, registry, seg_cache, tmp_path / "i.pt", "--backbone", "standin-other"))
    assert "made by backbone standin" in line
    assert not (tmp_path / "i.pt").exists()


@pytest.mark.parametrize("args, message", [
    (("--members", "0"), "--members must be at least 1"),
    (("--hidden", "12"), "--hidden expects two positive widths"),
    (("--head-option", "balanced"), "--head-option expects KEY=VALUE"),
    (("--head-option", "colour=red"), "head 'segmentation'"),
    (("--head-option", "class_weights=eyebrow:4"), "no class 'eyebrow' (classes: class0, class1, class2)"),
    (("--layers", "b4,nope"), "unknown layer 'nope'"),
    (("--device", "tpu"), "--device must be"),
])
def test_pipe_train_bad_options_exit_2_with_one_line(run_cli, registry, seg_cache, tmp_path, args, message):
    assert message in one_error_line(train(run_cli, registry, seg_cache, tmp_path / "i.pt", *args))


def test_pipe_train_bad_inputs_exit_2_with_one_line(run_cli, registry, seg_cache, tmp_path):
    assert "no such cache" in one_error_line(train(run_cli, registry, tmp_path / "none.h5", tmp_path / "i.pt"))
    (tmp_path / "junk.h5").write_bytes(b"junk")
    assert "not a readable HDF5 file" in one_error_line(train(run_cli, registry, tmp_path / "junk.h5", tmp_path / "i.pt"))
    res = run_cli("train", "--cache", seg_cache, "--head", "segmentaton", "--out", tmp_path / "i.pt", registry=registry)
    assert "unknown head 'segmentaton'" in one_error_line(res)
    make_cache(tmp_path / "unlabelled.h5", [1])
    assert "no 'segmentation' labels" in one_error_line(train(run_cli, registry, tmp_path / "unlabelled.h5",
                                                              tmp_path / "i.pt"))
