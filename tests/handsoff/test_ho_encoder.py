"""The latent encoder: starts at w_avg, beats it after training, resumes exactly, refuses other backbones."""
from __future__ import annotations

import json

import pytest
import torch
from ho_world import tiny_backbone

from dgan_cli.cache import CacheReader
from dgan_cli.errors import CheckpointError
from dgan_plugins.handsoff.encoder import LatentEncoder, encode, load_encoder
from dgan_plugins.handsoff.encoder_train import EncoderTrainConfig, EncoderTrainer
from dgan_plugins.handsoff.inversion import mean_w, render

SMALL = dict(batch=4, iterations=1, loss="pixel+msssim", width=8)


@pytest.fixture(autouse=True)
def no_bars():
    from dgan_cli.console import set_quiet

    set_quiet(True)
    yield
    set_quiet(False)


def test_an_untrained_encoder_returns_w_avg(world):
    backbone = world["backbone"]
    encoder = LatentEncoder(backbone.resolution, backbone.num_ws, backbone.w_dim, width=8)
    w_avg = mean_w(backbone)
    images = torch.rand(3, 3, 16, 16) * 2 - 1
    steps = encode(encoder, lambda ws: render(backbone, ws), images, w_avg, iterations=2)
    assert len(steps) == 2
    assert torch.equal(steps[-1], w_avg.expand(3, backbone.num_ws, backbone.w_dim))


def test_a_short_training_beats_the_w_avg_start_on_held_out_samples(world, tmp_path):
    trainer = EncoderTrainer(world["backbone"], tmp_path / "e.pt", EncoderTrainConfig(**{**SMALL, "batch": 8}))
    trainer.run(30)
    quality = trainer.validate()
    assert quality["encoder"]["latent_mse"] < 0.9 * quality["w_avg"]["latent_mse"]
    assert quality["encoder"]["psnr"] > quality["w_avg"]["psnr"] + 1.5


def test_resumed_training_equals_an_uninterrupted_run(world, tmp_path):
    config = EncoderTrainConfig(**SMALL)
    straight = EncoderTrainer(world["backbone"], tmp_path / "a.pt", config)
    straight.run(4)
    EncoderTrainer(world["backbone"], tmp_path / "b.pt", config).run(2)
    resumed = EncoderTrainer(world["backbone"], tmp_path / "b.pt", config)
    assert resumed.resumed_from == 2
    resumed.run(4)
    a, b = straight.encoder.state_dict(), resumed.encoder.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert load_encoder(tmp_path / "b.pt", world["backbone"].identity())[1]["step"] == 4


def test_encoder_cli_trains_resumes_and_refuses_other_options(world, run_cli, tmp_path):
    out, report = tmp_path / "enc.pt", tmp_path / "enc.json"
    args = ["-q", "encoder", "train", "--backbone", world["ckpt"], "--out", out, "--batch", "2",
            "--iterations", "1", "--loss", "pixel+msssim", "--width", "8"]
    first = run_cli(*args, "--steps", "2", "--json", report)
    assert first.code == 0, first.err
    assert json.loads(report.read_text())["steps"] == 2
    more = run_cli(*args, "--steps", "3", "--json", report)
    assert more.code == 0, more.err
    assert json.loads(report.read_text())["resumed_from"] == 2
    changed = run_cli(*args, "--steps", "4", "--lr", "0.01")
    assert changed.code == 2 and "other options (lr)" in changed.err
    assert len(changed.err.strip().splitlines()) == 1


def test_invert_starts_from_the_encoder_and_refuses_one_made_for_another_backbone(world, run_cli, tmp_path):
    from dgan_plugins.stylegan2.checkpoint import save_checkpoint

    encoder = tmp_path / "enc.pt"
    EncoderTrainer(world["backbone"], encoder, EncoderTrainConfig(**SMALL)).run(2)

    def invert(backbone, cache):
        return run_cli("-q", "invert", world["folder"], "--backbone", backbone, "--cache", cache,
                       "--encoder", encoder, "--steps", "0", "--loss", "pixel+msssim")

    ok = invert(world["ckpt"], tmp_path / "c.h5")
    assert ok.code == 0, ok.err
    with CacheReader(tmp_path / "c.h5") as reader:
        assert reader.provenance["job"]["encoder"]["iterations"] == 1
    other = save_checkpoint(tmp_path / "other.pt", tiny_backbone(seed=1).generator)
    refused = invert(other, tmp_path / "c2.h5")
    assert refused.code == 2 and "encoder trained for backbone stylegan2" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    with pytest.raises(CheckpointError, match="not a dgan encoder"):
        load_encoder(world["ckpt"], world["backbone"].identity())
