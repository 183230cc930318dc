"""The fast ops against slow, literal formulations of their definitions."""
import pytest
import torch
import torch.nn.functional as F

from dgan_plugins.stylegan2 import ops

FIR = ops.setup_filter([1, 3, 3, 1])


def zero_insert(x, up=2):
    """Each pixel followed by up-1 zeros, in both directions."""
    n, c, h, w = x.shape
    out = torch.zeros(n, c, h * up, w * up, dtype=x.dtype)
    out[:, :, ::up, ::up] = x
    return out


def fir_valid(x, f, gain=1.0):
    """Literal 2-D true convolution (valid window): sum over taps of shifted copies."""
    kh, kw = f.shape
    h, w = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    out = torch.zeros(x.shape[0], x.shape[1], h, w, dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += gain * f[kh - 1 - i, kw - 1 - j] * x[:, :, i:i + h, j:j + w]
    return out


def per_sample_modconv(x, weight, styles, demodulate, up):
    """One plain conv per sample with explicitly scaled weights."""
    outs = []
    for n in range(x.shape[0]):
        w = weight * styles[n].reshape(1, -1, 1, 1)
        if demodulate:
            w = w / (w.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).sqrt()
        xn = x[n:n + 1]
        if up == 1:
            outs.append(F.conv2d(xn, w, padding=weight.shape[-1] // 2))
        else:
            # Definition: zero-insert, pad (3, 2), FIR x4, then a true convolution with w.
            u = F.pad(zero_insert(xn), [3, 2, 3, 2])
            u = fir_valid(u, FIR, gain=4.0)
            outs.append(F.conv2d(u, w.flip([2, 3])))
    return torch.cat(outs)


@pytest.fixture
def data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 8, 8, generator=g, dtype=torch.float64)
    weight = torch.randn(6, 5, 3, 3, generator=g, dtype=torch.float64)
    styles = torch.randn(3, 5, generator=g, dtype=torch.float64) + 1
    return x, weight, styles


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("up", [1, 2])
def test_modulated_conv_matches_per_sample_conv(data, fused, demodulate, up):
    x, weight, styles = data
    got = ops.modulated_conv2d(x, weight, styles, up=up, padding=1, resample_filter=FIR.double(),
                               demodulate=demodulate, flip_weight=(up == 1), fused=fused)
    want = per_sample_modconv(x, weight, styles, demodulate, up)
    assert got.shape == want.shape == (3, 6, 8 * up, 8 * up)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_modulated_conv_adds_noise_after_demodulation(data):
    x, weight, styles = data
    noise = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    for fused in (True, False):
        got = ops.modulated_conv2d(x, weight, styles, noise=noise, padding=1, fused=fused)
        torch.testing.assert_close(got, per_sample_modconv(x, weight, styles, True, 1) + noise)


def test_demodulated_output_channels_have_unit_weight_norm(data):
    x, weight, styles = data
    # With a delta input at the centre, each output pixel reads one weight tap.
    delta = torch.zeros(3, 5, 3, 3, dtype=torch.float64)
    delta[:, 0, 1, 1] = 1
    out = ops.modulated_conv2d(delta, weight, styles, padding=1)
    w = weight * styles[:, None, :, None, None]
    norm = w.square().sum(dim=[2, 3, 4]).sqrt()
    expected_centre = w[:, :, 0, 1, 1] / norm
    torch.testing.assert_close(out[:, :, 1, 1], expected_centre)


def test_upsample2d_matches_zero_insertion_and_fir():
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    want = fir_valid(F.pad(zero_insert(x), [2, 1, 2, 1]), FIR.double(), gain=4.0)
    got = ops.upsample2d(x, FIR.double())
    assert got.shape == (2, 3, 10, 14)
    torch.testing.assert_close(got, want)


def test_upsample2d_keeps_constant_images_constant_inside():
    got = ops.upsample2d(torch.ones(1, 1, 6, 6), FIR)
    torch.testing.assert_close(got[:, :, 2:-2, 2:-2], torch.ones(1, 1, 8, 8))


def test_downsample2d_matches_fir_then_subsample():
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    want = fir_valid(F.pad(x, [1, 1, 1, 1]), FIR.double())[:, :, ::2, ::2]
    got = ops.downsample2d(x, FIR.double())
    assert got.shape == (2, 3, 4, 4)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("flip_weight", [True, False])
def test_conv2d_resample_down_matches_definition(flip_weight):
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    w = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    got = ops.conv2d_resample(x, w, f=FIR.double(), down=2, padding=1, flip_weight=flip_weight)
    filtered = fir_valid(F.pad(x, [2, 2, 2, 2]), FIR.double())
    want = F.conv2d(filtered, w if flip_weight else w.flip([2, 3]))[:, :, ::2, ::2]
    assert got.shape == (2, 5, 4, 4)
    torch.testing.assert_close(got, want)


def test_conv2d_resample_1x1_up_matches_definition():
    x = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    w = torch.randn(3, 4, 1, 1, dtype=torch.float64)
    got = ops.conv2d_resample(x, w, f=FIR.double(), up=2, flip_weight=False)
    want = F.conv2d(fir_valid(F.pad(zero_insert(x), [2, 1, 2, 1]), FIR.double(), gain=4.0), w)
    torch.testing.assert_close(got, want)


def test_setup_filter_is_normalised_outer_product():
    f = ops.setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4)
    torch.testing.assert_close(f, torch.outer(torch.tensor([1., 3, 3, 1]), torch.tensor([1., 3, 3, 1])) / 64)
    assert ops.setup_filter([1] * 8).shape == (8,)  # long filters stay separable, as official buffers do


def test_bias_act_lrelu_gain_and_clamp():
    x = torch.tensor([[-2.0, 0.5, 300.0]]).T.reshape(1, 3, 1, 1)
    b = torch.tensor([1.0, 0.0, 0.0])
    got = ops.bias_act(x, b, act="lrelu", gain=2 ** 0.5, clamp=256).flatten()
    want = torch.tensor([-0.2 * 2 ** 0.5, 0.5 * 2 ** 0.5, 256.0])
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError):
        ops.bias_act(x, act="gelu")
