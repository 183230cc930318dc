"""Inversion: recovering the backbone's own images, batching, best-latent keeping, `dgan invert` caches."""
from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
import torch
from ho_world import LABEL_NAMES, colour_labels, single_thread

from dgan_cli.cache import CacheReader
from dgan_cli.errors import CacheFormatError
from dgan_plugins.handsoff import inversion
from dgan_plugins.handsoff.inversion import InversionConfig, invert_batch, mean_w, render
from dgan_plugins.handsoff.losses import ReconstructionLoss, psnr
from dgan_plugins.handsoff.source import HandsOffSource
from dgan_plugins.pipeline.sample import to_uint8


def _targets(backbone, seeds):
    with torch.no_grad():
        ws = backbone.sample(list(seeds), truncation_psi=1.0)["ws"]
        return render(backbone, ws)


def _start(backbone, n):
    return mean_w(backbone).expand(n, backbone.num_ws, backbone.w_dim)


def test_inverting_the_backbones_own_images_recovers_them(world):
    # Targets made from one w per image (truncation 1): W-space optimisation can reach them exactly.
    backbone = world["backbone"]
    targets = _targets(backbone, [7, 8])
    start = _start(backbone, 2)
    loss = ReconstructionLoss("pixel+msssim", perceptual_weight=1.0)
    ws, best = invert_batch(backbone, targets, start, loss, InversionConfig(steps=120, space="w", latent_weight=0))
    real = to_uint8(targets)
    with torch.no_grad():
        before, after = psnr(real, to_uint8(render(backbone, start))), psnr(real, to_uint8(render(backbone, ws)))
    assert (before < 20).all()
    assert (after > 35).all(), after  # stated threshold: 35 dB after 120 steps on the tiny generator
    assert torch.allclose(ws, ws[:, :1].expand_as(ws))  # W space: one w for every layer


def test_batched_inversion_equals_inverting_one_by_one(world):
    backbone = world["backbone"]
    targets = _targets(backbone, [3, 4])
    start = _start(backbone, 2)
    loss = ReconstructionLoss("pixel+msssim")
    config = InversionConfig(steps=6)
    together, _ = invert_batch(backbone, targets, start, loss, config)
    alone = torch.cat([invert_batch(backbone, targets[i:i + 1], start[i:i + 1], loss, config)[0] for i in range(2)])
    # float32 kernels chosen per batch shape and CPU (AVX2, AVX-512) differ by ~1e-7 per op and six
    # optimiser steps grow that to 7.6e-5 (measured on an AVX-512 EPYC); one sample's gradient leaking
    # into another would move its latent by about the learning rate (0.1) per step.
    torch.testing.assert_close(together, alone, rtol=0, atol=1e-3)


def test_the_best_reconstruction_is_kept_when_the_optimiser_overshoots(world):
    backbone = world["backbone"]
    targets = _targets(backbone, [5, 6])
    start = _start(backbone, 2)
    loss = ReconstructionLoss("pixel+msssim")
    with torch.no_grad():
        initial = loss(render(backbone, start), targets)
    ws, best = invert_batch(backbone, targets, start, loss, InversionConfig(steps=8, peak_lr=50.0, rampup=0.5))
    with torch.no_grad():
        assert torch.allclose(loss(render(backbone, ws), targets), best, atol=1e-5)
    assert (best <= initial + 1e-6).all()


# -- dgan invert ----------------------------------------------------------------------
FAST = ["--loss", "pixel+msssim", "--space", "w", "--latent-weight", "0"]


@pytest.fixture(scope="module")
def inverted(world, tmp_path_factory):
    """A cache made by `dgan invert` of the world's folder (20 steps per image)."""
    from dgan_cli.cli import main

    out = tmp_path_factory.mktemp("inverted")
    cache, report = out / "inv.h5", out / "inv.json"
    with single_thread():
        code = main(["-q", "invert", str(world["folder"]), "--backbone", str(world["ckpt"]), "--cache", str(cache),
                     "--loss", "pixel+msssim", "--space", "w", "--steps", "20", "--batch", "4", "--json", str(report)])
    assert code == 0
    return cache, json.loads(report.read_text())


def test_invert_writes_latents_features_real_labels_and_scores(world, inverted):
    cache, report = inverted
    labels = colour_labels(world["images"])
    with CacheReader(cache) as reader:
        ids = reader.ids
        assert ids == ["000000", "000001", "000002", "000003", "000004", "000005"]
        assert reader.label_kinds == ["depth", "keypoints", "real_image", "segmentation"]
        assert reader.latents("ws").shape == (6, 6, 16)
        assert np.array_equal(reader.labels("real_image"), world["images"])
        seg = reader.labels("segmentation")
        assert seg.dtype == np.int16 and np.array_equal(seg, labels["segmentation"])
        assert np.allclose(reader.labels("depth"), labels["depth"])
        assert np.allclose(reader.labels("keypoints"), labels["keypoints"])
        assert (reader.seeds == -1).all()
        assert reader.provenance["backbone"]["sha256"] == world["backbone"].identity()["sha256"]
        with torch.no_grad():  # images and features are those of G at the stored latents
            images, feats = world["backbone"].synthesize(torch.from_numpy(reader.latents("ws")[:2]), ["b8.conv1"])
        assert np.array_equal(to_uint8(images), reader.images([0, 1]))
        stored = reader.features(1)["b8.conv1"].astype(np.float32)
        assert np.allclose(feats["b8.conv1"][1].numpy(), stored, atol=1e-2, rtol=1e-2)
        psnr_scores = reader.scores("psnr")
        assert np.allclose(psnr_scores, psnr(reader.labels("real_image"), reader.images()))
        assert np.isnan(reader.scores("lpips")).all()  # no LPIPS weights in this run's loss or cache
    assert [row["id"] for row in report["per_image"]] == ids
    assert report["mean"]["psnr"] == pytest.approx(float(np.mean(psnr_scores)), rel=1e-5)


def test_an_inverted_cache_trains_heads_through_dgan_train(world, inverted, run_cli, tmp_path):
    cache, _ = inverted
    for head in ("segmentation", "depth", "keypoints"):
        result = run_cli("-q", "train", "--cache", cache, "--head", head, "--out", tmp_path / f"{head}.pt",
                         "--members", "1", "--iters", "5", "--pixels-per-image", "32",
                         "--backbone", world["ckpt"])
        assert result.code == 0, result.err
        assert (tmp_path / f"{head}.pt").is_file()


def test_an_interrupted_invert_resumes_where_it_stopped(world, tmp_path, monkeypatch):
    calls = []
    real_invert = inversion.invert_batch

    def flaky(*args, **kwargs):
        calls.append(len(args[1]))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_invert(*args, **kwargs)

    monkeypatch.setattr(inversion, "invert_batch", flaky)
    source = HandsOffSource(loss="pixel+msssim", steps=3, batch=4)
    cache = tmp_path / "c.h5"
    with pytest.raises(KeyboardInterrupt):
        source.write(world["backbone"], world["folder"], cache)
    with pytest.raises(CacheFormatError, match="incomplete"):
        CacheReader(cache)
    with CacheReader(cache, allow_incomplete=True) as partial:
        first = partial.latents("ws")
    assert len(first) == 4
    calls.clear()
    source.write(world["backbone"], world["folder"], cache)
    assert calls == [2]  # only the last two images were inverted again
    monkeypatch.undo()
    source.write(world["backbone"], world["folder"], tmp_path / "straight.h5")
    with CacheReader(cache) as reader, CacheReader(tmp_path / "straight.h5") as straight:
        assert reader.n == 6 and np.array_equal(reader.latents("ws")[:4], first)
        assert np.array_equal(reader.latents("ws"), straight.latents("ws"))  # same bytes as a straight run
        assert np.array_equal(reader.features(5)["b16.conv1"], straight.features(5)["b16.conv1"])


def test_invert_crops_non_square_images_and_their_labels_alike(world, run_cli, tmp_path):
    from dgan_cli.labelled_folder import format_ids, write_folder

    wide = np.concatenate([world["images"][:2], world["images"][:2, :, :8]], axis=2)  # 16 x 24
    labels = colour_labels(wide)
    labels["keypoints"][:] = [[6.5, 3.5, 1], [2.0, 8.0, 1]]  # the second lies in the cropped margin
    folder = write_folder(tmp_path / "wide", format_ids(range(2)), wide, labels, LABEL_NAMES)
    cache = tmp_path / "wide.h5"
    result = run_cli("-q", "invert", folder, "--backbone", world["ckpt"], "--cache", cache, "--steps", "0", *FAST)
    assert result.code == 0, result.err
    with CacheReader(cache) as reader:
        assert np.array_equal(reader.labels("real_image"), wide[:, :, 4:20])
        assert np.array_equal(reader.labels("segmentation"), labels["segmentation"][:, :, 4:20])
        assert np.allclose(reader.labels("keypoints"), [[[2.5, 3.5, 1], [-2.0, 8.0, 0]]] * 2)
    refused = run_cli("-q", "invert", folder, "--backbone", world["ckpt"], "--cache", tmp_path / "r.h5",
                      "--resize", "refuse", *FAST)
    assert refused.code == 2 and "000000.png: 24x16 pixels" in refused.err
    assert not (tmp_path / "r.h5").exists()


def _one_line(result) -> str:
    lines = [line for line in result.err.strip().splitlines() if line.strip()]
    assert result.code == 2 and len(lines) == 1, result.err
    return lines[0]


def test_bad_inputs_end_in_one_line_and_write_nothing(world, run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    cache = tmp_path / "c.h5"
    base = ["-q", "invert", world["folder"], "--backbone", world["ckpt"], "--cache", cache]
    assert "--loss pixel+msssim" in _one_line(run_cli(*base, "--steps", "1"))  # default LPIPS-VGG, no weights
    assert "--labels" in _one_line(run_cli(*base, *FAST, "--labels", "segmentation,normals"))
    broken = tmp_path / "broken"
    shutil.copytree(world["folder"], broken)
    (broken / "images" / "000002.png").write_bytes(b"\x89PNG garbage")
    base[2] = broken
    assert "000002.png: not a readable image" in _one_line(run_cli(*base, *FAST))
    shutil.copy(world["folder"] / "images" / "000002.png", broken / "images" / "000002.png")
    (broken / "masks" / "000004.png").unlink()
    assert "000004.png: missing" in _one_line(run_cli(*base, *FAST))
    assert not cache.exists()


def test_a_cache_of_another_folder_is_not_resumed(world, tmp_path):
    cache = tmp_path / "c.h5"
    HandsOffSource(loss="pixel+msssim", steps=0).write(world["backbone"], world["folder"], cache)
    with h5py.File(cache, "r+") as h5:  # as if interrupted after the first batch
        h5.attrs["complete"] = False
    other = tmp_path / "other"
    shutil.copytree(world["folder"], other)
    shutil.copy(other / "images" / "000001.png", other / "images" / "000000.png")
    with pytest.raises(CacheFormatError, match="different job"):
        HandsOffSource(loss="pixel+msssim", steps=0).write(world["backbone"], other, cache)


def test_the_label_source_is_registered_and_its_plugin_imports_no_torch():
    import subprocess
    import sys

    from dgan_cli.registry import default_registry

    source = default_registry().get("label_source", "handsoff").build(loss="pixel+msssim", steps=0)
    assert isinstance(source, HandsOffSource)
    probe = "import sys, dgan_plugins.handsoff as p; p.dgan_commands(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "False"
