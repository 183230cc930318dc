"""rosinality/stylegan2-pytorch checkpoints: converted by renaming, same images."""
import argparse

import pytest
import torch

from dgan_cli.errors import CheckpointError
from dgan_plugins.stylegan2 import rosinality
from dgan_plugins.stylegan2.checkpoint import load_any
from dgan_plugins.stylegan2.formats import sniff_format
from sg2_helpers import to_rosinality_state, tiny_generator


def rosinality_generator(seed=0, resolution=16):
    # rosinality generators: no clamping, z_dim == w_dim, RGB.
    return tiny_generator(seed=seed, img_resolution=resolution,
                          synthesis_kwargs=dict(channel_base=128, channel_max=16))


@pytest.mark.parametrize("zip_format", [True, False])  # torch >= 1.6 files, and older non-zip ones
def test_converted_checkpoint_reproduces_the_generator(tmp_path, zip_format):
    G = rosinality_generator()
    path = tmp_path / "550000.pt"
    torch.save({"g_ema": to_rosinality_state(G), "latent_avg": G.mapping.w_avg.clone()}, path,
               _use_new_zipfile_serialization=zip_format)
    assert sniff_format(path) == "rosinality"
    loaded, fmt = load_any(path)
    assert fmt == "rosinality"
    for name, tensor in G.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    z = torch.randn(4, 16)
    with torch.no_grad():
        assert torch.equal(loaded(z, truncation_psi=0.5), G(z, truncation_psi=0.5))
    config = loaded.init_kwargs
    assert (config["img_resolution"], config["z_dim"], config["mapping_kwargs"]["num_layers"]) == (16, 16, 2)
    assert config["synthesis_kwargs"]["conv_clamp"] is None


def test_training_checkpoint_with_args_and_estimated_w_avg(tmp_path):
    G = rosinality_generator(seed=3, resolution=8)
    path = tmp_path / "010000.pt"
    state = to_rosinality_state(G)
    torch.save({"g": state, "d": {"convs.0.0.weight": torch.zeros(1)}, "g_ema": state,
                "args": argparse.Namespace(size=8, latent=16, n_mlp=2), "ada_aug_p": 0.1}, path)
    loaded, _ = load_any(path)
    with torch.no_grad():
        empirical = G.mapping(torch.randn(20000, 16, generator=torch.Generator().manual_seed(9)))[:, 0].mean(0)
    torch.testing.assert_close(loaded.mapping.w_avg, empirical, atol=0.05, rtol=0)
    again, _ = load_any(path)
    assert torch.equal(again.mapping.w_avg, loaded.mapping.w_avg)  # fixed-seed estimate


def test_channel_multiplier_layout_is_recovered():
    channels = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64}  # channel_multiplier=1
    assert rosinality._channel_rule(channels, "x") == (16384, 512)
    with pytest.raises(CheckpointError, match="follow no channel_base/channel_max rule"):
        rosinality._channel_rule({4: 512, 8: 100, 16: 512}, "x")


def test_missing_and_extra_tensors_are_refused(tmp_path):
    state = to_rosinality_state(rosinality_generator())
    path = tmp_path / "bad.pt"
    torch.save({"g_ema": {k: v for k, v in state.items() if k != "convs.1.noise.weight"}}, path)
    with pytest.raises(CheckpointError, match="bad.pt: g_ema lacks 'convs.1.noise.weight'"):
        load_any(path)
    torch.save({"g_ema": {**state, "convs.9.conv.bias": torch.zeros(3)}}, path)
    with pytest.raises(CheckpointError, match="tensors a StyleGAN2 generator of this size does not"):
        load_any(path)


def test_wrong_shape_is_refused(tmp_path):
    state = to_rosinality_state(rosinality_generator())
    state["convs.2.activate.bias"] = torch.zeros(5)
    path = tmp_path / "shape.pt"
    torch.save({"g_ema": state}, path)
    with pytest.raises(CheckpointError, match=r"'synthesis\.b16\.conv0\.bias' has shape \[5\]"):
        load_any(path)
