"""Where every random number of a training run comes from.

Each draw is a pure function of (run seed, step, stream): there is no RNG
state to carry over, so a run resumed from the checkpoint of step k draws
exactly what the uninterrupted run drew from step k on.
"""
from __future__ import annotations

import numpy as np

# Streams: one per independent use, so adding a draw to one never shifts another.
INIT = 0  # network initialisation
DRAWS = 1  # latents, style-mixing cut-offs, augmentation, path-length noise
NOISE = 2  # the generator's per-pixel noise inputs (it draws from torch's global RNG)
GRID = 3  # the fixed latents of the sample grids


def stream_seed(seed: int, step: int, stream: int) -> int:
    """A 63-bit seed, decorrelated across (seed, step, stream) by numpy's SeedSequence."""
    low, high = np.random.SeedSequence([seed, step, stream]).generate_state(2, np.uint32)
    return (int(high) << 31) ^ int(low)


def step_generator(seed: int, step: int, stream: int = DRAWS):
    """A CPU torch.Generator for one step's draws."""
    import torch

    return torch.Generator().manual_seed(stream_seed(seed, step, stream))
