"""rosinality/stylegan2-pytorch `g_ema` state dicts -> official layout.

The two implementations compute the same function (same equalised-lr scales,
demodulation, FIR kernels and noise placement; no clamping), so conversion is
a renaming plus a few reshapes:

    style.{i+1}                 -> mapping.fc{i}
    input.input[0]              -> synthesis.b4.const
    conv1 / to_rgb1             -> synthesis.b4.conv1 / .torgb
    convs.{2j}, convs.{2j+1}    -> synthesis.b{8*2^j}.conv0 / .conv1
    to_rgbs.{j}                 -> synthesis.b{8*2^j}.torgb
    noises.noise_{k}            -> the k-th conv's noise_const
    *.conv.modulation           -> *.affine
    *.noise.weight [1]          -> *.noise_strength []
    *.activate.bias             -> *.bias

rosinality's training never stores the mean w: a converted checkpoint's
"latent_avg" is used when present, else w_avg is estimated as the mean of
mapping(z) over W_AVG_SAMPLES fixed-seed z (what its own `mean_latent` does).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import torch

from dgan_cli.errors import CheckpointError
from dgan_plugins.stylegan2 import ops
from dgan_plugins.stylegan2.networks import Generator

W_AVG_SAMPLES = 10_000
W_AVG_SEED = 0
LR_MULTIPLIER = 0.01  # rosinality's lr_mlp; its training script never changes it
IGNORED = re.compile(r"(convs\.\d+\.conv\.blur\.kernel|to_rgbs\.\d+\.upsample\.kernel)")


def to_official(state: dict, latent_avg, path: Path) -> tuple[dict, dict]:
    """(Generator init kwargs, official-named tensors) from a rosinality g_ema state dict.

    The FIR filter buffers are left to the generator's defaults, and
    mapping.w_avg is present only when `latent_avg` is given.
    """
    state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    config = infer_config(state, path)
    try:
        tensors = dict(_renamed(state, config, path))
    except (IndexError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: g_ema has a tensor of an unexpected shape ({exc})") from None
    if latent_avg is not None:
        w_dim = config["w_dim"]
        if not isinstance(latent_avg, torch.Tensor) or latent_avg.numel() != w_dim:
            raise CheckpointError(f"{path}: latent_avg does not have {w_dim} values")
        tensors["mapping.w_avg"] = latent_avg.reshape(w_dim)
    return config, tensors


def infer_config(state: dict, path: Path) -> dict:
    """Generator init kwargs from tensor shapes (size, style_dim, n_mlp, channels, blur kernel)."""
    try:
        n_mlp = len({m.group(1) for k in state if (m := re.fullmatch(r"style\.(\d+)\.weight", k))})
        style_dim = state["style.1.weight"].shape[1]
        n_convs = len({m.group(1) for k in state if (m := re.fullmatch(r"convs\.(\d+)\.conv\.weight", k))})
        resolution = 4 * 2 ** (n_convs // 2)
        channels = {4: state["conv1.conv.weight"].shape[1]}
        for j in range(n_convs // 2):
            channels[8 * 2 ** j] = state[f"convs.{2 * j}.conv.weight"].shape[1]
        kernel_size = state["conv1.conv.weight"].shape[-1]
        img_channels = state["to_rgb1.conv.weight"].shape[1]
    except (KeyError, IndexError) as exc:
        raise CheckpointError(f"{path}: g_ema is not a rosinality StyleGAN2 generator (missing {exc})") from None
    if n_convs % 2:
        raise CheckpointError(f"{path}: g_ema has an odd number of convs ({n_convs})")
    base, cmax = _channel_rule(channels, path)
    synthesis = dict(channel_base=base, channel_max=cmax, conv_clamp=None, architecture="skip",
                     resample_filter=_blur_taps(state, path), use_noise=True, activation="lrelu",
                     kernel_size=kernel_size)
    mapping = dict(num_layers=n_mlp, lr_multiplier=LR_MULTIPLIER, activation="lrelu")
    return dict(z_dim=style_dim, c_dim=0, w_dim=style_dim, img_resolution=resolution, img_channels=img_channels,
                mapping_kwargs=mapping, synthesis_kwargs=synthesis)


def _channel_rule(channels: dict[int, int], path: Path) -> tuple[int, int]:
    """channel_base, channel_max with min(base // res, max) == channels[res] for every res."""
    cmax = max(channels.values())
    below = [res for res in sorted(channels) if channels[res] < cmax]
    base = channels[below[0]] * below[0] if below else cmax * max(channels)
    if any(min(base // res, cmax) != c for res, c in channels.items()):
        raise CheckpointError(f"{path}: channel counts {channels} follow no channel_base/channel_max rule")
    return base, cmax


def _blur_taps(state: dict, path: Path) -> list[float]:
    kernel = state.get("convs.0.conv.blur.kernel")
    if kernel is None:
        return [1, 3, 3, 1]
    taps = kernel.sum(dim=1)
    if not torch.allclose(ops.setup_filter(taps.tolist()) * 4, kernel, atol=1e-6):
        raise CheckpointError(f"{path}: the blur kernel is not a separable FIR filter")
    return [float(t) / float(taps.min()) for t in taps]


def _renamed(state: dict, config: dict, path: Path):
    used = set()

    def take(key):
        if key not in state:
            raise CheckpointError(f"{path}: g_ema lacks '{key}'")
        used.add(key)
        return state[key]

    for i in range(config["mapping_kwargs"]["num_layers"]):
        yield f"mapping.fc{i}.weight", take(f"style.{i + 1}.weight")
        yield f"mapping.fc{i}.bias", take(f"style.{i + 1}.bias")
    yield "synthesis.b4.const", take("input.input")[0]
    layers = [("b4.conv1", "conv1")]
    rgbs = [("b4.torgb", "to_rgb1")]
    for j in range(int(math.log2(config["img_resolution"])) - 2):
        res = 8 * 2 ** j
        layers += [(f"b{res}.conv0", f"convs.{2 * j}"), (f"b{res}.conv1", f"convs.{2 * j + 1}")]
        rgbs.append((f"b{res}.torgb", f"to_rgbs.{j}"))
    for noise_index, (ours, theirs) in enumerate(layers):
        yield f"synthesis.{ours}.weight", take(f"{theirs}.conv.weight")[0]
        yield f"synthesis.{ours}.affine.weight", take(f"{theirs}.conv.modulation.weight")
        yield f"synthesis.{ours}.affine.bias", take(f"{theirs}.conv.modulation.bias")
        yield f"synthesis.{ours}.noise_strength", take(f"{theirs}.noise.weight").reshape([])
        yield f"synthesis.{ours}.bias", take(f"{theirs}.activate.bias")
        yield f"synthesis.{ours}.noise_const", take(f"noises.noise_{noise_index}")[0, 0]
    for ours, theirs in rgbs:
        yield f"synthesis.{ours}.weight", take(f"{theirs}.conv.weight")[0]
        yield f"synthesis.{ours}.affine.weight", take(f"{theirs}.conv.modulation.weight")
        yield f"synthesis.{ours}.affine.bias", take(f"{theirs}.conv.modulation.bias")
        yield f"synthesis.{ours}.bias", take(f"{theirs}.bias").reshape(-1)
    extra = sorted(k for k in state if k not in used and not IGNORED.fullmatch(k))
    if extra:
        raise CheckpointError(f"{path}: g_ema has tensors a StyleGAN2 generator of this size does not ({extra[0]})")


@torch.no_grad()
def estimate_w_avg(generator: Generator) -> torch.Tensor:
    """Mean of mapping(z) over fixed-seed z (no truncation, no running-mean update)."""
    rng = torch.Generator().manual_seed(W_AVG_SEED)
    total = torch.zeros(generator.w_dim, dtype=torch.float64)
    remaining = W_AVG_SAMPLES
    while remaining:
        n = min(remaining, 1000)
        z = torch.randn([n, generator.z_dim], generator=rng)
        total += generator.mapping(z, skip_w_avg_update=True)[:, 0].double().sum(dim=0)
        remaining -= n
    return (total / W_AVG_SAMPLES).float()
