"""`dgan invert --format NAME` reads real images' labels through a registered annotation format."""
from __future__ import annotations

import json

import numpy as np
from ho_world import colour_labels

from dgan_cli.cache import CacheReader


def test_invert_reads_labels_through_a_registered_format(world, run_cli, tmp_path):
    cache = tmp_path / "inv.h5"
    folder = world["folder"]  # images/ + masks/ + labels.json: png-masks reads masks/ by name
    result = run_cli("-q", "invert", folder, "--backbone", world["ckpt"], "--cache", cache, "--format", "png-masks",
                     "--label-names", folder / "labels.json", "--steps", "0", "--loss", "pixel+msssim")
    assert result.code == 0, result.err
    with CacheReader(cache) as reader:
        assert reader.label_kinds == ["real_image", "segmentation"]
        assert np.array_equal(reader.labels("segmentation"), colour_labels(world["images"])["segmentation"])
        classes = json.loads((folder / "labels.json").read_text())["segmentation"]["classes"]
        assert reader.label_schema("segmentation").attrs["names"] == classes


def test_invert_format_errors_are_one_line(world, run_cli, tmp_path):
    base = ["-q", "invert", world["folder"], "--backbone", world["ckpt"], "--cache", tmp_path / "x.h5", "--steps", "0"]
    result = run_cli(*base, "--format", "png-mask")
    assert result.code == 2 and "unknown annotation format 'png-mask'" in result.err
    result = run_cli(*base, "--format", "png-masks")
    assert result.code == 2 and "needs --labels" in result.err
    result = run_cli(*base, "--format-option", "a=b")
    assert result.code == 2 and "go with --format NAME" in result.err
    assert not (tmp_path / "x.h5").exists()
