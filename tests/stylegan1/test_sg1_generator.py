"""The StyleGAN1 forward pass against an independent float64 restatement of the release's."""
import numpy as np
import pytest
import torch

from dgan_plugins.stylegan1 import networks
from dgan_plugins.stylegan1.backbone import StyleGAN1Backbone, load_backbone_file
from sg1_helpers import Z_DIM, reference_forward, release_state, save_release

# float32 kernels against a float64 reference, relative to each map's largest value.
TOL = 1e-4


def close(mine, ref) -> bool:
    return float((mine.double() - ref).abs().max()) <= TOL * max(1.0, float(ref.abs().max()))


@pytest.fixture(scope="module", params=[64, 128])
def backbone(request, tmp_path_factory):
    path = save_release(tmp_path_factory.mktemp("sg1") / f"g{request.param}.pt", release_state(request.param))
    return load_backbone_file(path)


def test_images_and_every_tap_match_the_reference(backbone):
    G = backbone.generator
    z = torch.from_numpy(np.random.RandomState(1).randn(2, Z_DIM))
    ref_image, ref_taps = reference_forward(G.state_dict(), z, G.avg_latent, G.truncation_cutoff,
                                            [layer.noise_const for layer in G.noise_inputs()])
    image, features = backbone.synthesize(backbone.map_z(z, 0.7))
    assert close(image, ref_image)
    assert [layer.name for layer in backbone.layers][:4] == ["b4.epi2", "b4.conv", "b8.epi2", "b8.conv1"]
    assert len(ref_taps) == len(backbone.layers)
    for layer, ref in zip(backbone.layers, ref_taps):
        assert features[layer.name].shape[1:] == (layer.channels, layer.resolution, layer.resolution)
        assert close(features[layer.name], ref), layer.name


def test_the_fused_upscale_matters_from_128_px(backbone, monkeypatch):
    ws = backbone.sample([0], truncation_psi=0.7)["ws"]
    fused, _ = backbone.synthesize(ws, layers=[])
    monkeypatch.setattr(networks, "FUSED_MIN_OUTPUT", 10 ** 6)
    plain, _ = backbone.synthesize(ws, layers=[])
    moved = float((fused - plain).abs().max())
    assert (moved > 0.05) if backbone.resolution >= 128 else moved == 0.0


def test_truncation_noise_modes_and_sampling(backbone):
    G = backbone.generator
    z = backbone.latents_z([3, 4])
    free, cut = G.mapping(z), G.mapping(z, truncation_psi=0.7)
    rows = G.truncation_cutoff
    assert rows == 8 and torch.equal(cut[:, rows:], free[:, rows:])
    assert torch.allclose(cut[:, :rows], G.avg_latent[:rows] + 0.7 * (free[:, :rows] - G.avg_latent[:rows]))
    assert torch.equal(backbone.sample([3, 4], truncation_psi=0.7)["ws"], cut)
    ws = cut[:1]
    const = [backbone.synthesize(ws, layers=[])[0] for _ in range(2)]
    assert torch.equal(const[0], const[1])
    assert not torch.equal(backbone.synthesize(ws, layers=[], noise_mode="random")[0], const[0])
    assert not torch.equal(backbone.synthesize(ws, layers=[], noise_mode="none")[0], const[0])


def test_release_key_layout_and_the_face_generators_5088_dims():
    keys = list(networks.Generator(64, [16, 16, 8, 8, 4], z_dim=8, w_dim=8).state_dict())
    assert len(keys) == 72 and keys[16:18] == ["g_synthesis.torgb.weight", "g_synthesis.torgb.bias"]
    assert keys[18:21] == ["g_synthesis.blocks.4x4.const", "g_synthesis.blocks.4x4.bias",
                           "g_synthesis.blocks.4x4.epi1.top_epi.noise.weight"]
    assert "g_synthesis.blocks.8x8.conv0_up.intermediate.kernel" in keys
    with torch.device("meta"):
        face = networks.Generator(1024, networks.release_channels(1024))
    assert len(face.state_dict()) == 116 and face.num_ws == 18 and face.truncation_cutoff == 8
    assert sum(c for _, c, _ in face.g_synthesis.layer_specs()) == 5088
    assert networks.default_cutoff(256) == 7


def test_backbone_rejects_bad_requests(backbone):
    from dgan_cli.errors import DganError

    with pytest.raises(DganError, match="unknown stylegan1 layer"):
        backbone.synthesize(torch.zeros(1, backbone.w_dim), layers=["b4.conv1"])
    with pytest.raises(DganError, match="ws must have shape"):
        backbone.synthesize(torch.zeros(1, 3, backbone.w_dim))
    assert isinstance(backbone, StyleGAN1Backbone) and backbone.identity()["name"] == "stylegan1"
