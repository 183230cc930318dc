"""The fast path (first layer at native resolution) equals the naive per-pixel path."""
import pytest
import torch

from dgan_cli.interpreter.ensemble import Ensemble, default_hidden
import numpy as np

from dgan_cli.cache.pixels import interp_matrix
from dgan_cli.interpreter.fast import FastEnsemble, _Widen, naive_outputs
from dgan_cli.types import LayerInfo


def _random_ensemble(in_dim, outputs, members, seed=0):
    ens = Ensemble(in_dim, outputs, members=members, seed=seed)
    gen = torch.Generator().manual_seed(seed + 7)
    with torch.no_grad():  # non-trivial weights and BatchNorm statistics
        for member in ens.members:
            for mod in member:
                if isinstance(mod, torch.nn.Linear):
                    mod.weight.normal_(0, 0.3, generator=gen)
                    mod.bias.normal_(0, 0.3, generator=gen)
                if isinstance(mod, torch.nn.BatchNorm1d):
                    mod.running_mean.normal_(0, 1, generator=gen)
                    mod.running_var.uniform_(0.5, 2.0, generator=gen)
                    mod.weight.normal_(1, 0.2, generator=gen)
                    mod.bias.normal_(0, 0.2, generator=gen)
    return ens.eval()


def _features(layers, batch, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return {l.name: torch.randn(batch, l.channels, l.resolution, l.resolution, generator=gen) for l in layers}


@pytest.mark.parametrize("image_hw, layers", [
    ((16, 16), [LayerInfo("a", 6, 4), LayerInfo("b", 5, 8), LayerInfo("c", 4, 16), LayerInfo("d", 3, 16)]),
    ((32, 32), [LayerInfo("a", 3, 4), LayerInfo("b", 2, 4), LayerInfo("c", 5, 16), LayerInfo("d", 2, 32)]),
    ((24, 20), [LayerInfo("a", 4, 5), LayerInfo("b", 3, 12)]),  # no group at image size, odd scales
    ((32, 32), [LayerInfo("a", 4, 4), LayerInfo("b", 3, 16)]),  # square, every group below image size
    ((16, 16), [LayerInfo("a", 5, 16), LayerInfo("b", 3, 16)]),  # every group at image size
])
def test_interp_fast_equals_naive_all_members(image_hw, layers):
    ens = _random_ensemble(sum(l.channels for l in layers), 5, members=4)
    feats = _features(layers, batch=2)
    naive = naive_outputs(ens, feats, layers, image_hw)
    fast = FastEnsemble(ens, layers, image_hw)(feats)
    assert fast.shape == naive.shape == (2, 4, 5, *image_hw)
    torch.testing.assert_close(fast, naive, rtol=1e-4, atol=1e-4)
    assert fast.std() > 0.1  # the comparison is not between near-constant outputs


@pytest.mark.parametrize("tile_rows", [1, 5, 16])
def test_interp_fast_tiled_equals_untiled(tile_rows):
    layers = [LayerInfo("a", 6, 4), LayerInfo("b", 5, 8), LayerInfo("c", 4, 32)]
    ens = _random_ensemble(15, 3, members=3, seed=3)
    feats = _features(layers, batch=1, seed=4)
    fast = FastEnsemble(ens, layers, (32, 32))
    torch.testing.assert_close(fast(feats, tile_rows=tile_rows), fast(feats), rtol=1e-5, atol=1e-5)


def test_interp_member_shapes_and_init():
    ens = Ensemble(40, 3, members=2, seed=5)
    assert ens.hidden == default_hidden(3) == (128, 32)
    assert default_hidden(30) == (256, 128)
    first = ens.members[0][0]
    assert first.weight.shape == (128, 40) and torch.count_nonzero(first.bias) == 0
    assert 0.015 < float(first.weight.detach().std()) < 0.025
    assert not torch.equal(ens.members[0][0].weight, ens.members[1][0].weight)
    again = Ensemble(40, 3, members=2, seed=5)
    assert torch.equal(again.members[1][3].weight, ens.members[1][3].weight)
    out = ens.eval()(torch.zeros(7, 40))
    assert out.shape == (2, 7, 3)


def test_interp_fast_equals_naive_on_stylegan2_features():
    """The real layer layout: a random-weight 32px StyleGAN2 (two maps per resolution from 8px on)."""
    from dgan_plugins.stylegan2.backbone import StyleGAN2Backbone
    from dgan_plugins.stylegan2.networks import Generator

    torch.manual_seed(0)
    gen = Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=32, img_channels=3,
                    mapping_kwargs={"num_layers": 2}, synthesis_kwargs={"channel_base": 256, "channel_max": 16})
    backbone = StyleGAN2Backbone(gen.eval())
    with torch.no_grad():
        _, feats = backbone.synthesize(backbone.sample([3, 4], 0.7)["ws"])
    ens = _random_ensemble(sum(l.channels for l in backbone.layers), 4, members=3, seed=9)
    naive = naive_outputs(ens, feats, backbone.layers, (32, 32))
    fast = FastEnsemble(ens, backbone.layers, (32, 32))
    torch.testing.assert_close(fast(feats), naive, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fast(feats, tile_rows=7), naive, rtol=1e-4, atol=1e-4)


def test_interp_fast_leaves_features_untouched():
    layers = [LayerInfo("full", 3, 8)]
    feats = _features(layers, batch=1, seed=2)
    before = feats["full"].clone()
    fast = FastEnsemble(_random_ensemble(3, 2, members=2), layers, (8, 8))
    fast(feats, tile_rows=3)
    fast(feats)
    assert torch.equal(feats["full"], before)


def test_interp_fast_band_rows_follow_the_byte_budget():
    layers = [LayerInfo("a", 4, 4), LayerInfo("b", 3, 16)]
    ens = _random_ensemble(7, 2, members=2, seed=1)
    feats = _features(layers, batch=1, seed=6)
    per_row = 16 * 2 * 128 * 4  # width x members x hidden x float32
    small = FastEnsemble(ens, layers, (16, 16), band_bytes=3 * per_row)
    assert small.band_rows() == 3 and small.band_rows(tile_rows=40) == 16
    assert FastEnsemble(ens, layers, (16, 16), band_bytes=1).band_rows() == 1
    whole = FastEnsemble(ens, layers, (16, 16), band_bytes=1 << 30)
    assert whole.band_rows() == 16
    torch.testing.assert_close(small(feats), whole(feats), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("widths, width", [([4, 8, 16], 32), ([5, 12], 20), ([3, 7], 23), ([6, 100], 96)])
def test_interp_widen_plan_is_the_interpolation_matrix(widths, width):
    """Scattering each piece's weights back to its taps rebuilds the dense upsampling matrices side by side."""
    plan = _Widen.plan(widths, width, torch.device("cpu"))
    pieces = width // plan.chunk
    taps = plan.taps.view(pieces, -1).numpy()
    dense = np.zeros((width, sum(widths)), np.float32)
    for c in range(pieces):
        np.add.at(dense[c * plan.chunk:(c + 1) * plan.chunk], (slice(None), taps[c]), plan.weights[c].numpy())
    expected = np.concatenate([interp_matrix(w, width) for w in widths], axis=1)
    np.testing.assert_allclose(dense, expected, atol=1e-7)  # no BLAS: the same weights, rounded to float32
    assert width % plan.chunk == 0 and plan.weights.shape[1] == plan.chunk


def test_interp_fast_reads_half_precision_features():
    layers = [LayerInfo("a", 5, 8), LayerInfo("b", 3, 16)]
    ens = _random_ensemble(8, 3, members=2, seed=2)
    feats = {k: v.half() for k, v in _features(layers, batch=2, seed=3).items()}
    fast = FastEnsemble(ens, layers, (16, 16))(feats)
    assert fast.dtype == torch.float32
    torch.testing.assert_close(fast, naive_outputs(ens, feats, layers, (16, 16)), rtol=1e-4, atol=1e-4)
