"""Helpers for the squeeze-and-span tests: a random 16px StyleGAN2, CLI calls, error checks."""
from __future__ import annotations

import torch

# Small everything: 8px student inputs, 16-d representations, a few steps.
TINY_TRAIN = ["--resolution", "8", "--batch-size", "8", "--dim", "16", "--steps", "2"]


def tiny_generator(seed: int = 0):
    from dgan_plugins.stylegan2.networks import Generator

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = Generator(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
                              mapping_kwargs=dict(num_layers=2),
                              synthesis_kwargs=dict(channel_base=128, channel_max=16))
    return generator.eval().requires_grad_(False)


def tiny_backbone():
    from dgan_plugins.stylegan2.backbone import StyleGAN2Backbone

    return StyleGAN2Backbone(tiny_generator())


def cli(*args) -> int:
    """Run `dgan -q ...` in-process (for session fixtures, where capsys is unavailable)."""
    from dgan_cli.cli import main
    from dgan_cli.console import set_quiet

    try:
        return main(["-q", *map(str, args)])
    finally:
        set_quiet(False)


def one_error_line(result) -> str:
    """The single stderr line of a user error (exit 2, no traceback)."""
    assert result.code == 2, (result.code, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.err, result.err
    return lines[0]

