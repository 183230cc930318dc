"""`dgan toy train-annotator` and `dgan toy annotate`: the folder imports through `dgan annotate-import`."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from dgan_cli.cache import CacheReader
from dgan_cli.cli import main
from dgan_plugins.toy.annotator import load_annotator

SEEDS = ["-n", "3", "--seed", "5"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random 16 px generator and an annotator trained for one step at 16 px."""
    from dgan_plugins.stylegan2.checkpoint import save_checkpoint
    from dgan_plugins.stylegan2.networks import Generator

    root = tmp_path_factory.mktemp("annot")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        generator = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3,
                              mapping_kwargs=dict(num_layers=1),
                              synthesis_kwargs=dict(channel_base=64, channel_max=8))
    backbone = save_checkpoint(root / "g.pt", generator.eval())
    annotator = root / "annotator.pt"
    assert main(["-q", "toy", "train-annotator", "--out", str(annotator), "--images", "8", "--steps", "1",
                 "--batch", "4", "--width", "4", "--resolution", "16", "--test-images", "4"]) == 0
    out = root / "annotations"
    assert main(["-q", "toy", "annotate", "--backbone", str(backbone), "--annotator", str(annotator),
                 "--out", str(out), *SEEDS, "--json", str(root / "annotate.json")]) == 0
    return backbone, annotator, out, json.loads((root / "annotate.json").read_text())


def test_annotator_checkpoint_records_its_test_scores(tiny):
    _, annotator, _, _ = tiny
    model, info = load_annotator(annotator)
    test = info["training"]["test"]
    assert info["config"]["resolution"] == 16 and test["images"] == 4
    assert {"miou", "pck@0.1", "depth_absrel", "visibility_accuracy"} <= set(test)


def test_annotation_folder_layout(tiny):
    _, _, out, summary = tiny
    ids = ["000005", "000006", "000007"]
    for sample_id in ids:
        for rel in (f"labelme/{sample_id}.png", f"labelme/{sample_id}.json", f"masks/{sample_id}.png",
                    f"depth/{sample_id}.npy", f"images/{sample_id}.png"):
            assert (out / rel).is_file(), rel
        assert Image.open(out / f"masks/{sample_id}.png").mode == "P"
    index = json.loads((out / "samples.json").read_text())
    assert {i: s["seed"] for i, s in index["samples"].items()} == {"000005": 5, "000006": 6, "000007": 7}
    assert index["backbone"]["sha256"] and index["truncation_psi"] == 0.7
    assert "machine" in (out / "README.md").read_text()
    assert summary["polygon_miou"] >= 0.99 and summary["samples"] == 3


def test_annotations_import_into_the_cache_of_dgan_sample(tiny, tmp_path, run_cli):
    backbone, _, out, _ = tiny
    cache, labels = tmp_path / "ann.h5", out / "labels.json"
    assert run_cli("-q", "sample", "--backbone", backbone, *SEEDS, "--cache", cache,
                   "--out", tmp_path / "samples").code == 0
    for sample_id in ("000005", "000006", "000007"):  # the annotator saw exactly the images dgan sample makes
        sampled = (tmp_path / "samples" / f"{sample_id}.png").read_bytes()
        assert sampled == (out / "labelme" / f"{sample_id}.png").read_bytes()
    for directory, fmt in ((out / "labelme", "labelme"), (out, "depth")):
        result = run_cli("-q", "annotate-import", directory, "--cache", cache, "--format", fmt, "--labels", labels)
        assert result.code == 0, result.err
    with CacheReader(cache) as reader:
        seg, kp, depth = (reader.labels(kind) for kind in ("segmentation", "keypoints", "depth"))
    for n, sample_id in enumerate(["000005", "000006", "000007"]):
        mask = np.asarray(Image.open(out / "masks" / f"{sample_id}.png"))
        np.testing.assert_array_equal(seg[n], mask)  # polygons rasterise back to the predicted mask
        np.testing.assert_array_equal(depth[n], np.load(out / "depth" / f"{sample_id}.npy"))
        points = [s for s in json.loads((out / "labelme" / f"{sample_id}.json").read_text())["shapes"]
                  if s["shape_type"] == "point"]
        assert kp[n][:, 2].tolist() == [0.0 if p["flags"]["occluded"] else 1.0 for p in points]
    # the indexed PNG masks import as well, to the same labels
    result = run_cli("-q", "annotate-import", out, "--cache", cache, "--format", "png-masks", "--labels", labels)
    assert result.code == 0, result.err
    with CacheReader(cache) as reader:
        np.testing.assert_array_equal(reader.labels("segmentation"), seg)


def test_same_seeds_same_bytes(tiny, tmp_path):
    backbone, annotator, out, _ = tiny
    again = tmp_path / "again"
    assert main(["-q", "toy", "annotate", "--backbone", str(backbone), "--annotator", str(annotator),
                 "--out", str(again), *SEEDS]) == 0
    for path in out.rglob("*"):
        if path.is_file():
            ours, theirs = path.read_bytes(), (again / path.relative_to(out)).read_bytes()
            if path.name == "README.md":  # its import commands name the folder
                theirs = theirs.replace(str(again).encode(), str(out).encode())
            assert ours == theirs, path


@pytest.mark.parametrize("case, message", [
    ("n0", "-n must be at least 1"),
    ("unwritable", "not a writable folder"),
    ("exists", "already exists"),
    ("wrong-kind", "not a toy annotator checkpoint"),
    ("not-torch", "not a readable annotator checkpoint"),
])
def test_annotate_bad_input_is_one_line(tiny, tmp_path, run_cli, case, message):
    backbone, annotator, out, _ = tiny
    target, args = tmp_path / "new", list(SEEDS)
    if case == "n0":
        args = ["-n", "0"]
    elif case == "unwritable":
        (tmp_path / "file").write_text("x")
        target = tmp_path / "file" / "sub"
    elif case == "exists":
        target = out
    elif case == "wrong-kind":
        annotator = backbone
    else:
        annotator = tmp_path / "junk.pt"
        annotator.write_text("not a checkpoint")
    result = run_cli("toy", "annotate", "--backbone", backbone, "--annotator", annotator, "--out", target, *args)
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_annotator_puts_what_it_calls_background_on_the_far_plane(tiny):
    from dgan_plugins.toy.model import FAR_DEPTH

    _, annotator, _, _ = tiny
    model, _ = load_annotator(annotator)
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    with torch.no_grad():  # background or face, whichever the weights prefer at each pixel
        model.net.out.bias[:2] = 0.0
        model.net.out.bias[2:model.num_classes] = -1e4
    pred = model.predict(images)
    background = pred.segmentation == 0
    assert 0 < background.mean() < 1, background.mean()
    assert (pred.depth[background] == FAR_DEPTH).all() and (pred.depth[~background] != FAR_DEPTH).all()
