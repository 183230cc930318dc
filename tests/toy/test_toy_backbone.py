"""The shipped `toy` backbone loads through the public API and renders; missing weights are one line."""
import torch

import dgan_cli
import dgan_plugins.toy as toy


def test_shipped_toy_backbone_renders_images_and_features():
    backbone = dgan_cli.load_backbone("toy")
    assert backbone.resolution == 64
    latents = backbone.sample([0, 1], truncation_psi=0.7)
    with torch.no_grad():
        images, features = backbone.synthesize(latents["ws"], layers=["b8.conv0", "b64.conv1"])
    assert images.shape == (2, 3, 64, 64) and torch.isfinite(images).all()
    assert features["b8.conv0"].shape[-1] == 8 and features["b64.conv1"].shape[-1] == 64
    with torch.no_grad():
        again = backbone.generator(latents["z"], None, truncation_psi=0.7, noise_mode="const")
    torch.testing.assert_close(again, images)  # the official call path gives the same images


def test_missing_toy_weights_are_one_line(run_cli, monkeypatch, tmp_path):
    monkeypatch.setattr(toy, "TOY_WEIGHTS", tmp_path / "absent.pt")
    result = run_cli("backbone", "info", "toy")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert "toy backbone's weights are missing" in result.err


def test_shipped_toy_weights_are_the_v2_generator_and_draw_the_parts():
    from dgan_plugins.stylegan2.checkpoint import read_checkpoint
    from dgan_plugins.toy.annotator import load_annotator
    from dgan_plugins.toy.fidelity import class_shares
    from dgan_plugins.toy.gan_images import generate_images
    from dgan_plugins.toy.dataset import split_seeds
    from dgan_plugins.toy.render import PART_CLASSES, render_batch

    assert toy.TOY_WEIGHTS.stat().st_size <= 15 * 2 ** 20
    training = read_checkpoint(toy.TOY_WEIGHTS)["training"]
    assert training["config"]["objective"] == "paired+gan" and training["images_seen"] >= 700_000
    annotator, _ = load_annotator()
    images = generate_images(dgan_cli.load_backbone("toy"), range(64), 1.0, 16)
    pixels, presence = class_shares(annotator.predict(images).segmentation, len(PART_CLASSES))
    present = dict(zip(PART_CLASSES, presence))
    # the v1 weights drew a nose in a third of their samples and a mouth in half
    assert min(present["eye"], present["nose"], present["mouth"]) >= 0.9, present
    # eyebrows: the step-47,969 weights drew 0.57x the real pixel share here (0.45x over 1,000 samples),
    # the shipped step-49,500 ones 0.86x (session 9)
    real = render_batch(split_seeds("test")[:64])["images"]
    real_pixels, _ = class_shares(annotator.predict(real).segmentation, len(PART_CLASSES))
    brow = PART_CLASSES.index("eyebrow")
    assert pixels[brow] >= 0.7 * real_pixels[brow], (pixels[brow], real_pixels[brow])
