"""MS-SSIM against hand-computed values, the projector schedule, the LPIPS loading path."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dgan_cli.errors import CheckpointError, DganError
from dgan_plugins.handsoff import perceptual
from dgan_plugins.handsoff.losses import ReconstructionLoss, psnr
from dgan_plugins.handsoff.msssim import K1, K2, gaussian_window, ms_ssim, scale_plan
from dgan_plugins.handsoff.schedule import ProjectorSchedule

C1, C2 = K1 ** 2, K2 ** 2


def _checker(size: int) -> np.ndarray:
    i = np.arange(size)
    return np.where((i[:, None] + i[None, :]) % 2 == 0, 1.0, -1.0)


def _as_batch(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float32).expand(1, 3, *a.shape).contiguous()


def test_scale_plan_uses_the_scales_that_hold_a_window():
    assert scale_plan(256, 256) == (5, 11)
    assert scale_plan(64, 64) == (3, 11)
    assert scale_plan(32, 32) == (2, 11)
    assert scale_plan(16, 24) == (1, 11)
    assert scale_plan(8, 8) == (1, 7)


def test_identical_images_score_one():
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ms_ssim(x, x), torch.ones(2), atol=1e-5)


def test_constant_images_score_their_luminance_term_with_renormalised_weight():
    # Flat images: contrast-structure is exactly 1 at every scale, so only the coarsest
    # luminance term remains, raised to the 2-scale weight 0.2856 / (0.0448 + 0.2856).
    a, b = 0.25, 0.75
    lum = (2 * a * b + C1) / (a * a + b * b + C1)
    expected = lum ** (0.2856 / (0.0448 + 0.2856))
    got = ms_ssim(torch.full((1, 3, 32, 32), a), torch.full((1, 3, 32, 32), b))
    assert got.item() == pytest.approx(expected, abs=1e-5)


def test_halved_contrast_on_one_window_matches_the_closed_form():
    # 11x11 images are one window at one scale. x = 0.5 + 0.1 s, y = 0.5 + 0.05 s for a
    # checkerboard s; with g the 1-D Gaussian and A = sum_i g_i (-1)^i, the weighted moments are
    # mu = 0.5 + amp A^2, var = amp^2 (1 - A^4), cov = 0.1 * 0.05 (1 - A^4).
    g = gaussian_window(11).double().numpy()
    a2 = float(np.sum(g * (-1.0) ** np.arange(11))) ** 2
    v = 1 - a2 ** 2
    mu_x, mu_y = 0.5 + 0.1 * a2, 0.5 + 0.05 * a2
    lum = (2 * mu_x * mu_y + C1) / (mu_x ** 2 + mu_y ** 2 + C1)
    cs = (2 * 0.005 * v + C2) / (0.01 * v + 0.0025 * v + C2)
    s = _checker(11)
    got = ms_ssim(_as_batch(0.5 + 0.1 * s), _as_batch(0.5 + 0.05 * s))
    assert got.item() == pytest.approx(lum * cs, abs=1e-5)


def _ssim_by_loops(x: np.ndarray, y: np.ndarray):
    """Single-channel SSIM and CS means with an explicit 2-D window at every valid position."""
    g = gaussian_window(11).double().numpy()
    w = np.outer(g, g)
    ssim, cs = [], []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            px, py = x[i:i + 11, j:j + 11], y[i:i + 11, j:j + 11]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * px * px).sum() - mx * mx, (w * py * py).sum() - my * my
            cov = (w * px * py).sum() - mx * my
            c = (2 * cov + C2) / (vx + vy + C2)
            ssim.append((2 * mx * my + C1) / (mx * mx + my * my + C1) * c)
            cs.append(c)
    return np.mean(ssim), np.mean(cs)


def test_two_scales_match_a_loop_reference():
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (24, 24))
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    _, cs0 = _ssim_by_loops(x, y)
    pool = lambda a: a.reshape(12, 2, 12, 2).mean(axis=(1, 3))  # noqa: E731
    ssim1, _ = _ssim_by_loops(pool(x), pool(y))
    w0, w1 = 0.0448 / 0.3304, 0.2856 / 0.3304
    got = ms_ssim(_as_batch(x), _as_batch(y)).item()
    assert scale_plan(24, 24) == (2, 11)
    assert got == pytest.approx(cs0 ** w0 * ssim1 ** w1, abs=1e-5)


def test_ms_ssim_has_finite_gradients_even_for_anticorrelated_images():
    x = _as_batch(0.5 + 0.4 * _checker(16)).requires_grad_(True)
    y = _as_batch(0.5 - 0.4 * _checker(16))
    ms_ssim(x, y).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_projector_schedule_ramps_up_holds_and_ramps_down():
    s = ProjectorSchedule(steps=400, peak_lr=0.1)
    assert s.lr(0) == 0.0
    assert s.lr(10) == pytest.approx(0.05)          # halfway up the 5% ramp
    assert s.lr(20) == pytest.approx(0.1)
    assert s.lr(300) == pytest.approx(0.1)          # the last 25% start here
    assert s.lr(350) == pytest.approx(0.05)         # cosine midpoint
    assert s.lr(400) == pytest.approx(0.0, abs=1e-12)
    assert s.lr(325) == pytest.approx(0.1 * (0.5 - 0.5 * math.cos(0.75 * math.pi)))


def test_pixel_msssim_loss_is_per_image_and_zero_on_identity():
    gen = torch.Generator().manual_seed(1)
    x, y = torch.rand(3, 3, 16, 16, generator=gen) * 2 - 1, torch.rand(3, 3, 16, 16, generator=gen) * 2 - 1
    loss = ReconstructionLoss("pixel+msssim", perceptual_weight=10, pixel_weight=1)
    batch = loss(x, y)
    one_by_one = torch.cat([loss(x[i:i + 1], y[i:i + 1]) for i in range(3)])
    assert torch.allclose(batch, one_by_one, atol=1e-5)  # float32 kernels differ per batch shape
    assert torch.allclose(loss(x, x), torch.zeros(3), atol=1e-5)
    assert (batch > 0).all()


def test_psnr_of_uint8_images():
    a = np.zeros((2, 4, 4, 3), np.uint8)
    b = a.copy()
    b[0] = 10  # MSE 100 -> 10 log10(255^2 / 100)
    got = psnr(a, b)
    assert got[0] == pytest.approx(10 * math.log10(255 ** 2 / 100), rel=1e-6)
    assert got[1] == 100.0


# -- LPIPS from a (fake) torch cache ----------------------------------------------------
# torchvision's feature layers as (index, out channels, in channels, kernel) of each conv.
VGG16_CONVS = [(0, 64, 3, 3), (2, 64, 64, 3), (5, 128, 64, 3), (7, 128, 128, 3), (10, 256, 128, 3),
               (12, 256, 256, 3), (14, 256, 256, 3), (17, 512, 256, 3), (19, 512, 512, 3),
               (21, 512, 512, 3), (24, 512, 512, 3), (26, 512, 512, 3), (28, 512, 512, 3)]
ALEXNET_CONVS = [(0, 64, 3, 11), (3, 192, 64, 5), (6, 384, 192, 3), (8, 256, 384, 3), (10, 256, 256, 3)]


def _fake_trunk_state(convs, seed: int) -> dict:
    """Random tensors under torchvision's key names (the classifier only as a broadcast view)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for index, out, inp, k in convs:
        state[f"features.{index}.weight"] = torch.randn(out, inp, k, k, generator=gen) * 0.05
        state[f"features.{index}.bias"] = torch.randn(out, generator=gen) * 0.01
    state["classifier.1.weight"] = torch.zeros(1).expand(4096, 9216)
    return state


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    return tmp_path


def test_missing_trunk_weights_are_one_line_naming_the_file_and_the_alternative(torch_home):
    assert perceptual.trunk_file("vgg") == torch_home / "hub" / "checkpoints" / "vgg16-397923af.pth"
    with pytest.raises(DganError) as err:
        ReconstructionLoss("lpips-vgg")
    line = err.value.one_line()
    assert "vgg16-397923af.pth" in line and "--loss pixel+msssim" in line and "\n" not in line


def test_lpips_loads_its_trunk_from_the_torch_cache(torch_home):
    # AlexNet: the same loading code as VGG, and a fraction of its construction time.
    state = _fake_trunk_state(ALEXNET_CONVS, seed=7)
    torch.save(state, perceptual.trunk_file("alex"))
    loss = ReconstructionLoss("lpips-alex")
    trunk = loss.lpips.net.state_dict()
    assert torch.equal(trunk["slice1.0.weight"], state["features.0.weight"])
    assert torch.equal(trunk["slice5.10.bias"], state["features.10.bias"])
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(2)) * 2 - 1
    y = x.flip(3).requires_grad_(True)
    d = loss.perceptual(x, y)
    assert d.shape == (2,) and (d > 0).all()
    assert torch.allclose(loss.perceptual(x, x), torch.zeros(2), atol=1e-5)
    d.sum().backward()
    assert torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0


def test_a_wrong_or_corrupt_trunk_file_is_refused(torch_home):
    path = perceptual.trunk_file("alex")
    torch.save(_fake_trunk_state(VGG16_CONVS, seed=0), path)  # VGG tensors under AlexNet's name
    with pytest.raises(CheckpointError, match="not the torchvision checkpoint"):
        perceptual.load_lpips("alex")
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="unreadable"):
        perceptual.load_lpips("alex")
