"""Tiny StyleGAN2 generators for tests, and the rosinality key layout."""
from __future__ import annotations

import torch

from dgan_plugins.stylegan2 import ops
from dgan_plugins.stylegan2.networks import Generator

TINY = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
            mapping_kwargs=dict(num_layers=2),
            synthesis_kwargs=dict(channel_base=128, channel_max=16, conv_clamp=256))


def tiny_generator(seed: int = 0, **overrides) -> Generator:
    """A random tiny generator whose every tensor matters.

    Official init leaves noise strengths, biases and w_avg at zero; here they
    are random too, so a test that drops one of them fails.
    """
    config = {**TINY, **overrides}
    torch.manual_seed(seed)
    generator = Generator(**config).eval()
    rng = torch.Generator().manual_seed(seed + 1000)
    with torch.no_grad():
        for name, tensor in generator.state_dict().items():
            if name.endswith(("noise_strength", ".bias", "w_avg")):
                tensor.copy_(0.3 * torch.randn(tensor.shape, generator=rng))
    return generator


def to_rosinality_state(generator: Generator) -> dict:
    """generator's tensors under rosinality/stylegan2-pytorch's g_ema names and shapes."""
    sd = generator.state_dict()
    out = {}
    for i in range(generator.mapping.num_layers):
        out[f"style.{i + 1}.weight"] = sd[f"mapping.fc{i}.weight"]
        out[f"style.{i + 1}.bias"] = sd[f"mapping.fc{i}.bias"]
    out["input.input"] = sd["synthesis.b4.const"][None]
    convs = [("b4.conv1", "conv1")]
    rgbs = [("b4.torgb", "to_rgb1")]
    blur = ops.setup_filter([1, 3, 3, 1]) * 4
    for j, res in enumerate(generator.synthesis.block_resolutions[1:]):
        convs += [(f"b{res}.conv0", f"convs.{2 * j}"), (f"b{res}.conv1", f"convs.{2 * j + 1}")]
        rgbs.append((f"b{res}.torgb", f"to_rgbs.{j}"))
        out[f"convs.{2 * j}.conv.blur.kernel"] = blur
        out[f"to_rgbs.{j}.upsample.kernel"] = blur
    for k, (ours, theirs) in enumerate(convs):
        out[f"{theirs}.conv.weight"] = sd[f"synthesis.{ours}.weight"][None]
        out[f"{theirs}.conv.modulation.weight"] = sd[f"synthesis.{ours}.affine.weight"]
        out[f"{theirs}.conv.modulation.bias"] = sd[f"synthesis.{ours}.affine.bias"]
        out[f"{theirs}.noise.weight"] = sd[f"synthesis.{ours}.noise_strength"].reshape(1)
        out[f"{theirs}.activate.bias"] = sd[f"synthesis.{ours}.bias"]
        out[f"noises.noise_{k}"] = sd[f"synthesis.{ours}.noise_const"][None, None]
    for ours, theirs in rgbs:
        out[f"{theirs}.conv.weight"] = sd[f"synthesis.{ours}.weight"][None]
        out[f"{theirs}.conv.modulation.weight"] = sd[f"synthesis.{ours}.affine.weight"]
        out[f"{theirs}.conv.modulation.bias"] = sd[f"synthesis.{ours}.affine.bias"]
        out[f"{theirs}.bias"] = sd[f"synthesis.{ours}.bias"].reshape(1, -1, 1, 1)
    return {k: v.clone() for k, v in out.items()}
