"""`dgan toy render`: outputs, splits, same bytes per seed, one-line errors."""
import json

import numpy as np
import pytest

from dgan_cli.cache import CacheReader
from dgan_cli.cli import main
from dgan_cli.labelled_folder import read_folder
from dgan_plugins.toy.render import KEYPOINT_NAMES, PART_CLASSES, render_batch


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_folder_output_matches_the_renderer(tmp_path):
    out = tmp_path / "set"
    assert main(["-q", "toy", "render", "--n", "5", "--seed", "40", "--resolution", "32", "--out", str(out),
                 "--json", str(tmp_path / "s.json")]) == 0
    ids, images, labels, names = read_folder(out)
    ref = render_batch(range(40, 45), 32)
    assert ids == ["000040", "000041", "000042", "000043", "000044"]
    assert np.array_equal(images, ref["images"])
    for kind in ("segmentation", "keypoints", "depth", "class"):
        assert np.array_equal(labels[kind], ref[kind]), kind
    assert names["segmentation"]["classes"] == list(PART_CLASSES)
    assert names["keypoints"]["names"] == list(KEYPOINT_NAMES)
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["n"] == 5 and sum(summary["class_counts"].values()) == 5
    assert summary["images_per_s"] > 0


def test_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        assert main(["-q", "toy", "render", "--n", "3", "--seed", "7", "--resolution", "24",
                     "--out", str(tmp_path / name)]) == 0
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_split_and_hdf5_output(tmp_path):
    out = tmp_path / "train.h5"
    assert main(["-q", "toy", "render", "--split", "train16", "--resolution", "16", "--out", str(out)]) == 0
    with CacheReader(out) as cache:
        assert cache.ids[0] == "000000" and len(cache.ids) == 16
        assert list(cache.seeds) == list(range(16))
        ref = render_batch(range(16), 16)
        assert np.array_equal(cache.images(), ref["images"])
        assert np.array_equal(cache.labels("segmentation"), ref["segmentation"].astype(np.int16))
        assert np.array_equal(cache.labels("class"), ref["class"])
        assert cache.label_schema("keypoints").attrs["names"] == list(KEYPOINT_NAMES)
        assert np.bincount(cache.labels("class")).tolist() == [4, 4, 4, 4]


@pytest.mark.parametrize("args, message", [
    (["--n", "0"], "--n must be at least 1"),
    (["--n", "2", "--seed", "-3"], "seeds must lie within"),
    (["--n", "2", "--resolution", "8"], "--resolution must be within 16..256"),
    (["--n", "2", "--resolution", "512"], "--resolution must be within 16..256"),
    (["--split", "nope"], "unknown --split 'nope'"),
    (["--split", "test", "--n", "3"], "give either --split or --n/--seed"),
    ([], "give --n"),
    (["--n", "2", "--format", "zip"], "unknown --format 'zip'"),
])
def test_bad_options_end_in_one_line(tmp_path, capsys, args, message):
    assert main(["-q", "toy", "render", *args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_unwritable_or_existing_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["-q", "toy", "render", "--n", "1", "--out", str(blocker / "sub")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["-q", "toy", "render", "--n", "1", "--resolution", "16", "--out", str(tmp_path / "o")]) == 0
    assert main(["-q", "toy", "render", "--n", "1", "--resolution", "16", "--out", str(tmp_path / "o")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["-q", "toy", "render", "--n", "2", "--resolution", "16", "--out", str(tmp_path / "o"),
                 "--overwrite"]) == 0
    assert len(read_folder(tmp_path / "o")[0]) == 2


def test_interrupted_hdf5_render_resumes(tmp_path):
    from dgan_plugins.toy import dataset

    out, provenance = tmp_path / "r.h5", {"seeds": [3, 40], "split": None, "resolution": 16}

    def stop_after_first_batch(n):
        if n == dataset.BATCH:
            raise KeyboardInterrupt

    sink = dataset.open_output(out, "hdf5", 16, provenance=provenance)
    with pytest.raises(KeyboardInterrupt):
        dataset.write(sink, range(3, 43), 16, advance=stop_after_first_batch)
    with pytest.raises(Exception, match="incomplete"):
        CacheReader(out)
    sink = dataset.open_output(out, "hdf5", 16, provenance=provenance)
    assert sink.done == dataset.BATCH
    summary = dataset.write(sink, range(3, 43), 16)
    assert summary["rendered"] == 40 - dataset.BATCH
    with CacheReader(out) as cache:
        assert np.array_equal(cache.images(), render_batch(range(3, 43), 16)["images"])
        assert list(cache.seeds) == list(range(3, 43))
