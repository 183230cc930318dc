"""`dgan toy fidelity`: per-class pixel and presence ratios of generator samples against the test split."""
import json

import numpy as np
import pytest
import torch

from dgan_plugins.toy import fidelity
from dgan_plugins.toy.render import OBJECT_CLASSES, PART_CLASSES


def test_class_shares_count_pixels_and_images_with_enough_of_a_class():
    masks = np.zeros((2, 64, 64), np.uint8)
    masks[0, :4, :4] = 1          # 16 px: present
    masks[1, 0, :3] = 1           # 3 px: below PRESENT_PIXELS, labelling noise
    masks[1, 10:12, 10:12] = 2    # 4 px: present
    pixels, present = fidelity.class_shares(masks, 3)
    assert pixels.tolist() == pytest.approx([(2 * 4096 - 23) / 8192, 19 / 8192, 4 / 8192])
    assert present.tolist() == [1.0, 0.5, 0.5]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random 16 px generator, an annotator (1 step) and a classifier (2 steps) at 16 px."""
    from dgan_cli.cli import main
    from dgan_plugins.stylegan2.checkpoint import save_checkpoint
    from dgan_plugins.stylegan2.networks import Generator

    root = tmp_path_factory.mktemp("fidelity")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        generator = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3,
                              mapping_kwargs=dict(num_layers=1), synthesis_kwargs=dict(channel_base=64, channel_max=8))
    backbone = save_checkpoint(root / "g.pt", generator.eval())
    annotator, classifier = root / "annotator.pt", root / "classifier.pt"
    assert main(["-q", "toy", "train-annotator", "--out", str(annotator), "--images", "8", "--steps", "1",
                 "--batch", "4", "--width", "4", "--resolution", "16", "--test-images", "4"]) == 0
    assert main(["-q", "toy", "train-classifier", "--out", str(classifier), "--images", "16", "--steps", "2",
                 "--batch", "8", "--resolution", "16", "--test-images", "8"]) == 0
    return [str(p) for p in (backbone, annotator, classifier)]


def _fidelity(run_cli, tiny, tmp_path, *extra):
    backbone, annotator, classifier = tiny
    out = tmp_path / "fidelity.json"
    result = run_cli("-q", "toy", "fidelity", "--backbone", backbone, "--annotator", annotator,
                     "--classifier", classifier, "-n", "12", "--test-images", "20", "--json", out, *extra)
    assert result.code == 0, result.err
    return json.loads(out.read_text())


def test_fidelity_command_reports_every_class(run_cli, tiny, tmp_path):
    report = _fidelity(run_cli, tiny, tmp_path, "--truncation", "1.0")
    assert sorted(report["classes"]) == sorted(PART_CLASSES)
    for name, c in report["classes"].items():
        if c["real_pixel_share"] > 0:
            assert c["pixel_ratio"] == pytest.approx(c["generated_pixel_share"] / c["real_pixel_share"])
        if c["real_presence"] > 0:
            assert c["presence_ratio"] == pytest.approx(c["generated_presence"] / c["real_presence"])
    assert sum(c["truth_pixel_share"] for c in report["classes"].values()) == pytest.approx(1.0)
    assert 0 <= report["annotator_miou"] <= 1 and report["fid"] > 0 and report["fid_floor"] >= 0
    assert report["n"] == 12 and report["test_images"] == 20 and report["truncation_psi"] == 1.0
    kinds = report["object_classes"]
    assert sorted(kinds) == sorted(OBJECT_CLASSES)
    assert sum(c["generated_share"] for c in kinds.values()) == pytest.approx(1.0)
    assert sum(c["real_share"] for c in kinds.values()) == pytest.approx(1.0)
    for c in kinds.values():
        if c["real_share"] > 0:
            assert c["share_ratio"] == pytest.approx(c["generated_share"] / c["real_share"])


def test_a_generator_that_draws_the_test_images_scores_one_everywhere(run_cli, tiny, tmp_path, monkeypatch):
    """The ratios compare like with like: generated images identical to the real ones give exactly 1."""
    def test_images(backbone, seeds, truncation, batch):
        return fidelity._render(fidelity.split_seeds("test")[:len(seeds)], backbone.resolution, "")["images"]

    monkeypatch.setattr(fidelity, "generate_images", test_images)
    backbone, annotator, classifier = tiny
    out = tmp_path / "same.json"
    assert run_cli("-q", "toy", "fidelity", "--backbone", backbone, "--annotator", annotator, "--classifier",
                   classifier, "-n", "20", "--test-images", "20", "--json", out).code == 0
    same = json.loads(out.read_text())
    for c in same["classes"].values():
        assert c["pixel_ratio"] in (None, pytest.approx(1.0)) and c["presence_ratio"] in (None, pytest.approx(1.0))
    assert same["fid"] == pytest.approx(0.0, abs=1e-6)
    assert all(c["share_ratio"] in (None, pytest.approx(1.0)) for c in same["object_classes"].values())


@pytest.mark.parametrize("args, message", [
    (["-n", "1"], "-n must be at least 2"),
    (["--annotator", "{backbone}"], "not a toy annotator checkpoint"),
    ([], "sees 64 px images"),  # the shipped annotator against a 16 px generator
])
def test_fidelity_bad_input_is_one_line(run_cli, tiny, args, message):
    backbone, _, classifier = tiny
    args = [a.format(backbone=backbone) for a in args]
    result = run_cli("toy", "fidelity", "--backbone", backbone, "--classifier", classifier, *args)
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.err


@pytest.mark.parametrize("command, network", [("fid", "classifier"), ("annotate", "annotator"),
                                              ("fidelity", "annotator")])
def test_every_toy_command_refuses_a_generator_of_another_size(run_cli, tiny, tmp_path, command, network):
    """The shipped 64 px networks against a 16 px generator: one line naming the network and how to fix it."""
    extra = ["--out", str(tmp_path / "ann")] if command == "annotate" else []
    result = run_cli("toy", command, "--backbone", tiny[0], "-n", "4", *extra)
    assert result.code == 2, result.err
    assert f"the {network} sees 64 px images, the backbone makes 16 px ones" in result.err
    assert f"dgan toy train-{network} --resolution 16" in result.err
    assert not (tmp_path / "ann").exists()
