"""The learning-rate schedule of the StyleGAN2 projector, used by HandsOff's latent refinement.

At progress t = step / steps the rate is peak * rampup(t) * rampdown(t):
a linear ramp from 0 over the first `rampup` fraction of the steps, and a
half-cosine ramp down to 0 over the last `rampdown` fraction.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ProjectorSchedule:
    steps: int = 500
    peak_lr: float = 0.1
    rampup: float = 0.05
    rampdown: float = 0.25

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if not (0 < self.rampup <= 1 and 0 < self.rampdown <= 1):
            raise ValueError("rampup and rampdown are fractions of the steps in (0, 1]")

    def lr(self, step: int) -> float:
        t = step / self.steps
        down = min(1.0, (1.0 - t) / self.rampdown)
        down = 0.5 - 0.5 * math.cos(down * math.pi)
        up = min(1.0, t / self.rampup)
        return self.peak_lr * down * up
