"""Sample grids: the same latents rendered by G_ema at every snapshot, so
progress shows as the same faces (or cars...) sharpening over time."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dgan_cli.atomic import atomic_output
from dgan_plugins.stylegan2.train.randomness import GRID, step_generator


def grid_latents(seed: int, count: int, z_dim: int) -> torch.Tensor:
    """The run's fixed grid latents (CPU)."""
    return torch.randn([count, z_dim], generator=step_generator(seed, 0, GRID))


@torch.no_grad()
def render_grid(generator, z: torch.Tensor, chunk: int) -> torch.Tensor:
    """G(z) with constant noise, in chunks of `chunk` latents; images stay on G's device."""
    device = next(generator.parameters()).device
    images = []
    for part in z.split(chunk):
        part = part.to(device)
        images.append(generator(part, torch.zeros([len(part), 0], device=device), noise_mode="const"))
    return torch.cat(images)


def save_grid(images: torch.Tensor, path: Path, columns: int) -> None:
    """[N, C, H, W] images in [-1, 1] -> one PNG, `columns` images per row (written atomically)."""
    from PIL import Image

    pixels = ((images.float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    n, channels, height, width = pixels.shape
    rows = -(-n // columns)
    canvas = np.zeros((rows * height, columns * width, channels), dtype=np.uint8)
    for index, image in enumerate(pixels):
        row, col = divmod(index, columns)
        canvas[row * height:(row + 1) * height, col * width:(col + 1) * width] = image.transpose(1, 2, 0)
    with atomic_output(path) as tmp:
        Image.fromarray(canvas.squeeze(2) if channels == 1 else canvas).save(tmp, format="PNG")
