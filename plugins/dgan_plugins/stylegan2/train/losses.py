"""StyleGAN2 objectives: non-saturating logistic loss, R1, path-length penalty.

Losses take discriminator logits (higher = "real"). Penalties are returned per
sample; the caller scales them for lazy regularisation (applied every k steps
with weight x k, as in the StyleGAN2 paper).
"""
from __future__ import annotations

import torch
from torch.nn.functional import softplus


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating loss: -log sigmoid(D(G(z)))."""
    return softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Logistic loss: -log sigmoid(D(x)) - log(1 - sigmoid(D(G(z))))."""
    return softplus(fake_logits).mean() + softplus(-real_logits).mean()


def reconstruction_loss(fake: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean L1 over pixels plus mean L1 over horizontal and vertical differences.

    The difference term weighs edges, so a small part (an eye, a mouth) costs
    as much to blur as to leave out.
    """
    return per_sample_reconstruction(fake, target).mean()


def per_sample_reconstruction(fake: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """`reconstruction_loss` of each sample ([N])."""
    def edges(x):
        return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]

    (fx, fy), (tx, ty) = edges(fake), edges(target)
    dims = (1, 2, 3)
    return (fake - target).abs().mean(dims) + (fx - tx).abs().mean(dims) + (fy - ty).abs().mean(dims)


def r1_penalty(real_images: torch.Tensor, real_logits: torch.Tensor) -> torch.Tensor:
    """Per-sample squared norm of dD/dx at real images (x must require grad)."""
    (grads,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grads.square().sum(dim=(1, 2, 3))


class PathLength:
    """Path-length penalty: |J_w^T y| should stay near its running mean.

    `y` is image-space noise scaled by 1/sqrt(pixels) so the length does not
    depend on resolution. The running mean is training state (checkpointed).
    """

    def __init__(self, decay: float = 0.01):
        self.decay = decay
        self.mean = torch.zeros([])

    def __call__(self, images: torch.Tensor, ws: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        height, width = images.shape[2:]
        noise = torch.randn(images.shape, generator=generator).to(images.device, images.dtype)
        noise = noise / (height * width) ** 0.5
        (grads,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
        lengths = grads.square().sum(dim=2).mean(dim=1).sqrt()
        mean = self.mean.to(lengths.device).lerp(lengths.mean().detach(), self.decay)
        self.mean = mean
        return (lengths - mean).square()

    def state_dict(self) -> dict:
        return {"mean": self.mean.detach().cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.mean = state["mean"].clone()
