"""Whole training runs at 8px: outputs, exact resume, interruption, and user errors."""
from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import torch
from PIL import Image

from dgan_plugins.stylegan2.train.checkpoint import load_checkpoint
from dgan_plugins.stylegan2.train.run import train_backbone
from dgan_plugins.stylegan2.train.trainer import Trainer

TINY = dict(resolution=8, batch=4, channel_base=32, channel_max=8, z_dim=8, w_dim=8, mapping_layers=1,
            r1_every=2, pl_weight=1.0, ema_kimg=0.01, snapshot_every=2, log_every=1, device="cpu")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors on a shared 2-core machine: one thread avoids OpenMP spin-waits."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    return folder


def _options(data, **overrides):
    return {**TINY, "data": str(data), **overrides}


def _assert_same(a, b, where=""):
    assert type(a) is type(b), where
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_resumed_run_is_bit_identical_to_the_straight_run(tmp_path, image_folder):
    straight, split = tmp_path / "straight", tmp_path / "split"
    train_backbone(straight, _options(image_folder, steps=4))
    train_backbone(split, _options(image_folder, steps=2))
    summary = train_backbone(split, {"steps": 4}, resume=True)  # everything else from config.json
    assert summary["step"] == 4 and summary["images_seen"] == 16

    a = load_checkpoint(straight / "checkpoints" / "step-000004.pt")
    b = load_checkpoint(split / "latest.pt")
    for key in ("G", "G_ema", "D", "G_opt", "D_opt", "path_length", "step", "images_seen"):
        _assert_same(a[key], b[key], key)
    # The runs did train: weights moved, EMA differs from G, R1 and PL ran.
    fresh = Trainer(load_config(straight), torch.device("cpu"))
    assert not torch.equal(fresh.G.synthesis.b8.conv1.weight, a["G"]["synthesis.b8.conv1.weight"])
    assert not torch.equal(a["G"]["synthesis.b8.conv1.weight"], a["G_ema"]["synthesis.b8.conv1.weight"])

    def log(run):
        return [{k: v for k, v in json.loads(line).items() if k != "sec_per_step"}
                for line in (run / "metrics.jsonl").read_text().splitlines()]

    assert log(straight) == log(split)
    assert [r["step"] for r in log(split)] == [1, 2, 3, 4]
    assert log(split)[0]["r1"] is not None and log(split)[0]["pl"] is not None and log(split)[1]["r1"] is None


def load_config(run):
    from dgan_plugins.stylegan2.train.config import TrainConfig

    recorded = json.loads((run / "config.json").read_text())
    recorded.pop("format")
    return TrainConfig(**recorded)


def test_run_folder_holds_checkpoints_samples_and_a_loadable_generator(tmp_path, image_folder):
    import dgan_cli

    run = tmp_path / "run"
    train_backbone(run, _options(image_folder, steps=4, keep_checkpoints=1))
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000004.pt"]
    assert os.path.samefile(run / "latest.pt", run / "checkpoints" / "step-000004.pt") or \
        (run / "latest.pt").read_bytes() == (run / "checkpoints" / "step-000004.pt").read_bytes()
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-000002.png", "step-000004.png"]
    with Image.open(run / "samples" / "step-000004.png") as grid:
        assert grid.size == (8 * 8, 8 * 8)  # 64 images, 8 per row
    backbone = dgan_cli.load_backbone(str(run / "generator.pt"))
    ema = load_checkpoint(run / "latest.pt")["G_ema"]
    _assert_same({k: v for k, v in backbone.generator.state_dict().items()}, dict(ema))
    assert not list(run.rglob("*.tmp"))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_first_interrupt_finishes_the_step_and_checkpoints(tmp_path, image_folder, monkeypatch, signum):
    step = Trainer.step

    def interrupted_step(self, real):
        if self.step_count == 1:
            os.kill(os.getpid(), signum)  # arrives mid-step
        return step(self, real)

    monkeypatch.setattr(Trainer, "step", interrupted_step)
    # A shell starts background jobs with SIGINT ignored, and the trainer rightly leaves an
    # ignored signal alone: give the signal its usual handler for this test.
    handler_before = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
    outer = signal.signal(signum, handler_before)
    run = tmp_path / "run"
    try:
        with pytest.raises(KeyboardInterrupt):
            train_backbone(run, _options(image_folder, steps=10, snapshot_every=100))
        assert signal.getsignal(signum) is handler_before
    finally:
        signal.signal(signum, outer)
    assert load_checkpoint(run / "latest.pt")["step"] == 2


def test_a_run_stopped_before_its_first_snapshot_resumes_from_scratch_with_the_same_bytes(tmp_path, image_folder):
    run = tmp_path / "run"
    train_backbone(run, _options(image_folder, steps=1))
    first = load_checkpoint(run / "latest.pt")
    for path in [run / "latest.pt", *run.glob("checkpoints/*.pt")]:
        path.unlink()
    train_backbone(run, {}, resume=True)
    _assert_same(first["G"], load_checkpoint(run / "latest.pt")["G"])
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1


def test_a_diverged_loss_stops_the_run_and_keeps_the_last_checkpoint(tmp_path, image_folder, monkeypatch):
    from dgan_cli.errors import DganError

    step = Trainer.step

    def diverging_step(self, real):
        stats = step(self, real)
        if self.step_count == 3:
            stats["loss_D"] = torch.tensor(float("nan"))
        return stats

    monkeypatch.setattr(Trainer, "step", diverging_step)
    with pytest.raises(DganError, match="diverged at step 3 \\(loss_D is nan\\)"):
        train_backbone(tmp_path / "run", _options(image_folder, steps=4))
    assert load_checkpoint(tmp_path / "run" / "latest.pt")["step"] == 2


def test_toy_data_trains_from_the_renderer(tmp_path):
    pytest.importorskip("dgan_plugins.toy.render")
    summary = train_backbone(tmp_path / "toy", {**TINY, "data": "toy", "toy_images": 10, "steps": 1})
    assert summary["step"] == 1
    config = json.loads((tmp_path / "toy" / "config.json").read_text())
    assert config["data"] == "toy" and config["data_images"] == 10 and config["resolution"] == 8


# -- the CLI: user errors are one line and exit code 2 --------------------
def _cli_options(**overrides):
    flags = []
    for name, value in {**TINY, **overrides}.items():
        flags += [f"--{name.replace('_', '-')}", str(value)]
    return flags


def test_cli_trains_and_rejects_bad_input_with_one_line(run_cli, tmp_path, image_folder):
    run = tmp_path / "run"
    result = run_cli("-q", "backbone", "train", "--out", run, "--data", image_folder, *_cli_options(steps=2),
                     "--json", tmp_path / "summary.json")
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "summary.json").read_text())["step"] == 2

    def error(*args):
        result = run_cli("-q", "backbone", "train", *[str(a) for a in args])
        assert result.code == 2 and "Traceback" not in result.err
        assert len(result.err.strip().splitlines()) == 1, result.err
        return result.err

    assert "already holds a training run" in error("--out", run, "--data", image_folder)
    assert "started with --lr 0.0025, not 0.01" in error("--out", run, "--resume", "--steps", "4", "--lr", "0.01")
    assert "--data is required" in error("--out", tmp_path / "nothing", "--resume")  # empty: a new run
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "notes.txt").write_text("x")
    assert "no training run to resume" in error("--out", tmp_path / "stray", "--resume")
    assert "image folder not found" in error("--out", tmp_path / "r2", "--data", tmp_path / "missing")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(image_folder / "big.png")
    assert "images differ in size" in error("--out", tmp_path / "r3", "--data", image_folder)
    (image_folder / "big.png").write_bytes(b"not an image")
    assert "unreadable image" in error("--out", tmp_path / "r4", "--data", image_folder)
    (image_folder / "big.png").unlink()
    (image_folder / "00.png").unlink()
    assert "started with 6 images of 8px" in error("--out", run, "--resume", "--steps", "4")
    assert not (tmp_path / "r2").exists()


def test_toy_training_images_avoid_the_labelled_splits():
    from dgan_plugins.toy import ToyImages
    from dgan_plugins.toy.dataset import GAN_SEED_START, split_seeds
    from dgan_plugins.toy.render import render_batch

    pool = ToyImages(3, 16)
    np.testing.assert_array_equal(pool.batch([2]), render_batch([GAN_SEED_START + 2], 16)["images"])
    assert all(max(split_seeds(name)) < GAN_SEED_START for name in ("train16", "test", "full"))


def test_data_sources_are_registered_components(monkeypatch):
    """`--data NAME` opens a registered data source; the trainer never imports the toy plugin itself."""
    from pathlib import Path

    from dgan_cli import registry as registry_module
    from dgan_cli.specs import DataSourceSpec
    from dgan_plugins.stylegan2.train import run

    reg = registry_module.default_registry()
    assert "toy" in reg.names("data_source")
    opened = []
    spec = DataSourceSpec(name="stripes", summary="s",
                          open=lambda resolution, count: opened.append((resolution, count)) or "dataset")
    monkeypatch.setitem(reg._components["data_source"], "stripes", registry_module.Component(spec, "test"))
    assert run._open_source("stripes", 8, None) == "dataset" and opened == [(8, None)]
    assert "dgan_plugins.toy" not in Path(run.__file__).read_text()
