"""Small StyleGAN1 generators in the DatasetGAN release's layout, a reference forward pass, and
release-style training folders made from them."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

CHANNELS = {64: [16, 16, 8, 8, 4], 128: [16, 16, 8, 8, 4, 4]}
Z_DIM = 32
NOISE_SCALE = 0.01


def release_state(resolution: int, seed: int = 0) -> dict:
    """A "trained-looking" state dict with the release's keys: nonzero biases, noise and style weights."""
    from dgan_plugins.stylegan1.networks import Generator

    template = Generator(resolution, CHANNELS[resolution], z_dim=Z_DIM, w_dim=Z_DIM)
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, value in template.state_dict().items():
        if name.endswith("intermediate.kernel"):
            state[name] = value.clone()  # the blur kernel: a fixed buffer in the release files
            continue
        state[name] = torch.randn(value.shape, generator=gen) * _scale(name)
    return state


def _scale(name: str) -> float:
    if name.startswith("g_mapping."):
        # Stored mapping values are 1 / lrmul = 100 times their effective size.
        return 100.0 if name.endswith("weight") else 30.0
    if "noise" in name:
        return NOISE_SCALE
    if name.startswith("g_synthesis.torgb."):
        return 0.3  # images in about [-1, 1], as a trained generator's
    return 0.3 if name.endswith("bias") else 1.0


def save_release(path: Path, state: dict) -> Path:
    torch.save(state, path)
    return path


def reference_forward(state: dict, z: torch.Tensor, avg: torch.Tensor, cutoff: int, noise: list, psi: float = 0.7):
    """The release's forward pass restated in float64, independently of dgan's modules.

    `noise` holds one [1, 1, r, r] map per epilogue, in forward order. Returns
    (image, [feature maps in the release's tap order]).
    """
    s = {k: v.double() for k, v in state.items()}
    x = z.double() * (z.double().square().mean(1, keepdim=True) + 1e-8).rsqrt()
    layer = 0
    while f"g_mapping.dense{layer}.weight" in s:
        w, b = s[f"g_mapping.dense{layer}.weight"], s[f"g_mapping.dense{layer}.bias"]
        x = F.leaky_relu(x @ (w * math.sqrt(2) / math.sqrt(w.shape[1]) * 0.01).T + b * 0.01, 0.2)
        layer += 1
    res = sorted({int(k.split(".")[2].split("x")[0]) for k in s if k.startswith("g_synthesis.blocks.")})
    num_ws = 2 * len(res)
    ws = x[:, None].repeat(1, num_ws, 1)
    ws[:, :cutoff] = avg[:cutoff].double() + psi * (ws[:, :cutoff] - avg[:cutoff].double())
    noise = iter(noise)

    def conv(x, key, up=False):
        w = s[key + ".weight"]
        w = w * (math.sqrt(2) if w.shape[-1] == 3 else 1.0) / math.sqrt(w[0].numel())
        if not up:
            return F.conv2d(x, w, s[key + ".bias"], padding=w.shape[-1] // 2)
        if 2 * x.shape[-1] >= 128:
            # A stride-2 transposed conv, written as zero insertion + a correlation with the flipped kernel.
            k4 = sum(F.pad(w, (a, 1 - a, b, 1 - b)) for a in (0, 1) for b in (0, 1))
            n, c, h, _ = x.shape
            dilated = x.new_zeros(n, c, 2 * h - 1, 2 * h - 1)
            dilated[:, :, ::2, ::2] = x
            y = F.conv2d(F.pad(dilated, (2, 2, 2, 2)), k4.flip(-1, -2))
        else:
            y = F.conv2d(x.repeat_interleave(2, 2).repeat_interleave(2, 3), w, padding=1)
        kernel = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64)
        kernel = (kernel[:, None] * kernel[None]) / 16
        y = F.conv2d(F.pad(y, (1, 1, 1, 1)), kernel.expand(y.shape[1], 1, 3, 3), groups=y.shape[1])
        return y + s[key + ".bias"].view(1, -1, 1, 1)

    def epilogue(x, key, w_row):
        x = x + s[key + ".top_epi.noise.weight"].view(1, -1, 1, 1) * next(noise).double()
        x = F.leaky_relu(x, 0.2)
        mean = x.mean((2, 3), keepdim=True)
        x = (x - mean) / torch.sqrt(((x - mean) ** 2).mean((2, 3), keepdim=True) + 1e-5)
        lin_w = s[key + ".style_mod.lin.weight"]
        style = w_row @ (lin_w / math.sqrt(lin_w.shape[1])).T + s[key + ".style_mod.lin.bias"]
        c = x.shape[1]
        return x * (1 + style[:, :c, None, None]) + style[:, c:, None, None]

    taps = []
    for i, r in enumerate(res):
        key = f"g_synthesis.blocks.{r}x{r}"
        if r == 4:
            x = s[key + ".const"].expand(len(z), -1, -1, -1) + s[key + ".bias"].view(1, -1, 1, 1)
            y = conv(epilogue(x, key + ".epi1", ws[:, 0]), key + ".conv")
        else:
            y = conv(epilogue(conv(x, key + ".conv0_up", up=True), key + ".epi1", ws[:, 2 * i]), key + ".conv1")
        x = epilogue(y, key + ".epi2", ws[:, 2 * i + 1])
        taps += [x, y]
    return conv(x, "g_synthesis.torgb"), taps


def write_release_folder(out: Path, backbone, n: int, seed: int = 0, num_classes: int = 5, image_size=None,
                         latent_shift: int = 0) -> Path:
    """A release-style training folder (`backbone` gets its average latent): image_{i}.jpg (random noise, JPEG), image_mask{i}.npy,
    latent_stylegan1.npy (float64 z) and avg_latent_stylegan1.npy ([18, w_dim]).

    Masks label brightness bands of the render (so they follow the image), with a
    few-pixel speck of class 1 that the release's clean-up removes.
    `latent_shift=1` pairs latent i with image i+1 as make_training_data.py does.
    """
    from PIL import Image

    out.mkdir(parents=True, exist_ok=True)
    # Like make_training_data.py: its own average latent (mean w of random z), not the loader's estimate.
    avg = backbone.generator.mean_w(500, seed=seed + 1)
    backbone.generator.avg_latent.copy_(avg.expand(backbone.num_ws, -1))
    z = np.random.RandomState(seed).randn(n + latent_shift, backbone.z_dim)
    size = image_size or backbone.resolution
    torch.manual_seed(seed)
    for i in range(n):
        with torch.no_grad():
            ws = backbone.map_z(z[i:i + 1], 0.7)
            img = backbone.synthesize(ws, layers=[], noise_mode="random")[0]
        if size != img.shape[-1]:
            img = F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False)
        pixels = (img[0] * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        Image.fromarray(pixels).save(out / f"image_{i}.jpg", quality=95)
        grey = pixels.mean(-1)
        mask = np.digitize(grey, np.quantile(grey, np.linspace(0, 1, num_classes + 1)[1:-1])).astype(np.int64)
        mask[mask == 1] = 2
        mask[:2, :2] = 1
        np.save(out / f"image_mask{i}.npy", mask[None].astype(np.uint8))
    np.save(out / "latent_stylegan1.npy", z[latent_shift:])
    np.save(out / "avg_latent_stylegan1.npy", avg.expand(18, -1).double().numpy())
    return out
