"""FID with the toy classifier: the Fréchet distance itself, the shipped classifier, the commands."""
import json

import numpy as np
import pytest
import torch

from dgan_plugins.toy.classifier import SHIPPED, load_classifier
from dgan_plugins.toy.fid import FeatureStats, frechet_distance, trace_sqrt_product


def _stats(mean, cov):
    return FeatureStats(np.asarray(mean, float), np.asarray(cov, float), 100)


def test_frechet_distance_of_diagonal_covariances_by_hand():
    # |mu_a - mu_b|^2 = 1 + 4 = 5;  sum (sqrt a - sqrt b)^2 = (2 - 1)^2 + (3 - 1)^2 = 5
    a = _stats([1.0, 2.0], np.diag([4.0, 9.0]))
    b = _stats([0.0, 0.0], np.diag([1.0, 1.0]))
    assert frechet_distance(a, b) == pytest.approx(10.0, abs=1e-12)
    assert frechet_distance(b, a) == pytest.approx(10.0, abs=1e-12)


def test_trace_sqrt_product_matches_the_eigenvalues_of_the_product():
    # non-commuting covariances: tr((A B)^1/2) is the sum of sqrt(eigenvalues of A B), which are real and >= 0
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((6, 6)), rng.standard_normal((6, 6))
    a, b = x @ x.T + 0.1 * np.eye(6), y @ y.T + 0.1 * np.eye(6)
    reference = np.sqrt(np.linalg.eigvals(a @ b).real).sum()
    assert trace_sqrt_product(a, b) == pytest.approx(reference, rel=1e-9)


def test_identical_sets_are_zero_apart_and_shifted_sets_are_not():
    features = np.random.default_rng(0).standard_normal((500, 16))
    same = FeatureStats.of(features)
    assert frechet_distance(same, FeatureStats.of(features.copy())) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(same, FeatureStats.of(features + 1.0)) == pytest.approx(16.0, rel=1e-9)


def test_shipped_classifier_is_small_and_accurate():
    assert SHIPPED.stat().st_size <= 1 << 20
    model, info = load_classifier()
    assert info["config"]["resolution"] == 64 and model.feature_dim == 128
    assert info["training"]["test_accuracy"] > 0.95


def _tiny_generator_checkpoint(path):
    from dgan_plugins.stylegan2.checkpoint import save_checkpoint
    from dgan_plugins.stylegan2.networks import Generator

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        generator = Generator(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3,
                              mapping_kwargs=dict(num_layers=1),
                              synthesis_kwargs=dict(channel_base=64, channel_max=8))
    return save_checkpoint(path, generator.eval())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random 16 px generator and a classifier trained for two steps at 16 px."""
    from dgan_cli.cli import main

    root = tmp_path_factory.mktemp("fid")
    generator = _tiny_generator_checkpoint(root / "g.pt")
    classifier = root / "classifier.pt"
    assert main(["-q", "toy", "train-classifier", "--out", str(classifier), "--images", "16", "--steps", "2",
                 "--batch", "8", "--resolution", "16", "--test-images", "8", "--json", str(root / "train.json")]) == 0
    return generator, classifier, json.loads((root / "train.json").read_text())


def test_train_classifier_writes_a_loadable_checkpoint(tiny):
    _, classifier, summary = tiny
    model, info = load_classifier(classifier)
    assert info["config"]["resolution"] == 16 and info["training"]["steps"] == 2
    assert summary["test_images"] == 8 and 0 <= summary["test_accuracy"] <= 1


def test_fid_command_reports_distance_floor_and_class_histogram(run_cli, tiny, tmp_path):
    generator, classifier, _ = tiny
    report_path = tmp_path / "fid.json"
    result = run_cli("-q", "toy", "fid", "--backbone", generator, "--classifier", classifier, "-n", "12",
                     "--real-seed", "5", "--json", report_path)
    assert result.code == 0, result.err
    report = json.loads(report_path.read_text())
    assert report["fid"] > 0 and report["fid_real_vs_real"] >= 0
    assert sum(report["generated_class_counts"].values()) == 12
    assert report["real_seeds"] == [5, 16] and report["second_real_seeds"] == [17, 28]
    assert 0 <= report["classifier_accuracy_real"] <= 1 and report["feature_dim"] == 16 * 8
    again = tmp_path / "again.json"
    assert run_cli("-q", "toy", "fid", "--backbone", generator, "--classifier", classifier, "-n", "12",
                   "--real-seed", "5", "--json", again).code == 0
    assert json.loads(again.read_text())["fid"] == report["fid"]  # deterministic


@pytest.mark.parametrize("args, message", [
    (["-n", "1"], "-n must be at least 2"),
    (["--real-seed", "-3"], "--real-seed"),
    (["--classifier", "{generator}"], "not a toy classifier checkpoint"),
    (["--classifier", "{missing}"], "no such classifier file"),
    ([], "the classifier sees 64 px images"),  # the shipped classifier against a 16 px generator
])
def test_fid_bad_input_is_one_line(run_cli, tiny, tmp_path, args, message):
    generator, _, _ = tiny
    args = [a.format(generator=generator, missing=tmp_path / "none.pt") for a in args]
    result = run_cli("toy", "fid", "--backbone", generator, *args)
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
