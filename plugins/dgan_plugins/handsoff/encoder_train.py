"""Training the latent encoder on the backbone's own samples (`dgan encoder train`).

Step k draws the batch of seeds seed + k*batch ... seed + (k+1)*batch - 1,
so a run depends only on its options: a resumed run (model, optimizer and
step restored from the checkpoint) continues exactly where it stopped. The
loss sums, over the refinement steps, latent MSE to the true w+ plus the
reconstruction loss (pixel + perceptual) of G at the estimate.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from dgan_cli.console import progress
from dgan_cli.errors import CheckpointError, DganError
from dgan_plugins.handsoff.encoder import (LatentEncoder, check_backbone, encode, read_encoder,
                                           save_encoder)
from dgan_plugins.handsoff.inversion import mean_w, render
from dgan_plugins.handsoff.losses import ReconstructionLoss, check_loss, psnr
from dgan_plugins.pipeline.sample import to_uint8

MAX_SEED = 2 ** 32 - 1
VALIDATION_SEEDS = [MAX_SEED - i for i in range(16)]  # never drawn by training


@dataclass(frozen=True)
class EncoderTrainConfig:
    batch: int = 8
    lr: float = 1e-3
    iterations: int = 3
    truncation: float = 1.0
    latent_weight: float = 1.0
    pixel_weight: float = 1.0
    perceptual_weight: float = 1.0
    loss: str = "lpips-vgg"
    width: int = 32
    seed: int = 0

    def check(self, steps: int) -> None:
        check_loss(self.loss)
        if self.batch < 1 or self.iterations < 1 or self.width < 1:
            raise DganError("--batch, --iterations and --width must be at least 1")
        if not self.lr > 0:
            raise DganError(f"--lr must be positive, got {self.lr}")
        if self.seed < 0 or self.seed + steps * self.batch > VALIDATION_SEEDS[-1]:
            raise DganError(f"--seed {self.seed} with {steps} steps of {self.batch} runs past the seed range")

    def as_dict(self) -> dict:
        return asdict(self)


class EncoderTrainer:
    """Holds the encoder, its optimizer and step; `run(steps)` trains up to that many steps."""

    def __init__(self, backbone, out, config: EncoderTrainConfig, device: str = "cpu"):
        self.backbone, self.out, self.config, self.device = backbone, Path(out), config, device
        self.identity = backbone.identity()
        self.resumed_from = 0
        if self.out.exists():
            data = read_encoder(self.out)
            check_backbone(self.out, data, self.identity)
            if data["config"] != config.as_dict():
                changed = sorted(k for k, v in config.as_dict().items() if data["config"].get(k) != v)
                raise DganError(f"{self.out}: an encoder trained with other options ({', '.join(changed)})",
                                hint="repeat the original options to resume, or choose another --out")
            try:
                self.encoder = LatentEncoder(**data["arch"]).to(device)
                self.encoder.load_state_dict(data["state_dict"])
                self.w_avg = data["w_avg"].to(device)
                self.optimizer = torch.optim.Adam(self.encoder.parameters(), lr=config.lr)
                self.optimizer.load_state_dict(data["optimizer"])
                self.step = self.resumed_from = int(data["step"])
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:
                raise CheckpointError(f"{self.out}: damaged encoder checkpoint ({type(exc).__name__})",
                                      hint="delete it to start over") from exc
        else:
            with torch.random.fork_rng(devices=[]):  # seeded initialisation, global RNG untouched
                torch.manual_seed(config.seed)
                self.encoder = LatentEncoder(backbone.resolution, backbone.num_ws, backbone.w_dim,
                                             width=config.width).to(device)
            self.w_avg = mean_w(backbone)
            self.optimizer = torch.optim.Adam(self.encoder.parameters(), lr=config.lr)
            self.step = 0
        self.loss = ReconstructionLoss(config.loss, config.perceptual_weight, config.pixel_weight, device)

    def _render(self, ws):
        return render(self.backbone, ws)

    def batch_seeds(self, step: int) -> list[int]:
        first = self.config.seed + step * self.config.batch
        return list(range(first, first + self.config.batch))

    def train_step(self) -> float:
        cfg = self.config
        with torch.no_grad():
            true_ws = self.backbone.sample(self.batch_seeds(self.step), truncation_psi=cfg.truncation)["ws"]
            targets = self._render(true_ws)
        self.encoder.train()
        total = 0.0
        for ws in encode(self.encoder, self._render, targets, self.w_avg, cfg.iterations):
            latent = ((ws - true_ws) ** 2).flatten(1).mean(dim=1)
            total = total + (cfg.latent_weight * latent + self.loss(self._render(ws), targets)).mean()
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        self.step += 1
        return float(total.detach()) / cfg.iterations

    def save(self) -> None:
        save_encoder(self.out, self.encoder, backbone=self.identity, w_avg=self.w_avg, config=self.config.as_dict(),
                     step=self.step, optimizer=self.optimizer.state_dict())

    def run(self, steps: int, checkpoint_every: int = 100) -> list[float]:
        losses = []
        with progress("Training encoder", total=steps) as bar:
            bar.advance(self.step)
            while self.step < steps:
                losses.append(self.train_step())
                if self.step % checkpoint_every == 0 or self.step == steps:
                    self.save()
                bar.advance(1)
        if not self.out.exists():
            self.save()
        return losses

    @torch.no_grad()
    def validate(self) -> dict:
        """Latent MSE and PSNR on held-out seeds: the encoder's estimate against w_avg's."""
        cfg = self.config
        self.encoder.eval()
        true_ws = self.backbone.sample(VALIDATION_SEEDS, truncation_psi=cfg.truncation)["ws"]
        targets = self._render(true_ws)
        start = self.w_avg.view(1, 1, -1).expand_as(true_ws)
        found = encode(self.encoder, self._render, targets, self.w_avg, cfg.iterations)[-1]
        real = to_uint8(targets)
        result = {}
        for name, ws in (("w_avg", start), ("encoder", found)):
            result[name] = {"latent_mse": float(((ws - true_ws) ** 2).mean()),
                            "psnr": float(psnr(real, to_uint8(self._render(ws))).mean())}
        return result
