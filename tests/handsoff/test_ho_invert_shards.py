"""`dgan invert --shard I/N`: each part inverts its share of the images; the joined cache equals one process's."""
from __future__ import annotations

import json

import h5py

FAST = ("--loss", "pixel+msssim", "--steps", "3", "--batch", "2")


def _rows(path) -> dict:
    """Every dataset's bytes (strings as a list)."""
    rows = {}

    def add(name, obj):
        if isinstance(obj, h5py.Dataset):
            rows[name] = obj[:].tolist() if obj.dtype.kind == "O" else obj[:].tobytes()

    with h5py.File(path, "r") as h5:
        h5.visititems(add)
    return rows


def test_invert_shards_joined_equal_one_process(world, run_cli, tmp_path):
    def invert(cache, *extra):
        return run_cli("-q", "invert", world["folder"], "--backbone", world["ckpt"], "--cache", cache, *FAST, *extra)

    assert invert(tmp_path / "one.h5").code == 0
    split = tmp_path / "split.h5"
    for index in (1, 0):
        result = invert(split, "--shard", f"{index}/2")
        assert result.code == 0 and f"shard {index} of 2 is complete" in result.out, result.err
    result = invert(split, "--json", tmp_path / "s.json")
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "s.json").read_text())["joined_shards"] == 2
    assert _rows(tmp_path / "one.h5") == _rows(split)  # ids, latents, features, labels, quality scores: same bytes
