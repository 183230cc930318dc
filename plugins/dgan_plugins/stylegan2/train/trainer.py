"""One StyleGAN2 training step, and the state that a checkpoint must hold.

With the paired objective, G main also regresses G(z) on the data source's
own image of the same z (pixel + edge L1); with `paired` alone no
discriminator is run at all. Otherwise a step runs the official phases in
order: G main (non-saturating loss),
G path-length regularisation (every `pl_every` steps, when enabled), D main
(logistic loss), D R1 regularisation (every `r1_every` steps), then the G EMA
update. Lazy regularisation scales each penalty by its interval, and Adam's
lr and betas are adjusted by interval / (interval + 1) as in the paper.
"""
from __future__ import annotations

import copy

import torch

from dgan_plugins.stylegan2.train.augment import DiffAugment
from dgan_plugins.stylegan2.train.config import TrainConfig
from dgan_plugins.stylegan2.train.discriminator import Discriminator
from dgan_plugins.stylegan2.train.losses import (PathLength, discriminator_loss, generator_loss,
                                                 per_sample_reconstruction, r1_penalty, reconstruction_loss)
from dgan_plugins.stylegan2.train.randomness import INIT, NOISE, stream_seed, step_generator

ADAM_BETA2 = 0.99


def build_generator(config: TrainConfig):
    from dgan_plugins.stylegan2.networks import Generator

    return Generator(
        z_dim=config.z_dim, c_dim=0, w_dim=config.w_dim, img_resolution=config.resolution, img_channels=3,
        mapping_kwargs={"num_layers": config.mapping_layers, "lr_multiplier": config.mapping_lr},
        synthesis_kwargs={"channel_base": config.channel_base, "channel_max": config.channel_max,
                          "num_fp16_res": 0, "conv_clamp": None},
    )


def _adam(params, lr: float, interval: int | None) -> torch.optim.Adam:
    ratio = interval / (interval + 1) if interval else 1.0
    return torch.optim.Adam(params, lr=lr * ratio, betas=(0.0, ADAM_BETA2**ratio), eps=1e-8)


class Trainer:
    """G, G_ema, D and their optimisers on one device; `step()` advances them by one batch."""

    def __init__(self, config: TrainConfig, device: torch.device, render_latents=None):
        """`render_latents(z)`: uint8 NHWC images of float32 latents [N, z_dim], for the paired objective."""
        self.config, self.device = config, device
        self.render_latents = render_latents
        torch.manual_seed(stream_seed(config.seed, 0, INIT))
        # channels_last: oneDNN (CPU) and cuDNN convolutions run faster on NHWC tensors (~15% per CPU step).
        self.G = build_generator(config).to(device, memory_format=torch.channels_last).train()
        self.D = Discriminator(config.resolution, config.channel_base, config.channel_max)
        self.D = self.D.to(device, memory_format=torch.channels_last).train()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.G_opt = _adam(self.G.parameters(), config.lr, config.pl_every if config.pl_weight > 0 else None)
        self.D_opt = _adam(self.D.parameters(), config.lr, config.r1_every if config.r1_gamma > 0 else None)
        self.augment = DiffAugment(config.augment)
        self.path_length = PathLength()
        self.step_count = 0
        self.images_seen = 0
        self._no_c = torch.zeros([config.batch, 0], device=device)

    # -- one step ---------------------------------------------------------
    def step(self, real: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Train on one batch of real images ([N, 3, R, R], [-1, 1]; None for the paired
        objective alone, which needs no real images); returns detached losses."""
        cfg, step = self.config, self.step_count
        torch.manual_seed(stream_seed(cfg.seed, step, NOISE))
        rng = step_generator(cfg.seed, step)
        batch = cfg.batch if real is None else real.shape[0]
        stats: dict[str, torch.Tensor] = {}

        self.D.requires_grad_(False)
        if cfg.paired:
            loss_g, fake = self._paired_loss(batch, rng, stats)
            if cfg.adversarial:  # the same unmixed fakes face D: one G pass serves both losses
                loss_g = loss_g * cfg.recon_weight + generator_loss(self.D(self.augment(fake, rng)))
        else:
            fake, _ = self._generate(batch, rng)
            loss_g = generator_loss(self.D(self.augment(fake, rng)))
        self._apply(self.G_opt, loss_g)
        stats["loss_G"] = loss_g.detach()
        if not cfg.adversarial:
            self._update_ema(batch)
            self.step_count += 1
            self.images_seen += batch
            return stats
        real = real.contiguous(memory_format=torch.channels_last)

        if cfg.pl_weight > 0 and step % cfg.pl_every == 0:
            images, ws = self._generate(max(batch // 2, 1), rng)
            penalty = self.path_length(images, ws, rng).mean()
            self._apply(self.G_opt, penalty * (cfg.pl_weight * cfg.pl_every))
            stats["pl"] = penalty.detach()

        self.D.requires_grad_(True)
        with torch.no_grad():
            fake, _ = self._generate(batch, rng)
        real_logits = self.D(self.augment(real, rng))
        fake_logits = self.D(self.augment(fake, rng))
        loss_d = discriminator_loss(real_logits, fake_logits)
        self._apply(self.D_opt, loss_d)
        stats["loss_D"] = loss_d.detach()

        if cfg.r1_gamma > 0 and step % cfg.r1_every == 0:
            real = real.detach().requires_grad_(True)
            penalty = r1_penalty(real, self.D(self.augment(real, rng))).mean()
            self._apply(self.D_opt, penalty * (cfg.r1_gamma / 2 * cfg.r1_every))
            stats["r1"] = penalty.detach()

        self._update_ema(batch)
        self.step_count += 1
        self.images_seen += batch
        return stats

    def _paired_loss(self, batch: int, rng: torch.Generator, stats: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """L1 (pixels and edges) between G(z) and the source's image of z, on the batch of
        the hardest latents among paired_pool x batch; no style mixing, whose mixed
        latents have no image of their own."""
        pool = self.config.paired_pool
        z = torch.randn([batch * pool, self.config.z_dim], generator=rng)
        target = torch.from_numpy(self.render_latents(z.numpy())).to(self.device)
        target = target.permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1
        if pool > 1:
            with torch.no_grad():
                errors = torch.cat([
                    per_sample_reconstruction(self._paired_fake(z[i:i + batch]), target[i:i + batch])
                    for i in range(0, len(z), batch)])
            hardest = errors.argsort(descending=True)[:batch].sort().values.cpu()
            z, target = z[hardest], target[hardest.to(self.device)]
            stats["recon_pool"] = errors.mean()
        fake = self._paired_fake(z)
        loss = reconstruction_loss(fake, target)
        stats["recon"] = loss.detach()
        return loss, fake

    def _paired_fake(self, z: torch.Tensor) -> torch.Tensor:
        # Every pass tracks w_avg, the mined batch's too: with a pool of K, K of the K + 1
        # updates per step come from the prior (the shipped toy run was trained this way).
        ws = self.G.mapping(z.to(self.device), self._no_c[:len(z)])
        return self.G.synthesis(ws, noise_mode="random")

    def _apply(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    def _generate(self, batch: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Images and their ws; with probability `style_mixing` the ws switch latents at a random layer."""
        z = torch.randn([batch, self.config.z_dim], generator=rng).to(self.device)
        c = self._no_c[:batch]
        ws = self.G.mapping(z, c)
        num_ws = ws.shape[1]
        mix = torch.rand([], generator=rng).item() < self.config.style_mixing
        if mix and num_ws > 1:
            cutoff = int(torch.randint(1, num_ws, [], generator=rng))
            z2 = torch.randn([batch, self.config.z_dim], generator=rng).to(self.device)
            ws = torch.cat([ws[:, :cutoff], self.G.mapping(z2, c, skip_w_avg_update=True)[:, cutoff:]], dim=1)
        return self.G.synthesis(ws, noise_mode="random"), ws

    @torch.no_grad()
    def _update_ema(self, batch: int) -> None:
        """G_ema <- beta * G_ema + (1 - beta) * G, beta from a half-life of ema_kimg images."""
        cfg = self.config
        half_life = cfg.ema_kimg * 1000
        if cfg.ema_rampup > 0:
            half_life = min(half_life, self.images_seen * cfg.ema_rampup)
        beta = 0.5 ** (batch / max(half_life, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.copy_(p.lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    # -- checkpoint state -------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "step": self.step_count,
            "images_seen": self.images_seen,
            "G": self.G.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "D": self.D.state_dict(),
            "G_opt": self.G_opt.state_dict(),
            "D_opt": self.D_opt.state_dict(),
            "path_length": self.path_length.state_dict(),
            "augment": {"policy": self.augment.policy},
        }

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.D.load_state_dict(state["D"])
        self.G_opt.load_state_dict(state["G_opt"])
        self.D_opt.load_state_dict(state["D_opt"])
        self.path_length.load_state_dict(state["path_length"])
        self.step_count = int(state["step"])
        self.images_seen = int(state["images_seen"])
