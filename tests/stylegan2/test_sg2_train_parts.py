"""Building blocks of `dgan backbone train`: augmentation, losses, D, data, config."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dgan_cli.errors import DganError
from dgan_plugins.stylegan2.train import augment as aug
from dgan_plugins.stylegan2.train.config import new_config, resumed_config
from dgan_plugins.stylegan2.train.data import EpochSampler, FolderImages
from dgan_plugins.stylegan2.train.discriminator import Discriminator, minibatch_stddev
from dgan_plugins.stylegan2.train.losses import (PathLength, discriminator_loss, generator_loss,
                                                 per_sample_reconstruction, r1_penalty, reconstruction_loss)
from dgan_plugins.stylegan2.train.trainer import Trainer


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors on a shared 2-core machine: one thread avoids OpenMP spin-waits."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- augmentation ---------------------------------------------------------
def test_augment_same_generator_state_gives_same_bytes():
    images = torch.randn(4, 3, 16, 16)
    pipe = aug.DiffAugment("color,translation,cutout")
    assert torch.equal(pipe(images, _gen(3)), pipe(images, _gen(3)))
    assert not torch.equal(pipe(images, _gen(3)), pipe(images, _gen(4)))


def test_augment_none_is_identity_and_bad_policy_is_a_user_error():
    images = torch.randn(2, 3, 8, 8)
    assert aug.DiffAugment("none")(images, _gen()) is images
    with pytest.raises(DganError, match="unknown augmentation 'rotate'"):
        aug.DiffAugment("color,rotate")


def test_translation_moves_content_by_whole_pixels_and_zero_fills():
    images = torch.arange(1, 8 * 8 + 1, dtype=torch.float32).reshape(1, 1, 8, 8).repeat(16, 1, 1, 1)
    out = aug.translation(images, _gen(1))
    for sample in out[:, 0]:
        nonzero = sample.nonzero()
        top, left = nonzero.min(0).values.tolist()
        bottom, right = nonzero.max(0).values.tolist()
        # The surviving window equals the original shifted window.
        dy = top if top > 0 else -(7 - bottom)
        dx = left if left > 0 else -(7 - right)
        src = images[0, 0, top - dy:bottom - dy + 1, left - dx:right - dx + 1]
        assert torch.equal(sample[top:bottom + 1, left:right + 1], src)
        assert abs(dy) <= 1 and abs(dx) <= 1  # 8px image: at most round(8 / 8) = 1 pixel


def test_cutout_zeroes_at_most_a_half_side_square_and_gradients_flow():
    images = torch.ones(8, 3, 16, 16, requires_grad=True)
    out = aug.cutout(images, _gen(2))
    zeros = (out[:, 0] == 0).sum(dim=(1, 2))
    assert (zeros <= 8 * 8).all() and (zeros > 0).all()
    aug.DiffAugment("color,translation,cutout")(images, _gen(0)).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


# -- losses ---------------------------------------------------------------
def test_losses_prefer_the_right_logits():
    zeros, high, low = torch.zeros(4), torch.full((4,), 5.0), torch.full((4,), -5.0)
    assert discriminator_loss(high, low) < discriminator_loss(zeros, zeros) < discriminator_loss(low, high)
    assert discriminator_loss(zeros, zeros).item() == pytest.approx(2 * np.log(2))
    assert generator_loss(high) < generator_loss(zeros) < generator_loss(low)


def test_reconstruction_is_the_mean_of_its_per_sample_values():
    fake, target = torch.randn(3, 3, 8, 8, dtype=torch.float64), torch.zeros(3, 3, 8, 8, dtype=torch.float64)
    fake[1] = 0  # a perfect sample
    per_sample = per_sample_reconstruction(fake, target)
    assert per_sample[1] == 0 and per_sample[0] > 0 and per_sample[2] > 0
    assert reconstruction_loss(fake, target).item() == pytest.approx(per_sample.mean().item(), rel=1e-12)


def test_paired_pool_regresses_on_the_latents_the_generator_gets_most_wrong():
    """Targets are black where z[0] < 0, mid-grey elsewhere; G starts out drawing grey
    (its toRGB weights zeroed), so the mined batch takes every black one it can."""
    def render(z):
        images = np.full((len(z), 8, 8, 3), 128, np.uint8)
        images[z[:, 0] < 0] = 0
        return images

    config = new_config({"data": "toy", "objective": "paired", "paired_pool": 4, "batch": 4, "channel_base": 32,
                         "channel_max": 8, "z_dim": 8, "w_dim": 8, "mapping_layers": 1, "device": "cpu"},
                        resolution=8, data_images=10)
    trainer = Trainer(config, torch.device("cpu"), render_latents=render)
    with torch.no_grad():
        for name, param in trainer.G.synthesis.named_parameters():
            if ".torgb.weight" in name or ".torgb.bias" in name:
                param.zero_()
    regressed = []
    draw = trainer._paired_fake
    trainer._paired_fake = lambda z: (regressed.append(z), draw(z))[1]
    stats = trainer.step(None)
    pool = torch.cat(regressed[:4])  # the no-grad passes over the pool, then the regressed batch
    black = int((pool[:, 0] < 0).sum())
    assert len(regressed) == 5 and 0 < black < 16
    assert int((regressed[4][:, 0] < 0).sum()) == min(4, black)
    assert stats["recon"] > stats["recon_pool"]  # the mined batch is harder than the pool's average
    with pytest.raises(DganError, match="--paired-pool must be at least 1, got 0"):
        new_config({"data": "toy", "paired_pool": 0}, resolution=8, data_images=10)


def test_training_a_tiny_gan_moves_both_losses_the_right_way():
    """D alone learns to separate +1 from -1 images; G alone then learns to fool the frozen D."""
    torch.manual_seed(0)
    disc = Discriminator(8, channel_base=64, channel_max=8)
    real, fake = torch.full((4, 3, 8, 8), 0.8), torch.nn.Parameter(torch.full((4, 3, 8, 8), -0.8))
    opt_d = torch.optim.Adam(disc.parameters(), lr=0.01, betas=(0.0, 0.99))
    first = discriminator_loss(disc(real), disc(fake.detach())).item()
    for _ in range(20):
        loss = discriminator_loss(disc(real), disc(fake.detach()))
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
    assert loss.item() < first - 0.5
    disc.requires_grad_(False)
    opt_g = torch.optim.Adam([fake], lr=0.05, betas=(0.0, 0.99))
    first = generator_loss(disc(fake)).item()
    for _ in range(20):
        loss = generator_loss(disc(fake))
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
    assert loss.item() < first - 0.5
    assert fake.mean() > -0.8  # moved towards the real images


def test_r1_of_a_linear_critic_is_its_squared_weight_norm():
    weight = torch.randn(3 * 4 * 4)
    images = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = images.flatten(1) @ weight
    assert torch.allclose(r1_penalty(images, logits), weight.square().sum().expand(5))


def test_path_length_tracks_the_running_mean_of_jacobian_norms():
    ws = torch.randn(4, 2, 6, requires_grad=True)
    images = (ws.sum(dim=1) * 3).reshape(4, 1, 1, 6).expand(4, 3, 1, 6) + 0  # linear in ws
    reg = PathLength(decay=0.5)
    penalty = reg(images, ws, _gen())
    assert penalty.shape == (4,) and reg.mean > 0
    restored = PathLength(decay=0.5)
    restored.load_state_dict(reg.state_dict())
    assert torch.equal(restored.mean, reg.mean)


# -- discriminator --------------------------------------------------------
def test_discriminator_shapes_and_channel_schedule():
    disc = Discriminator(16, channel_base=128, channel_max=16)
    assert disc(torch.randn(6, 3, 16, 16)).shape == (6,)
    assert disc.from_rgb.weight.shape[0] == 8  # 128 // 16
    assert disc.epilogue_conv.weight.shape[:2] == (16, 17)  # capped at 16, + the stddev channel
    assert len(disc.blocks) == 2  # 16 -> 8 -> 4


def test_minibatch_stddev_groups_strided_samples_and_accepts_odd_batches():
    x = torch.zeros(4, 2, 1, 1)
    x[0] = 1.0  # group size 4 -> one group containing every sample
    out = minibatch_stddev(x, group_size=4)
    assert out.shape == (4, 3, 1, 1)
    assert torch.allclose(out[:, 2], torch.full((4, 1, 1), float(np.sqrt(3 / 16))), atol=1e-4)
    assert minibatch_stddev(torch.randn(5, 2, 4, 4)).shape == (5, 3, 4, 4)  # 5 is prime: groups of 1


# -- data -----------------------------------------------------------------
def _write_png(path, size, value=0):
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)


def test_folder_reads_same_size_images_in_sorted_order(tmp_path):
    for i in range(3):
        _write_png(tmp_path / f"{i}.png", (8, 8), value=i * 10)
    (tmp_path / "notes.txt").write_text("ignored")
    source = FolderImages(tmp_path)
    assert len(source) == 3 and source.resolution == 8
    assert source.batch([2, 0])[:, 0, 0, 0].tolist() == [20, 0]


def test_folder_errors_are_one_line_user_errors(tmp_path):
    with pytest.raises(DganError, match="image folder not found"):
        FolderImages(tmp_path / "missing")
    with pytest.raises(DganError, match="no PNG/JPG images"):
        FolderImages(tmp_path)
    _write_png(tmp_path / "a.png", (8, 8))
    _write_png(tmp_path / "b.png", (16, 16))
    with pytest.raises(DganError, match="images differ in size: a.png is 8x8, b.png is 16x16"):
        FolderImages(tmp_path)
    (tmp_path / "b.png").unlink()
    (tmp_path / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DganError, match="unreadable image .*c.png"):
        FolderImages(tmp_path)
    (tmp_path / "c.png").unlink()
    _write_png(tmp_path / "a.png", (12, 12))
    with pytest.raises(DganError, match="power-of-two"):
        FolderImages(tmp_path)


def test_epoch_sampler_covers_each_epoch_once_and_needs_no_state():
    sampler = EpochSampler(size=10, batch=4, seed=7)
    drawn = np.concatenate([sampler.indices(step) for step in range(5)])  # 20 draws = 2 epochs
    assert sorted(drawn[:10]) == list(range(10)) and sorted(drawn[10:]) == list(range(10))
    fresh = EpochSampler(size=10, batch=4, seed=7)
    assert np.array_equal(fresh.indices(3), sampler.indices(3))
    assert not np.array_equal(EpochSampler(10, 4, seed=8).indices(0), sampler.indices(0))


# -- config ---------------------------------------------------------------
def test_config_defaults_heuristics_and_resume_rules(tmp_path):
    config = new_config({"data": "toy", "augment": "translation, color"}, resolution=64, data_images=100)
    assert config.r1_gamma == pytest.approx(0.0002 * 64**2 / 32) and config.ema_kimg == 10
    assert config.augment == "translation,color"
    recorded = config.as_dict()
    same = resumed_config(recorded, {"steps": 20000, "device": "cpu", "lr": None, "augment": "translation,color"})
    assert same.steps == 20000 and same.lr == config.lr
    with pytest.raises(DganError, match="started with --lr 0.0025, not 0.001"):
        resumed_config(recorded, {"lr": 0.001})
    with pytest.raises(DganError, match="--toy-images 100"):
        resumed_config(recorded, {"toy_images": 50})
    with pytest.raises(DganError, match="--batch must be at least 1"):
        new_config({"data": "toy", "batch": 0}, resolution=64, data_images=10)
    assert config.paired_pool == 1
    assert resumed_config(recorded, {"paired_pool": 2, "objective": "paired+gan"}).paired_pool == 2
    old_run = {k: v for k, v in recorded.items() if k != "paired_pool"}  # written before the option
    assert resumed_config(old_run, {}).paired_pool == 1


def test_folder_takes_top_level_photos_or_a_labelled_folders_images(tmp_path):
    for i in range(2):
        _write_png(tmp_path / f"{i}.png", (8, 8), value=10)
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8), mode="L").save(tmp_path / "masks" / "0.png")
    assert len(FolderImages(tmp_path)) == 2  # subfolders (masks/, depth/) are not searched

    labelled = tmp_path / "labelled"
    (labelled / "images").mkdir(parents=True)
    (labelled / "labels.json").write_text("{}")
    for i in range(3):
        _write_png(labelled / "images" / f"{i}.png", (8, 8))
    (labelled / "depth").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint16)).save(labelled / "depth" / "0.png")
    source = FolderImages(labelled)
    assert len(source) == 3 and source.describe() == f"3 images in {labelled}"

    nested = tmp_path / "nested"
    (nested / "photos").mkdir(parents=True)
    _write_png(nested / "photos" / "a.png", (8, 8))
    with pytest.raises(DganError, match="no PNG/JPG images") as caught:
        FolderImages(nested)
    assert "photos" in caught.value.hint


def test_folder_refuses_masks_and_depth_maps_in_one_line(tmp_path):
    _write_png(tmp_path / "a.png", (8, 8))
    Image.fromarray(np.zeros((8, 8), np.uint16)).save(tmp_path / "b.png")
    with pytest.raises(DganError, match=r"b.png: a 16-bit image \(mode I;16\), not a photo"):
        FolderImages(tmp_path)
    Image.fromarray(np.zeros((8, 8), np.uint8), mode="L").convert("P").save(tmp_path / "b.png")
    with pytest.raises(DganError, match=r"b.png: a palette image \(mode P\), not a photo"):
        FolderImages(tmp_path)
