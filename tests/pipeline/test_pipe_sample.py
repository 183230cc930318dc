"""`dgan sample`: cache + annotator folder, determinism by seed, resume, bad input."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dgan_cli.cache import CacheReader
from dgan_cli.registry import discover

sys.path.insert(0, str(Path(__file__).parent))
from pipe_sample_standin import StandinBackbone, standin_registry  # noqa: E402


@pytest.fixture
def use_backbone(monkeypatch):
    """Install a registry whose 'standin' backbone is the given object; returns the registry."""
    def install(backbone: StandinBackbone):
        registry = standin_registry(backbone)
        monkeypatch.setattr("dgan_cli.registry._REGISTRY", registry)
        return registry
    return install


def sample(run_cli, registry, tmp_path, name, *extra):
    return run_cli("-q", "sample", "--backbone", "standin", "--cache", tmp_path / f"{name}.h5",
                   "--out", tmp_path / name, *extra, registry=registry)


def read_cache(path) -> dict:
    with CacheReader(path) as r:
        return {"ids": r.ids, "seeds": r.seeds, "images": r.images(), "z": r.latents("z"),
                "ws": r.latents("ws"), "features": {l.name: np.stack([r.features(i)[l.name] for i in range(r.n)])
                                                    for l in r.layers}, "provenance": r.provenance}


def assert_same_samples(a: dict, b: dict) -> None:
    assert a["ids"] == b["ids"]
    for key in ("seeds", "images", "z", "ws"):
        np.testing.assert_array_equal(a[key], b[key])
    for name in a["features"]:
        np.testing.assert_array_equal(a["features"][name], b["features"][name])


def test_sample_writes_cache_and_annotation_folder(run_cli, use_backbone, tmp_path):
    reg = use_backbone(StandinBackbone())
    result = sample(run_cli, reg, tmp_path, "s", "-n", "5", "--seed", "10", "--batch", "2",
                    "--json", tmp_path / "s.json")
    assert result.code == 0, result.err
    data = read_cache(tmp_path / "s.h5")
    assert data["ids"] == ["000010", "000011", "000012", "000013", "000014"]
    assert data["seeds"].tolist() == [10, 11, 12, 13, 14]
    assert data["z"].shape == (5, 8) and data["ws"].shape == (5, 3, 8)
    assert {k: v.shape for k, v in data["features"].items()} == {
        "b4.conv1": (5, 8, 4, 4), "b8.conv0": (5, 6, 8, 8), "b16.conv0": (5, 4, 16, 16)}
    assert all(v.dtype == np.float16 for v in data["features"].values())
    job = data["provenance"]["job"]
    assert job["truncation_psi"] == 0.7 and job["noise_mode"] == "const"
    assert data["provenance"]["backbone"]["name"] == "standin"

    index = json.loads((tmp_path / "s" / "samples.json").read_text())
    assert index["samples"]["000012"] == {"seed": 12, "index": 2, "image": "000012.png"}
    for i, sample_id in enumerate(data["ids"]):
        png = np.asarray(Image.open(tmp_path / "s" / f"{sample_id}.png"))
        np.testing.assert_array_equal(png, data["images"][i])
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["samples"] == 5 and summary["feature_dims"] == 18


def test_each_sample_depends_only_on_its_seed(run_cli, use_backbone, tmp_path):
    reg = use_backbone(StandinBackbone())
    assert sample(run_cli, reg, tmp_path, "a", "-n", "4", "--batch", "3").code == 0
    assert sample(run_cli, reg, tmp_path, "b", "-n", "4", "--batch", "3").code == 0
    assert sample(run_cli, reg, tmp_path, "c", "-n", "2", "--seed", "2", "--batch", "1").code == 0
    a, b, c = (read_cache(tmp_path / f"{x}.h5") for x in "abc")
    assert_same_samples(a, b)
    np.testing.assert_array_equal(a["images"][2:], c["images"])
    np.testing.assert_array_equal(a["ws"][2:], c["ws"])
    assert len({img.tobytes() for img in a["images"]}) == 4  # the samples differ


def test_interrupted_sample_resumes_to_the_same_cache(run_cli, use_backbone, tmp_path):
    reg = use_backbone(StandinBackbone())
    assert sample(run_cli, reg, tmp_path, "straight", "-n", "5", "--batch", "2").code == 0

    reg = use_backbone(StandinBackbone(fail_after=2))
    assert sample(run_cli, reg, tmp_path, "resumed", "-n", "5", "--batch", "2").code == 130
    with CacheReader(tmp_path / "resumed.h5", allow_incomplete=True) as r:
        assert not r.complete and r.n == 4
    reg = use_backbone(StandinBackbone())
    result = sample(run_cli, reg, tmp_path, "resumed", "-n", "5", "--batch", "2", "--json", tmp_path / "r.json")
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "r.json").read_text())["resumed_from"] == 4
    assert_same_samples(read_cache(tmp_path / "straight.h5"), read_cache(tmp_path / "resumed.h5"))

    # The same command on the finished cache only re-exports the folder.
    (tmp_path / "resumed" / "000003.png").unlink()
    assert sample(run_cli, reg, tmp_path, "resumed", "-n", "5", "--batch", "2").code == 0
    assert (tmp_path / "resumed" / "000003.png").exists()


@pytest.mark.parametrize("args, message", [
    (["-n", "0"], "-n must be at least 1"),
    (["--seed", "-1"], "seeds must lie in"),
    (["--layers", "b4.conv1,nope"], "unknown layer 'nope'"),
    (["--batch", "0"], "--batch must be at least 1"),
    (["--device", "tpu"], "--device must be"),
])
def test_bad_options_are_one_line_errors(run_cli, use_backbone, tmp_path, args, message):
    reg = use_backbone(StandinBackbone())
    result = sample(run_cli, reg, tmp_path, "bad", *args)
    assert result.code == 2 and message in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_finished_cache_of_another_job_is_refused(run_cli, use_backbone, tmp_path):
    reg = use_backbone(StandinBackbone())
    assert sample(run_cli, reg, tmp_path, "s", "-n", "2").code == 0
    result = sample(run_cli, reg, tmp_path, "s", "-n", "2", "--truncation", "0.5")
    assert result.code == 2 and "another job" in result.err
    result = run_cli("sample", "--backbone", tmp_path / "missing.pkl", "--cache", tmp_path / "x.h5",
                     "--out", tmp_path / "x", registry=reg)
    assert result.code == 2 and "no such file" in result.err
    (tmp_path / "taken").write_text("a file, not a folder")
    result = sample(run_cli, reg, tmp_path, "taken", "-n", "1")
    assert result.code == 2 and "cannot create the output folder" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_sample_from_a_stylegan2_checkpoint(run_cli, tmp_path):
    """The real path: a random-weight 16 px StyleGAN2 saved in dgan's format, found by content."""
    import torch

    from dgan_plugins.stylegan2.checkpoint import save_checkpoint
    from dgan_plugins.stylegan2.networks import Generator

    torch.manual_seed(0)
    generator = Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
                          mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 256, "channel_max": 16})
    ckpt = save_checkpoint(tmp_path / "g.pt", generator)
    reg = discover()
    for name in ("a", "b"):
        result = run_cli("-q", "sample", "--backbone", ckpt, "-n", "3", "--cache", tmp_path / f"{name}.h5",
                         "--out", tmp_path / name, "--layers", "b8.conv1,b16.conv0", registry=reg)
        assert result.code == 0, result.err
    a, b = read_cache(tmp_path / "a.h5"), read_cache(tmp_path / "b.h5")
    assert_same_samples(a, b)
    assert {k: v.shape[1:] for k, v in a["features"].items()} == {"b8.conv1": (16, 8, 8), "b16.conv0": (16, 16, 16)}
    assert a["provenance"]["backbone"]["name"] == "stylegan2"
    for sample_id in a["ids"]:
        assert (tmp_path / "a" / f"{sample_id}.png").read_bytes() == (tmp_path / "b" / f"{sample_id}.png").read_bytes()
