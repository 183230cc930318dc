"""The HDF5 cache: round trip, crash + resume, refusal of bad files, features on demand."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dgan_cli.cache import CacheReader, CacheSpec, CacheWriter, LabelSchema
from dgan_cli.cache import pixels
from dgan_cli.errors import CacheFormatError

sys.path.insert(0, str(Path(__file__).parent))
import cache_writer_job as job  # noqa: E402

JOB = Path(job.__file__)


def read_all(path) -> dict:
    with CacheReader(path) as r:
        return {"ids": r.ids, "seeds": r.seeds, "images": r.images(), "ws": r.latents("ws"),
                "features": [r.features(i) for i in range(r.n)], "labels": r.labels("segmentation"),
                "labelled": r.labelled("segmentation")}


def assert_same(a: dict, b: dict) -> None:
    assert a["ids"] == b["ids"]
    for key in ("seeds", "images", "ws", "labels", "labelled"):
        np.testing.assert_array_equal(a[key], b[key])
    for fa, fb in zip(a["features"], b["features"]):
        for name in fa:
            np.testing.assert_array_equal(fa[name], fb[name])


def test_round_trip(tmp_path):
    path = tmp_path / "c.h5"
    job.run(str(path), batches=3, pause=0)
    data = read_all(path)
    assert data["ids"] == [f"{i:06d}" for i in range(6)]
    np.testing.assert_array_equal(data["images"][2:4], job.batch(1)["images"])
    assert data["features"][5]["b8.conv0"].dtype == np.float16
    assert data["features"][5]["b8.conv0"].shape == (3, 8, 8)  # native resolution, never upsampled
    with CacheReader(path) as r:
        assert r.provenance["backbone"]["sha256"] == "00ff" and "dgan_version" in r.provenance
        assert r.label_schema("segmentation").attrs == {"classes": ["a", "b", "c"]}
        np.testing.assert_array_equal(r.images([5, 0]), data["images"][[5, 0]])


def test_resume_after_killed_writer_matches_uninterrupted(tmp_path):
    straight, crashed = tmp_path / "straight.h5", tmp_path / "crashed.h5"
    job.run(str(straight), batches=6, pause=0)
    proc = subprocess.Popen([sys.executable, str(JOB), str(crashed), "6", "0.3"],
                            stdout=subprocess.PIPE, text=True)
    for _ in range(2):
        assert proc.stdout.readline().startswith("committed")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with pytest.raises(CacheFormatError, match="incomplete cache"):
        CacheReader(crashed)
    with CacheReader(crashed, allow_incomplete=True) as r:
        assert 4 <= r.n < 12
    job.run(str(crashed), batches=6, pause=0)
    assert_same(read_all(straight), read_all(crashed))


def test_resume_refuses_another_job_and_complete_cache(tmp_path):
    path = tmp_path / "c.h5"
    writer = CacheWriter.open(path, job.SPEC)
    writer.append(**{k: v for k, v in job.batch(0).items() if k != "labels"})
    writer.close()
    other = CacheSpec(job.SPEC.image_shape, job.SPEC.layers, job.SPEC.latents,
                      provenance={"backbone": {"name": "fake", "sha256": "beef"}, "seed": 7})
    with pytest.raises(CacheFormatError, match="different job"):
        CacheWriter.open(path, other)
    CacheWriter.open(path, job.SPEC).finish()
    with pytest.raises(CacheFormatError, match="already a complete cache"):
        CacheWriter.open(path, job.SPEC)


def test_refuses_foreign_truncated_and_other_version_files(tmp_path):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(CacheFormatError, match="not a dgan cache"):
        CacheReader(foreign)
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(CacheFormatError, match="not a readable HDF5 file"):
        CacheReader(text)
    good = tmp_path / "good.h5"
    job.run(str(good), batches=2, pause=0)
    truncated = tmp_path / "truncated.h5"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CacheFormatError):
        read_all(truncated)
    newer = tmp_path / "newer.h5"
    shutil.copy(good, newer)
    with h5py.File(newer, "r+") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(CacheFormatError, match="format v99"):
        CacheReader(newer)
    damaged = tmp_path / "damaged.h5"
    shutil.copy(good, damaged)
    with h5py.File(damaged, "r+") as f:
        del f.attrs["committed"]
    with pytest.raises(CacheFormatError, match="damaged"):
        CacheReader(damaged)


def test_labels_added_later_and_schema_conflict(tmp_path):
    path = tmp_path / "c.h5"
    writer = CacheWriter.open(path, job.SPEC)
    for i in range(2):
        writer.append(**{k: v for k, v in job.batch(i).items() if k != "labels"})
    writer.finish()
    editor = CacheWriter.edit(path)
    schema = LabelSchema((16, 16), "float32", float("nan"), {"unit": "m"})
    editor.declare_labels("depth", schema)
    editor.set_labels("depth", [2], np.ones((1, 16, 16)))
    with pytest.raises(CacheFormatError, match="another schema"):
        editor.declare_labels("depth", LabelSchema((16, 16), "float32", 0.0))
    editor.close()
    with CacheReader(path) as r:
        assert list(r.labelled("depth")) == [2]
        assert np.isnan(r.labels("depth", [0])).all() and (r.labels("depth", [2]) == 1).all()


@pytest.mark.parametrize("in_size,out_size", [(4, 16), (8, 16), (16, 16), (5, 12)])
def test_pixel_features_equal_full_upsampling(in_size, out_size):
    rng = np.random.default_rng(in_size)
    fmap = rng.normal(size=(7, in_size, in_size)).astype(np.float16)
    full = F.interpolate(torch.from_numpy(fmap.astype(np.float32))[None], size=(out_size, out_size),
                         mode="bilinear", align_corners=False)[0].numpy()
    ys, xs = rng.integers(0, out_size, 50), rng.integers(0, out_size, 50)
    np.testing.assert_allclose(pixels.sample_points(fmap, ys, xs, (out_size, out_size)),
                               full[:, ys, xs].T, atol=1e-5)
    np.testing.assert_allclose(pixels.sample_tile(fmap, (out_size, out_size), 1, out_size - 2, 3, out_size),
                               full[:, 1:out_size - 2, 3:], atol=1e-5)


def test_reader_pixel_and_tile_features_concatenate_layers(tmp_path):
    path = tmp_path / "c.h5"
    job.run(str(path), batches=1, pause=0)
    with CacheReader(path) as r:
        maps = r.features(1)
        full = torch.cat([F.interpolate(torch.from_numpy(m.astype(np.float32))[None], size=(16, 16),
                                        mode="bilinear", align_corners=False)[0] for m in maps.values()]).numpy()
        ys, xs = np.array([0, 7, 15]), np.array([15, 3, 0])
        # fp16 storage: compare against the upsampled stored values, within fp16 tolerance of the inputs
        np.testing.assert_allclose(r.pixel_features(1, ys, xs), full[:, ys, xs].T, atol=1e-3)
        np.testing.assert_allclose(r.tile_features(1, 0, 16, 0, 16), full, atol=1e-3)
        assert r.pixel_features(1, ys, xs).shape == (3, 9)


def test_cache_info_and_validate_commands(run_cli, tmp_path):
    path = tmp_path / "c.h5"
    job.run(str(path), batches=2, pause=0)
    result = run_cli("cache", "info", path, "--json", tmp_path / "info.json")
    assert result.code == 0, result.err
    info = json.loads((tmp_path / "info.json").read_text())
    assert info["samples"] == 4 and info["pixel_feature_dims"] == 9
    assert info["labels"]["segmentation"]["labelled"] == 4
    result = run_cli("cache", "validate", path, "--json", tmp_path / "v.json")
    assert result.code == 0 and json.loads((tmp_path / "v.json").read_text())["ok"] is True
    with h5py.File(path, "r+") as f:
        f["features/b8.conv0"][1, 0, 0, 0] = np.nan
    result = run_cli("cache", "validate", path)
    assert result.code == 2 and "non-finite features in sample 1, layer b8.conv0" in result.err
