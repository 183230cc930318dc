"""The backbone object: sampling by seed, features by layer name, gradients, identity."""
import hashlib

import numpy as np
import pytest
import torch

import dgan_cli
from dgan_cli.errors import DganError
from dgan_cli.types import LayerInfo
from dgan_plugins.stylegan2.backbone import StyleGAN2Backbone
from dgan_plugins.stylegan2.checkpoint import save_checkpoint
from sg2_helpers import tiny_generator

LAYERS = ["b4.conv1", "b8.conv0", "b8.conv1", "b16.conv0", "b16.conv1"]


@pytest.fixture
def backbone():
    return StyleGAN2Backbone(tiny_generator())


def test_layers_and_attributes(backbone):
    assert backbone.layers == [LayerInfo("b4.conv1", 16, 4), LayerInfo("b8.conv0", 16, 8),
                               LayerInfo("b8.conv1", 16, 8), LayerInfo("b16.conv0", 8, 16),
                               LayerInfo("b16.conv1", 8, 16)]
    assert (backbone.resolution, backbone.z_dim, backbone.w_dim, backbone.num_ws) == (16, 16, 16, 6)


def test_sample_uses_numpy_seeds_like_generate_py(backbone):
    out = backbone.sample([3, 11], truncation_psi=0.7, truncation_cutoff=4)
    z = torch.from_numpy(np.stack([np.random.RandomState(s).randn(16) for s in (3, 11)])).float()
    assert torch.equal(out["z"], z)
    with torch.no_grad():
        assert torch.equal(out["ws"], backbone.generator.mapping(z, truncation_psi=0.7, truncation_cutoff=4))
    assert torch.equal(backbone.sample([11])["z"][0], backbone.sample([3, 11])["z"][1])  # per-seed, batch-free
    with pytest.raises(DganError, match="seed -1"):
        backbone.sample([-1])


def test_features_are_the_synthesis_conv_outputs(backbone):
    ws = backbone.sample([0, 1])["ws"]
    hooked = {}
    handles = [getattr(block, name).register_forward_hook(
        lambda module, args, output, key=f"b{block.resolution}.{name}": hooked.__setitem__(key, output))
        for block in backbone.generator.synthesis.blocks() for name in block.conv_names()]
    with torch.no_grad():
        images, feats = backbone.synthesize(ws)
    for handle in handles:
        handle.remove()
    assert list(feats) == LAYERS
    for info in backbone.layers:
        assert feats[info.name].shape == (2, info.channels, info.resolution, info.resolution)
        assert torch.equal(feats[info.name], hooked[info.name])
    with torch.no_grad():
        assert torch.equal(images, backbone.generator.synthesis(ws, noise_mode="const"))


def test_layer_selection_and_validation(backbone):
    ws = backbone.sample([0])["ws"]
    with torch.no_grad():
        images, feats = backbone.synthesize(ws, layers=["b16.conv1", "b4.conv1"])
        all_images, all_feats = backbone.synthesize(ws)
    assert list(feats) == ["b16.conv1", "b4.conv1"]
    assert torch.equal(images, all_images) and torch.equal(feats["b4.conv1"], all_feats["b4.conv1"])
    with pytest.raises(DganError, match="unknown stylegan2 layer 'b32.conv0'"):
        backbone.synthesize(ws, layers=["b32.conv0"])
    with pytest.raises(DganError, match="noise mode"):
        backbone.synthesize(ws, noise_mode="fixed")
    with pytest.raises(DganError, match=r"ws must have shape \[N, 6, 16\]"):
        backbone.synthesize(ws[:, :3])


def test_w_is_broadcast_to_every_layer(backbone):
    w = backbone.sample([5])["ws"][:, 0]
    with torch.no_grad():
        a, _ = backbone.synthesize(w, layers=[])
        b, _ = backbone.synthesize(w[:, None].repeat(1, 6, 1), layers=[])
    assert torch.equal(a, b)


@pytest.mark.parametrize("form", ["w+", "w", "z"])
def test_features_are_differentiable(backbone, form):
    z = backbone.sample([7, 8])["z"].requires_grad_(form == "z")
    if form == "z":
        leaf = z
        ws = backbone.generator.mapping(z)
    else:
        ws = backbone.sample([7, 8])["ws"]
        leaf = (ws if form == "w+" else ws[:, 0]).clone().requires_grad_(True)
        ws = leaf
    images, feats = backbone.synthesize(ws, layers=["b8.conv1"])
    (feats["b8.conv1"].square().mean() + images.mean()).backward()
    assert leaf.grad is not None and leaf.grad.abs().sum() > 0


def test_same_seed_same_bytes():
    a = StyleGAN2Backbone(tiny_generator(seed=2))
    b = StyleGAN2Backbone(tiny_generator(seed=2))
    ws_a, ws_b = a.sample([1, 2], 0.7)["ws"], b.sample([1, 2], 0.7)["ws"]
    assert ws_a.numpy().tobytes() == ws_b.numpy().tobytes()
    with torch.no_grad():
        (img_a, f_a), (img_b, f_b) = a.synthesize(ws_a), b.synthesize(ws_b)
    assert img_a.numpy().tobytes() == img_b.numpy().tobytes()
    assert all(f_a[k].numpy().tobytes() == f_b[k].numpy().tobytes() for k in f_a)
    assert a.identity() == b.identity()


def test_identity(tmp_path):
    G = tiny_generator()
    memory = StyleGAN2Backbone(G).identity()
    assert memory["name"] == "stylegan2" and memory["config"] == G.init_kwargs and len(memory["sha256"]) == 64
    with torch.no_grad():
        G.synthesis.b8.conv1.bias[0] += 1
    assert StyleGAN2Backbone(G).identity()["sha256"] != memory["sha256"]
    path = save_checkpoint(tmp_path / "g.pt", G)
    loaded = dgan_cli.load_backbone(path)
    assert loaded.identity()["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.identity()["config"] == G.init_kwargs
    assert loaded.source_format == "dgan" and not loaded.generator.training


def test_conditional_sample_needs_labels():
    backbone = StyleGAN2Backbone(tiny_generator(c_dim=3))
    with pytest.raises(DganError, match="class-conditional"):
        backbone.sample([0])
    assert backbone.sample([0, 1], c=torch.eye(3)[:2])["ws"].shape == (2, 6, 16)
