"""`dgan show`: contact sheets of the expected size, overlays where the labels are."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from dgan_cli.cache import CacheSpec, CacheWriter, LabelSchema
from dgan_cli.registry import discover
from dgan_plugins.pipeline.show import CAPTION, GAP, MISSING

H, W = 6, 10
PALETTE = [[0, 0, 0], [255, 0, 0], [0, 255, 0]]


@pytest.fixture
def registry():
    return discover()


def make_cache(path, n=5, real=False):
    """n samples; sample 3 has all three label kinds, sample 1 only a segmentation."""
    writer = CacheWriter.open(path, CacheSpec(image_shape=(H, W, 3)))
    images = np.full((n, H, W, 3), 100, np.uint8)
    writer.append(images=images, ids=[f"{i:06d}" for i in range(n)])
    writer.declare_labels("segmentation", LabelSchema((H, W), "int16", -1, {"names": ["bg", "a", "b"]}))
    writer.declare_labels("keypoints", LabelSchema((2, 3), "float32", 0, {"names": ["p", "q"]}))
    writer.declare_labels("depth", LabelSchema((H, W), "float32", float("nan")))
    mask = np.zeros((H, W), np.int16)
    mask[:, 5:] = 2
    writer.set_labels("segmentation", [1, 3], np.stack([mask, mask]))
    writer.set_labels("keypoints", [3], np.array([[[2.5, 2.5, 1], [7.5, 3.5, 0]]], np.float32))
    writer.set_labels("depth", [3], np.tile(np.linspace(1, 2, W, dtype=np.float32), (1, H, 1)))
    if real:  # as an inverted cache stores the real images it reconstructs
        writer.declare_labels("real_image", LabelSchema((H, W, 3), "uint8", 0))
        writer.set_labels("real_image", range(n), np.full((n, H, W, 3), 200, np.uint8))
    writer.finish()
    return path


def sheet_size(panels, columns, rows, scale):
    return (columns * (panels * W * scale + (panels - 1) * GAP) + (columns + 1) * GAP,
            rows * (H * scale + CAPTION) + (rows + 1) * GAP)


def panel(sheet, cell, p, panels, columns, scale):
    """Pixels of panel p of cell `cell`, as the sheet layout places them."""
    cell_w = panels * W * scale + (panels - 1) * GAP
    x0 = GAP + (cell % columns) * (cell_w + GAP) + p * (W * scale + GAP)
    y0 = GAP + (cell // columns) * (H * scale + CAPTION + GAP)
    return sheet[y0:y0 + H * scale, x0:x0 + W * scale]


def test_cache_sheet_size_and_overlays(run_cli, registry, tmp_path):
    cache = make_cache(tmp_path / "c.h5")
    out = tmp_path / "grid.png"
    result = run_cli("show", cache, "--out", out, "-n", "3", "--columns", "2", "--scale", "3",
                     "--labels", _labels(tmp_path), "--json", tmp_path / "s.json", registry=registry)
    assert result.code == 0, result.err
    sheet = np.asarray(Image.open(out).convert("RGB"))
    panels = 4  # image, segmentation, keypoints, depth
    assert (sheet.shape[1], sheet.shape[0]) == sheet_size(panels, 2, 2, 3)
    shown = json.loads((tmp_path / "s.json").read_text())
    assert shown["ids"] == ["000001", "000003", "000000"]  # labelled samples first
    assert shown["panels"] == ["image", "segmentation", "keypoints", "depth"]

    seg = panel(sheet, 1, 1, panels, 2, 3)  # sample 3's segmentation panel
    np.testing.assert_array_equal(seg[0, 0], [40, 40, 40])  # 0.4 * 100 + 0.6 * black (class 0)
    np.testing.assert_array_equal(seg[0, -1], [40, 193, 40])  # class 2 in the LABELS palette (green)
    assert (panel(sheet, 0, 2, panels, 2, 3) == MISSING).all()  # sample 1 has no keypoints
    keypoints = panel(sheet, 1, 2, panels, 2, 3)
    assert (keypoints != 100).any(axis=-1).sum() > 0  # something was drawn over the plain image
    depth = panel(sheet, 1, 3, panels, 2, 3)
    assert depth[0, 0].sum() > depth[0, -1].sum()  # near (small depth) is brighter
    assert (panel(sheet, 2, 0, panels, 2, 3) == 100).all()  # unlabelled sample 0: plain image


def test_inverted_cache_shows_real_next_to_reconstruction(run_cli, registry, tmp_path):
    cache = make_cache(tmp_path / "inv.h5", real=True)
    out = tmp_path / "inv.png"
    assert run_cli("show", cache, "--out", out, "-n", "2", "--scale", "1", registry=registry).code == 0
    sheet = np.asarray(Image.open(out).convert("RGB"))
    panels = 5  # real, reconstruction, segmentation, keypoints, depth
    assert (sheet.shape[1], sheet.shape[0]) == sheet_size(panels, 2, 1, 1)
    assert (panel(sheet, 0, 0, panels, 2, 1) == 200).all() and (panel(sheet, 0, 1, panels, 2, 1) == 100).all()


def test_default_scale_and_bad_input(run_cli, registry, tmp_path):
    cache = make_cache(tmp_path / "c.h5")
    out = tmp_path / "one.png"
    assert run_cli("show", cache, "--out", out, "-n", "1", registry=registry).code == 0
    assert Image.open(out).size == sheet_size(4, 1, 1, 13)  # panels at least 128 px: 10 px * 13
    for args, message in ((["--n", "0"], "--n must be at least 1"), (["--columns", "0"], "--columns"),
                          (["--out", tmp_path / "x.jpg"], "must be a .png")):
        extra = args if "--out" in args else ["--out", out, *args]
        result = run_cli("show", cache, *extra, registry=registry)
        assert result.code == 2 and message in result.err and len(result.err.strip().splitlines()) == 1
    result = run_cli("show", tmp_path / "missing.h5", "--out", out, registry=registry)
    assert result.code == 2 and "no such cache or folder" in result.err
    (tmp_path / "empty").mkdir()
    result = run_cli("show", tmp_path / "empty", "--out", out, registry=registry)
    assert result.code == 2 and "neither a labelled folder" in result.err


def _labels(tmp_path):
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"segmentation": {"classes": ["bg", "a", "b"], "palette": PALETTE},
                                "keypoints": {"names": ["p", "q"], "skeleton": [[0, 1]]}}))
    return path


def test_labelled_folder_sheet(run_cli, registry, tmp_path):
    from dgan_cli.labelled_folder import write_folder

    rng = np.random.default_rng(0)
    labels = {"segmentation": rng.integers(0, 3, (3, H, W)).astype(np.uint8),
              "keypoints": np.zeros((3, 2, 3), np.float32), "depth": np.ones((3, H, W), np.float32),
              "class": np.array([0, 1, 1])}
    names = {"segmentation": {"classes": ["bg", "a", "b"], "palette": PALETTE},
             "keypoints": {"names": ["p", "q"]}, "depth": {"unit": "m"}, "class": {"names": ["cat", "dog"]}}
    folder = write_folder(tmp_path / "folder", ["000000", "000001", "000002"],
                          np.full((3, H, W, 3), 100, np.uint8), labels, names)
    out = tmp_path / "f.png"
    result = run_cli("show", folder, "--out", out, "--columns", "3", "--scale", "2", "--json", tmp_path / "f.json",
                     registry=registry)
    assert result.code == 0, result.err
    assert Image.open(out).size == sheet_size(4, 3, 1, 2)
    sheet = np.asarray(Image.open(out).convert("RGB"))
    seg = panel(sheet, 0, 1, 4, 3, 2)[::2, ::2]
    expected = (0.4 * 100 + 0.6 * np.asarray(PALETTE)[labels["segmentation"][0]]).round()
    np.testing.assert_array_equal(seg, expected)
    assert json.loads((tmp_path / "f.json").read_text())["panels"] == ["image", "segmentation", "keypoints", "depth"]


def test_synth_output_folder_shows_its_kept_samples(run_cli, registry, tmp_path):
    synth = tmp_path / "synth"
    synth.mkdir()
    make_cache(synth / "dataset.h5", n=4)
    make_cache(synth / "synth.h5", n=5)  # every sample, dropped ones too: not what a person wants to see
    result = run_cli("show", synth, "--out", tmp_path / "g.png", "--json", tmp_path / "s.json", registry=registry)
    assert result.code == 0, result.err
    assert len(json.loads((tmp_path / "s.json").read_text())["ids"]) == 4
