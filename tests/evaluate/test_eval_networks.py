"""Each downstream network learns something on tiny sets: better than a trivial predictor."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dgan_plugins.evaluate.data import _normalise
from dgan_plugins.evaluate.metrics import DepthScore, KeypointScore, SegmentationScore
from dgan_plugins.evaluate.run import EvalOptions, evaluate
from dgan_plugins.evaluate.train import LabelledSet, TrainConfig, train
from dgan_plugins.evaluate.tasks import SegmentationTask
from dgan_plugins.toy.dataset import label_names
from dgan_plugins.toy.render import render_batch

RES = 32


def toy_set(kind: str, seeds) -> LabelledSet:
    batch = render_batch(list(seeds), RES)
    names = label_names()[kind]
    listed = names.get("classes", names.get("names", []))
    return LabelledSet(f"toy{seeds[0]}", list(seeds), batch["images"],
                       _normalise(None, kind, batch[kind], names), list(listed) if kind != "depth" else [])


@pytest.fixture(scope="module")
def toy_sets():
    return {kind: (toy_set(kind, range(16)), toy_set(kind, range(100_000, 100_032)))
            for kind in ("segmentation", "keypoints")}


def run(train_set, test_set, kind, steps, net="unet", lr=3e-3, batch=4, seed=0):
    cfg = TrainConfig(steps=steps, batch=batch, lr=lr, seed=seed)
    return evaluate(train_set, test_set, kind, cfg, EvalOptions(net=net, width=8))


def test_unet_segmentation_beats_all_background(toy_sets):
    train_set, test_set = toy_sets["segmentation"]
    trivial = SegmentationScore(len(train_set.names))
    trivial.update(np.zeros_like(test_set.target), test_set.target)
    baseline = trivial.result(train_set.names)["miou"]
    result = run(train_set, test_set, "segmentation", steps=200)
    assert result["metrics"]["miou"] > 2 * baseline, (result["metrics"]["miou"], baseline)
    assert result["loss"]["last_10pct_mean"] < 0.6 * result["loss"]["first"]


def test_unet_keypoints_beat_the_mean_position(toy_sets):
    train_set, test_set = toy_sets["keypoints"]
    mean_xy = train_set.target[..., :2].mean(0)  # the best constant guess the training set offers
    trivial = KeypointScore(len(train_set.names))
    trivial.update(np.broadcast_to(mean_xy, test_set.target[..., :2].shape), test_set.target, (RES, RES))
    baseline = trivial.result(train_set.names)["pck@0.1"]
    result = run(train_set, test_set, "keypoints", steps=200)
    assert result["metrics"]["pck@0.1"] > baseline + 0.1, (result["metrics"]["pck@0.1"], baseline)


def domes(n: int, seed: int) -> LabelledSet:
    """Spheres at random places and distances; brightness says how near a pixel is.

    (Absolute toy-world depth is mostly the per-image camera distance, which
    a tiny budget cannot learn from 16 images; these test the depth path.)
    """
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[:RES, :RES] + 0.5
    images, depth = np.zeros((n, RES, RES, 3), np.uint8), np.full((n, RES, RES), np.nan, np.float32)
    for i in range(n):
        cx, cy, radius, far = rng.uniform(10, 22), rng.uniform(10, 22), rng.uniform(6, 10), rng.uniform(4, 6)
        inside = (xs - cx) ** 2 + (ys - cy) ** 2 < radius ** 2
        z = far - np.sqrt(np.maximum(radius ** 2 - (xs - cx) ** 2 - (ys - cy) ** 2, 0)) / 4
        depth[i][inside] = z[inside]
        images[i][inside] = (np.clip((7 - z[inside]) / 4, 0, 1) * 255)[:, None].astype(np.uint8)
    return LabelledSet(f"domes{seed}", list(range(n)), images, depth, [])


def test_unet_depth_beats_the_mean_depth():
    train_set, test_set = domes(16, 0), domes(16, 1)
    trivial = DepthScore()
    trivial.update(np.full(test_set.target.shape, np.nanmean(train_set.target)), test_set.target)
    baseline = trivial.result()["mse"]
    result = run(train_set, test_set, "depth", steps=100)
    assert result["metrics"]["mse"] < 0.5 * baseline, (result["metrics"]["mse"], baseline)
    assert result["metrics"]["pixels_scored"] == int(np.isfinite(test_set.target).sum())


def halves(n: int, seed: int) -> LabelledSet:
    """Two colours split by a random vertical or horizontal line; class 1 is the red part."""
    rng = np.random.default_rng(seed)
    images, seg = np.zeros((n, RES, RES, 3), np.uint8), np.zeros((n, RES, RES), np.int64)
    for i in range(n):
        cut, mask = rng.integers(8, RES - 8), np.zeros((RES, RES), bool)
        if rng.random() < 0.5:
            mask[:, :cut] = True
        else:
            mask[:cut] = True
        images[i][mask], images[i][~mask], seg[i][mask] = (220, 40, 40), (40, 40, 220), 1
    return LabelledSet(f"halves{seed}", list(range(n)), images, seg, ["background", "red"])


def test_deeplabv3_learns_an_easy_split():
    train_set, test_set = halves(16, 0), halves(16, 1)
    trivial = SegmentationScore(2)
    trivial.update(np.zeros_like(test_set.target), test_set.target)
    result = run(train_set, test_set, "segmentation", steps=12, net="deeplabv3", lr=2e-3, batch=2)
    assert result["metrics"]["miou"] > trivial.result(["a", "b"])["miou"] + 0.15
    assert result["config"]["net"] == "deeplabv3"


def test_training_is_deterministic_by_seed():
    train_set = halves(4, 0)

    def losses(seed: int) -> list[float]:
        torch.manual_seed(seed)
        model = torch.nn.Conv2d(3, 2, 3, padding=1)
        return train(model, SegmentationTask(train_set.names), train_set, TrainConfig(steps=3, batch=2, seed=seed))

    assert losses(1) == losses(1)
    assert losses(1) != losses(2)


@pytest.mark.parametrize("width, size", [(4, 30), (9, 33), (16, 64)])
def test_unet_output_matches_the_input_size(width, size):
    from dgan_plugins.evaluate.networks import build_network

    assert build_network("unet", 5, width)(torch.rand(2, 3, size, size)).shape == (2, 5, size, size)


@pytest.mark.parametrize("size", [30, 64])
def test_resnet18_output_matches_the_input_size(size):
    from dgan_plugins.evaluate.networks import build_network

    assert build_network("resnet18", 4)(torch.rand(2, 3, size, size)).shape == (2, 4, size, size)


def test_resnet18_state_is_checked_against_the_architecture(tmp_path):
    import torchvision

    from dgan_plugins.evaluate.networks import build_network, load_resnet18_state

    plain = torchvision.models.resnet18(num_classes=10).state_dict()  # ImageNet stem, another fc
    torch.save(plain, tmp_path / "plain.pt")
    dense = build_network("resnet18", 3, encoder=load_resnet18_state(tmp_path / "plain.pt"))
    assert dense.stem[0].weight.shape[-1] == 7 and torch.equal(dense.stem[0].weight, plain["conv1.weight"])

    resnet34 = torchvision.models.resnet34().state_dict()
    torch.save(resnet34, tmp_path / "r34.pt")
    (tmp_path / "text.pt").write_text("not torch")
    torch.save({"format": "dgan-distill-student", "student": {}}, tmp_path / "student.pt")
    for name, words in (("r34.pt", "not a torchvision ResNet-18"), ("text.pt", "not a readable torch file"),
                        ("student.pt", "dgan distill export"), ("missing.pt", "no such file")):
        with pytest.raises(ValueError, match=words):
            load_resnet18_state(tmp_path / name)
