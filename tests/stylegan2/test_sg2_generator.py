"""The generator: official names and attributes, truncation, noise modes, clamping."""
import pytest
import torch

from dgan_plugins.stylegan2.networks import Generator
from sg2_helpers import TINY, tiny_generator

# state_dict keys of the official G_ema for z=w=16, 8x8, 2 mapping layers (training/networks.py order).
OFFICIAL_KEYS_8PX = [
    "synthesis.b4.const", "synthesis.b4.resample_filter",
    *[f"synthesis.b4.conv1.{k}" for k in ("weight", "noise_strength", "bias", "resample_filter", "noise_const",
                                          "affine.weight", "affine.bias")],
    *[f"synthesis.b4.torgb.{k}" for k in ("weight", "bias", "affine.weight", "affine.bias")],
    "synthesis.b8.resample_filter",
    *[f"synthesis.b8.{c}.{k}" for c in ("conv0", "conv1") for k in ("weight", "noise_strength", "bias",
                                                                      "resample_filter", "noise_const",
                                                                      "affine.weight", "affine.bias")],
    *[f"synthesis.b8.torgb.{k}" for k in ("weight", "bias", "affine.weight", "affine.bias")],
    "mapping.w_avg", "mapping.fc0.weight", "mapping.fc0.bias", "mapping.fc1.weight", "mapping.fc1.bias",
]


def test_state_dict_keys_are_the_official_ones_in_order():
    assert list(tiny_generator(img_resolution=8).state_dict()) == OFFICIAL_KEYS_8PX


def test_conditional_generator_has_embed_layer():
    G = tiny_generator(c_dim=3)
    keys = G.state_dict()
    assert keys["mapping.embed.weight"].shape == (16, 3)
    assert keys["mapping.fc0.weight"].shape == (16, 32)  # z and the embedded label are concatenated
    c = torch.eye(3)
    assert G(torch.randn(3, 16), c).shape == (3, 3, 16, 16)
    with pytest.raises(ValueError, match="conditional"):
        G(torch.randn(3, 16))


@pytest.mark.parametrize("resolution,num_ws", [(4, 2), (16, 6), (1024, 18)])
def test_attributes_and_shapes(resolution, num_ws):
    G = tiny_generator(img_resolution=resolution, img_channels=1,
                       synthesis_kwargs=dict(channel_base=1024, channel_max=2))
    assert (G.z_dim, G.c_dim, G.w_dim, G.img_resolution, G.img_channels, G.num_ws) == (16, 0, 16, resolution, 1,
                                                                                       num_ws)
    with torch.no_grad():
        ws = G.mapping(torch.randn(1, 16))
        img = G.synthesis(ws)
    assert ws.shape == (1, num_ws, 16)
    assert img.shape == (1, 1, resolution, resolution) and img.dtype == torch.float32


def test_channel_rule():
    G = tiny_generator(img_resolution=32, synthesis_kwargs=dict(channel_base=256, channel_max=32))
    channels = {name: ch for name, ch, _ in G.synthesis.layer_specs()}
    assert channels == {"b4.conv1": 32, "b8.conv0": 32, "b8.conv1": 32, "b16.conv0": 16, "b16.conv1": 16,
                        "b32.conv0": 8, "b32.conv1": 8}


def test_init_kwargs_rebuild_the_same_architecture():
    G = tiny_generator()
    H = Generator(**G.init_kwargs)
    assert G.init_kwargs == {**TINY, "mapping_kwargs": {"num_layers": 2},
                             "synthesis_kwargs": {"channel_base": 128, "channel_max": 16, "conv_clamp": 256}}
    assert {k: v.shape for k, v in H.state_dict().items()} == {k: v.shape for k, v in G.state_dict().items()}


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="unknown synthesis_kwargs key 'channels'"):
        Generator(**{**TINY, "synthesis_kwargs": {"channels": 3}})
    with pytest.raises(ValueError, match="architecture 'resnet'"):
        Generator(**{**TINY, "synthesis_kwargs": {"architecture": "resnet"}})
    with pytest.raises(ValueError, match="leaves no channels"):
        Generator(**{**TINY, "synthesis_kwargs": {"channel_base": 8}})
    with pytest.raises(ValueError, match="power of two"):
        Generator(**{**TINY, "img_resolution": 24})


def test_mapping_normalises_z_scale_away():
    G = tiny_generator()
    z = torch.randn(4, 16)
    torch.testing.assert_close(G.mapping(z), G.mapping(z * 7.5))


def test_truncation_and_cutoff():
    G = tiny_generator()
    z = torch.randn(5, 16)
    w = G.mapping(z)
    w_avg = G.mapping.w_avg
    torch.testing.assert_close(G.mapping(z, truncation_psi=0), w_avg.expand_as(w))
    torch.testing.assert_close(G.mapping(z, truncation_psi=0.5), w_avg + 0.5 * (w - w_avg))
    cut = G.mapping(z, truncation_psi=0.5, truncation_cutoff=2)
    torch.testing.assert_close(cut[:, :2], w_avg + 0.5 * (w[:, :2] - w_avg))
    torch.testing.assert_close(cut[:, 2:], w[:, 2:])
    assert torch.equal(G.mapping(z, truncation_psi=1, truncation_cutoff=2), w)


def test_w_avg_tracks_the_batch_mean_only_in_training():
    G = tiny_generator()
    before = G.mapping.w_avg.clone()
    G.mapping(torch.randn(8, 16))
    assert torch.equal(G.mapping.w_avg, before)
    G.train()
    w = G.mapping(torch.randn(8, 16))[:, 0]
    torch.testing.assert_close(G.mapping.w_avg, w.detach().mean(0).lerp(before, 0.995))


def test_noise_modes():
    G = tiny_generator()
    ws = G.mapping(torch.randn(2, 16))
    with torch.no_grad():
        const = G.synthesis(ws, noise_mode="const")
        assert torch.equal(const, G.synthesis(ws, noise_mode="const"))
        none = G.synthesis(ws, noise_mode="none")
        assert not torch.allclose(const, none)
        torch.manual_seed(5)
        random_a = G.synthesis(ws, noise_mode="random")
        random_b = G.synthesis(ws, noise_mode="random")
        torch.manual_seed(5)
        assert torch.equal(random_a, G.synthesis(ws, noise_mode="random"))
        assert not torch.allclose(random_a, random_b)
        for layer in G.modules():
            if hasattr(layer, "noise_strength"):
                layer.noise_strength.zero_()
        assert torch.equal(G.synthesis(ws, noise_mode="const"), G.synthesis(ws, noise_mode="none"))
    with pytest.raises(ValueError, match="noise_mode"):
        G.synthesis(ws, noise_mode="fixed")


def test_fused_and_unfused_modconv_agree():
    G = tiny_generator()
    ws = G.mapping(torch.randn(3, 16))
    with torch.no_grad():
        torch.testing.assert_close(G.synthesis(ws, fused_modconv=True), G.synthesis(ws, fused_modconv=False),
                                   rtol=1e-5, atol=1e-5)


def test_conv_clamp_limits_layer_outputs():
    G = tiny_generator(synthesis_kwargs=dict(channel_base=128, channel_max=16, conv_clamp=0.5))
    with torch.no_grad():
        G.synthesis.b8.conv0.bias.fill_(100.0)
        _, feats = G.synthesis.render(G.mapping(torch.randn(2, 16)), capture={"b8.conv0"})
    assert feats["b8.conv0"].abs().max().item() == pytest.approx(0.5)


def test_call_signature_like_official():
    G = tiny_generator()
    z = torch.randn(2, 16)
    with torch.no_grad():
        img = G(z, None, truncation_psi=0.7, truncation_cutoff=None, noise_mode="const", force_fp32=True)
        ws = G.mapping(z, None, truncation_psi=0.7)
        assert torch.equal(img, G.synthesis(ws, noise_mode="const"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    G = tiny_generator(img_resolution=32)
    z = torch.randn(4, 16)
    with torch.no_grad():
        cpu = G(z, truncation_psi=0.7)
        gpu = G.cuda()(z.cuda(), truncation_psi=0.7).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-4, atol=1e-4)
