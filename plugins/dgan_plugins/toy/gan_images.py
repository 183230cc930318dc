"""Generator images exactly as `dgan sample` makes them: seed -> z -> w+ -> image (noise mode const).

Same seed, same truncation -> the same bytes as `dgan sample` writes to its
folder, whatever the batch size (pipeline/sample.py's latents, noise mode and
uint8 rounding are reused, not repeated).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from dgan_cli.console import progress
from dgan_plugins.pipeline.sample import NOISE_MODE, to_uint8


def generate_images(backbone, seeds: Sequence[int], truncation: float, batch: int,
                    description: str = "Sampling the generator") -> np.ndarray:
    """uint8 [N, R, R, 3]: one image per seed."""
    import torch

    seeds = [int(s) for s in seeds]
    images = []
    with progress(description, total=len(seeds)) as bar, torch.no_grad():
        for lo in range(0, len(seeds), batch):
            chunk = seeds[lo:lo + batch]
            latents = backbone.sample(chunk, truncation_psi=truncation)
            generated, _ = backbone.synthesize(latents["ws"], layers=[], noise_mode=NOISE_MODE)
            images.append(to_uint8(generated))
            bar.advance(len(chunk))
    return np.concatenate(images)
