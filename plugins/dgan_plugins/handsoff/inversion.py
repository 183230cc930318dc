"""Per-image latent optimisation (HandsOff's refinement of the encoder's latent).

Each image's latent starts at its initial latent (encoder output or w_avg)
and is optimised with Adam under the StyleGAN2-projector learning-rate
schedule to minimise

    perceptual_weight * perceptual(G(w), x) + pixel_weight * MSE(G(w), x)
        + latent_weight * MSE(w, w_init)

with the generator's noise fixed ("const"). The latent of the best
reconstruction term seen (the latent penalty excluded) is kept. A batch is a
set of independent problems: the losses are summed per image and Adam works
element-wise, so batching does not couple images.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from dgan_cli.errors import DganError
from dgan_plugins.handsoff.schedule import ProjectorSchedule

SPACES = ("wplus", "w")
NOISE_MODE = "const"
W_AVG_SAMPLES = 10000  # as the StyleGAN2 projector
W_AVG_SEED = 0


@dataclass(frozen=True)
class InversionConfig:
    steps: int = 500
    peak_lr: float = 0.1
    rampup: float = 0.05
    rampdown: float = 0.25
    latent_weight: float = 1.0
    space: str = "wplus"

    def __post_init__(self):
        if self.space not in SPACES:
            raise DganError(f"--space must be one of {', '.join(SPACES)}, got '{self.space}'")
        if self.steps < 0:
            raise DganError(f"--steps must be 0 or more, got {self.steps}")
        if not self.peak_lr > 0:
            raise DganError(f"--lr must be positive, got {self.peak_lr}")
        if not (0 < self.rampup <= 1 and 0 < self.rampdown <= 1):
            raise DganError("--rampup and --rampdown are fractions of the steps in (0, 1]")
        if not self.latent_weight >= 0:
            raise DganError(f"--latent-weight must be 0 or more, got {self.latent_weight}")

    def as_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def mean_w(backbone, samples: int = W_AVG_SAMPLES, seed: int = W_AVG_SEED, chunk: int = 1000) -> torch.Tensor:
    """The mean of mapping(z) over `samples` seeded z ~ N(0, I): [w_dim] on the backbone's device.

    Estimated rather than read from the mapping's running average, which an
    untrained or converted generator may not hold.
    """
    mapping = backbone.generator.mapping
    if getattr(backbone, "c_dim", 0):
        raise DganError("inversion of class-conditional generators is not supported")
    gen = torch.Generator().manual_seed(seed)
    total = torch.zeros(backbone.w_dim, dtype=torch.float64)
    for start in range(0, samples, chunk):
        z = torch.randn(min(chunk, samples - start), backbone.z_dim, generator=gen)
        w = mapping(z.to(_device(backbone)), None)[:, 0]
        total += w.double().sum(dim=0).cpu()
    return (total / samples).to(torch.float32).to(_device(backbone))


def render(backbone, ws: torch.Tensor) -> torch.Tensor:
    """Images of w+ latents, differentiable w.r.t. ws."""
    return backbone.synthesize(ws, layers=[], noise_mode=NOISE_MODE)[0]


def invert_batch(backbone, targets: torch.Tensor, init_ws: torch.Tensor, loss, config: InversionConfig,
                 on_step=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Optimise latents for target images [N, 3, R, R] in [-1, 1] from init_ws [N, num_ws, w_dim].

    Returns (best w+ [N, num_ws, w_dim], its reconstruction loss [N]).
    `on_step()` is called once per optimisation step (progress bars).
    """
    init_ws = init_ws.detach()
    start = init_ws.mean(dim=1, keepdim=True) if config.space == "w" else init_ws
    latent = start.clone().requires_grad_(True)
    schedule = ProjectorSchedule(max(config.steps, 1), config.peak_lr, config.rampup, config.rampdown)
    optimizer = torch.optim.Adam([latent], betas=(0.9, 0.999), lr=0.0)
    best_ws = init_ws.clone()
    best_loss = torch.full((len(targets),), float("inf"), device=targets.device)

    def as_wplus(value):
        return value.expand(-1, init_ws.shape[1], -1)

    for step in range(config.steps + 1):  # the extra pass scores the final latent
        ws = as_wplus(latent)
        with torch.set_grad_enabled(step < config.steps):
            reconstruction = loss(render(backbone, ws), targets)
        better = reconstruction.detach() < best_loss
        best_loss = torch.where(better, reconstruction.detach(), best_loss)
        best_ws[better] = ws.detach()[better]
        if step == config.steps:
            break
        penalty = config.latent_weight * ((ws - init_ws) ** 2).flatten(1).mean(dim=1)
        for group in optimizer.param_groups:
            group["lr"] = schedule.lr(step)
        optimizer.zero_grad(set_to_none=True)
        (reconstruction + penalty).sum().backward()
        optimizer.step()
        if on_step is not None:
            on_step()
    return best_ws, best_loss


def _device(backbone):
    return next(backbone.generator.parameters()).device
