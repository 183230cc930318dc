"""HandsOff on the shipped `toy` backbone: its own samples invert back, the encoder beats the w_avg start,
rendered labels land on their pixels."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dgan_cli import load_backbone
from dgan_cli.cache import CacheReader
from dgan_cli.labelled_folder import read_folder
from dgan_plugins.handsoff.inversion import InversionConfig, invert_batch, mean_w, render
from dgan_plugins.handsoff.losses import ReconstructionLoss, psnr
from dgan_plugins.pipeline.sample import to_uint8


@pytest.fixture(scope="module")
def toy():
    return load_backbone("toy")


def test_inverting_toy_samples_recovers_them(toy):
    # One w per image (truncation 1), optimised in W: the samples are reachable exactly.
    seeds = [0, 1, 2]
    with torch.no_grad():
        target = render(toy, toy.sample(seeds, truncation_psi=1.0)["ws"])
    start = mean_w(toy).expand(len(seeds), toy.num_ws, toy.w_dim)
    loss = ReconstructionLoss("pixel+msssim", perceptual_weight=1.0)
    ws, _ = invert_batch(toy, target, start, loss, InversionConfig(steps=40, space="w", latent_weight=0))
    real = to_uint8(target)
    with torch.no_grad():
        before, after = psnr(real, to_uint8(render(toy, start))), psnr(real, to_uint8(render(toy, ws)))
    # Measured (session 9) on the step-49,500 weights: 14.7 / 12.2 / 14.6 dB at w_avg, 18.6 / 23.9 / 29.4
    # after 40 steps (36.4 / 33.1 / 38.1 after 200); the step-47,969 weights: 20.1 / 24.4 / 27.1 after 40.
    assert after.mean() > 20 and (after > before + 3).all(), (before, after)


def test_a_short_encoder_training_beats_the_w_avg_start(toy, tmp_path):
    from dgan_cli.console import set_quiet
    from dgan_plugins.handsoff.encoder_train import EncoderTrainConfig, EncoderTrainer

    set_quiet(True)
    try:
        trainer = EncoderTrainer(toy, tmp_path / "enc.pt",
                                 EncoderTrainConfig(batch=8, iterations=1, loss="pixel+msssim", width=8))
        trainer.run(30)
        quality = trainer.validate()  # held-out samples of the backbone
    finally:
        set_quiet(False)
    # Measured on the step-7099 weights: 14.7 dB against 12.1 dB from w_avg after 30 steps, 16.1 after 60.
    assert quality["encoder"]["psnr"] > quality["w_avg"]["psnr"] + 1.5, quality
    assert quality["encoder"]["latent_mse"] < quality["w_avg"]["latent_mse"], quality


def test_dgan_invert_carries_rendered_toy_labels_onto_their_pixels(run_cli, tmp_path):
    real = tmp_path / "real"
    assert run_cli("-q", "toy", "render", "--n", "2", "--seed", "100000", "--out", real).code == 0
    cache, report = tmp_path / "inv.h5", tmp_path / "inv.json"
    result = run_cli("-q", "invert", real, "--backbone", "toy", "--cache", cache, "--loss", "pixel+msssim",
                     "--steps", "3", "--batch", "2", "--json", report)
    assert result.code == 0, result.err
    _, images, labels, _ = read_folder(real)
    with CacheReader(cache) as reader:
        # 64px renders on a 64px generator: no resizing, so labels are copied pixel for pixel.
        assert np.array_equal(reader.labels("real_image"), images)
        assert np.array_equal(reader.labels("segmentation"), labels["segmentation"])
        assert np.allclose(reader.labels("keypoints"), labels["keypoints"])
        # the backdrop on the far plane (12) is no reading: unlabelled, the heads' depth copied
        backdrop = labels["depth"] >= 12.0
        assert 0 < backdrop.mean() < 1 and np.array_equal(np.isnan(reader.labels("depth")), backdrop)
        assert np.allclose(reader.labels("depth")[~backdrop], labels["depth"][~backdrop])
        assert reader.provenance["backbone"]["sha256"] == load_backbone("toy").identity()["sha256"]
    assert len(json.loads(report.read_text())["per_image"]) == 2
