"""A DatasetGAN release training folder, made from a small StyleGAN1, imported, trained on and
synthesized from through the CLI; and the folders the import must refuse."""
import json

import h5py
import numpy as np
import pytest

from dgan_cli.cache import CacheReader
from dgan_plugins.stylegan1.backbone import load_backbone_file
from sg1_helpers import release_state, save_release, write_release_folder

N = 4


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """(generator .pt with the release's average latent, training folder) at 128 px."""
    root = tmp_path_factory.mktemp("release")
    src = save_release(root / "karras2019stylegan-toy-128x128.for_g_all.pt", release_state(128))
    folder = write_release_folder(root / "toy_processed", load_backbone_file(src), N)
    from dgan_cli.cli import main

    assert main(["-q", "backbone", "convert", str(src), str(root / "g.pt"),
                 "--option", f"avg_latent={folder / 'avg_latent_stylegan1.npy'}"]) == 0
    (root / "labels.json").write_text(json.dumps({"segmentation": {"classes": [f"part{i}" for i in range(5)]}}))
    return root, folder


def test_import_train_synth_end_to_end(release, tmp_path, run_cli):
    root, folder = release
    cache = tmp_path / "train.h5"
    res = run_cli("-q", "annotate-import", folder, "--format", "datasetgan-release", "--backbone", root / "g.pt",
                  "--cache", cache, "--labels", root / "labels.json", "--json", tmp_path / "imp.json")
    assert res.code == 0, res.err
    summary = json.loads((tmp_path / "imp.json").read_text())["imported"]
    assert summary["samples"] == N and min(summary["psnr_db"]) > 20 and summary["feature_dims"] == 112
    assert summary["pixels"]["part1"] == 0  # the 4-pixel speck is cleared as the release does
    backbone = load_backbone_file(root / "g.pt")
    z = np.load(folder / "latent_stylegan1.npy")
    with CacheReader(cache) as reader:
        assert reader.ids == [f"image_{i}" for i in range(N)] and reader.image_hw == (128, 128)
        assert reader.backbone["sha256"] == backbone.identity()["sha256"]
        assert np.array_equal(reader.latents("z"), z.astype(np.float32))
        ws = backbone.map_z(z[2:3], 0.7)
        # The import's own latents: w+ of the release's z, to float32 kernels' precision.
        assert np.allclose(reader.latents("ws", [2])[0], ws[0].numpy(), rtol=1e-5, atol=1e-5)
        _, feats = backbone.synthesize(ws, layers=["b128.conv1"])
        stored = reader.features(2, ["b128.conv1"])["b128.conv1"].astype(np.float32)
        assert np.allclose(stored, feats["b128.conv1"][0].numpy(), rtol=2e-3, atol=2e-3)  # stored as float16
        labels = reader.labels("segmentation")
    mask = np.load(folder / "image_mask1.npy")[0]
    mask[mask == 1] = 0
    assert np.array_equal(labels[1], mask.astype(np.int16))

    interp = tmp_path / "seg.pt"
    res = run_cli("-q", "train", "--cache", cache, "--head", "segmentation", "--out", interp, "--members", "2",
                  "--iters", "20", "--pixels-per-image", "256")
    assert res.code == 0, res.err
    res = run_cli("-q", "synth", "--backbone", root / "g.pt", "--interpreter", interp, "-n", "3",
                  "--out", tmp_path / "synth", "--drop", "0.34", "--json", tmp_path / "synth.json")
    assert res.code == 0, res.err
    with h5py.File(tmp_path / "synth" / "dataset.h5", "r") as h5:
        assert h5["images"].shape == (2, 128, 128, 3) and h5["labels/segmentation/values"].shape == (2, 128, 128)


def test_the_experiment_json_gives_class_names_and_checks_dims(release, tmp_path, run_cli):
    root, folder = release
    exp = {"number_class": 5, "max_training": 2, "dim": [128, 128, 112]}
    (tmp_path / "toy_5.json").write_text(json.dumps(exp))
    res = run_cli("-q", "annotate-import", folder, "--format", "datasetgan-release", "--backbone", root / "g.pt",
                  "--cache", tmp_path / "c.h5", "--experiment", tmp_path / "toy_5.json")
    assert res.code == 0, res.err
    with CacheReader(tmp_path / "c.h5") as reader:
        assert len(reader.ids) == 2
        assert reader.label_schema("segmentation").attrs["names"] == [f"class-{i}" for i in range(5)]
    (tmp_path / "toy_5.json").write_text(json.dumps({**exp, "dim": [512, 512, 5088]}))
    res = run_cli("annotate-import", folder, "--format", "datasetgan-release", "--backbone", root / "g.pt",
                  "--cache", tmp_path / "d.h5", "--experiment", tmp_path / "toy_5.json")
    assert res.code == 2 and "uses 5088 feature dims, this generator has 112" in res.err


def test_refusals_leave_no_cache(release, tmp_path, run_cli):
    root, folder = release
    shifted = write_release_folder(tmp_path / "shifted", load_backbone_file(root / "g.pt"), 2, latent_shift=1)
    args = ["--format", "datasetgan-release", "--cache", tmp_path / "c.h5", "--labels", root / "labels.json"]
    res = run_cli("-q", "annotate-import", shifted, "--backbone", root / "g.pt", *args)
    assert res.code == 2 and "image_0.jpg: the generator re-renders it at" in res.err, res.err
    assert len(res.err.strip().splitlines()) == 1
    res = run_cli("annotate-import", folder, "--backbone", root / "karras2019stylegan-toy-128x128.for_g_all.pt", *args)
    assert res.code == 2 and "average latent is not this one" in res.err and "--option avg_latent=" in res.err
    res = run_cli("annotate-import", folder, "--backbone", "toy", *args)
    assert res.code == 2 and "must be a stylegan1 checkpoint" in res.err
    np.save(tmp_path / "bad_mask.npy", np.full((1, 128, 128), 7, np.uint8))
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("image_0.jpg", "latent_stylegan1.npy", "avg_latent_stylegan1.npy"):
        (bad / name).write_bytes((folder / name).read_bytes())
    (bad / "image_mask0.npy").write_bytes((tmp_path / "bad_mask.npy").read_bytes())
    res = run_cli("annotate-import", bad, "--backbone", root / "g.pt", *args)
    assert res.code == 2 and "image_mask0.npy: class 7 outside 0..4" in res.err
    res = run_cli("annotate-import", folder, "--backbone", root / "g.pt", "--format", "datasetgan-release",
                  "--cache", tmp_path / "c.h5")
    assert res.code == 2 and "needs --labels or --experiment" in res.err
    assert not (tmp_path / "c.h5").exists()
