"""The numeric building blocks of StyleGAN2, written with plain PyTorch ops.

No compiled extensions: FIR filtering is a depthwise conv2d (or conv_transpose2d
when upsampling), bias + activation is elementwise, and the modulated
convolution runs the whole batch as one grouped convolution. The conventions
(padding, gains, filter normalisation) follow the official stylegan2-ada-pytorch
ops so that results match its reference implementation to float rounding.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

LRELU_SLOPE = 0.2
# Gain that keeps the activation's second moment unchanged ("he" gain).
ACTIVATION_GAINS = {"linear": 1.0, "relu": math.sqrt(2), "lrelu": math.sqrt(2)}


def setup_filter(taps: Sequence[float] = (1, 3, 3, 1)) -> torch.Tensor:
    """The normalised FIR filter buffer, shaped like the official one.

    A 1-D list becomes its 2-D outer product (kept 1-D when it has 8 or more
    taps, as the official code does), normalised to unit DC gain.
    """
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim == 0:
        f = f[None]
    if f.ndim == 1 and f.numel() < 8:
        f = torch.outer(f, f)
    return f / f.sum()


def _padding4(padding) -> tuple[int, int, int, int]:
    """int | (x, y) | (x0, x1, y0, y1) -> (x0, x1, y0, y1)."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    return tuple(padding)


def _filter2d_weight(f: torch.Tensor, channels: int, gain: float, dtype) -> torch.Tensor:
    """A [C, 1, kh, kw] depthwise kernel from a 1-D (separable) or 2-D filter."""
    if f.ndim == 1:
        f = torch.outer(f, f)
    return (f * gain).to(dtype)[None, None].expand(channels, 1, *f.shape)


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1, padding=0,
              gain: float = 1.0) -> torch.Tensor:
    """Upsample (zero insertion), pad, FIR-filter (true convolution), downsample.

    Same definition as the official `upfirdn2d`, for up == 1 or down == 1.
    Negative padding crops.
    """
    if up > 1 and down > 1:
        raise ValueError("upfirdn2d: up and down at once is not supported")
    px0, px1, py0, py1 = _padding4(padding)
    channels = x.shape[1]
    weight = _filter2d_weight(f, channels, gain, x.dtype)
    kh, kw = weight.shape[2:]
    if up > 1:
        # conv_transpose2d == zero insertion + full convolution; crop/pad it to
        # the window the official zero-insert-then-pad formulation selects.
        x = F.conv_transpose2d(x, weight, stride=up, groups=channels)
        return F.pad(x, [px0 - kw + 1, px1 + up - kw, py0 - kh + 1, py1 + up - kh])
    x = F.pad(x, [px0, px1, py0, py1])
    # conv2d correlates: flip the filter to convolve.
    return F.conv2d(x, weight.flip([2, 3]), stride=down, groups=channels)


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """2x FIR upsampling that keeps the DC level (the skip path between toRGBs)."""
    kw = f.shape[-1]
    p0, p1 = (kw + up - 1) // 2, (kw - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2) -> torch.Tensor:
    """2x FIR downsampling (low-pass, then keep every other pixel)."""
    kw = f.shape[-1]
    p0, p1 = (kw - down + 1) // 2, (kw - down) // 2
    return upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))


def conv2d_resample(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None = None, up: int = 1,
                    down: int = 1, padding: int = 0, groups: int = 1, flip_weight: bool = True) -> torch.Tensor:
    """Convolution with optional FIR up- or downsampling, padding given once.

    `flip_weight=True` correlates (like torch conv2d); False convolves. The
    official layers correlate at native resolution and convolve when upsampling.
    """
    out_channels, in_per_group, kh, kw = w.shape
    px0, px1, py0, py1 = _padding4(padding)
    if up > 1:
        fw = fh = f.shape[-1]
        # The transposed conv fuses zero insertion with the 3x3 conv; the FIR
        # filter then smooths the result (padding relative to the upsampled image).
        px0 += (fw + up - 1) // 2 - (kw - 1)
        px1 += (fw - up) // 2 - (kw - up)
        py0 += (fh + up - 1) // 2 - (kh - 1)
        py1 += (fh - up) // 2 - (kh - up)
        if groups == 1:
            wt = w.transpose(0, 1)
        else:
            wt = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
            wt = wt.reshape(groups * in_per_group, out_channels // groups, kh, kw)
        if flip_weight:
            wt = wt.flip([2, 3])
        pxt, pyt = max(min(-px0, -px1), 0), max(min(-py0, -py1), 0)
        x = F.conv_transpose2d(x, wt, stride=up, padding=[pyt, pxt], groups=groups)
        return upfirdn2d(x, f, padding=(px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt), gain=up * up)
    if not flip_weight:
        w = w.flip([2, 3])
    if down > 1:
        fw = fh = f.shape[-1]
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
        py0 += (fh - down + 1) // 2
        py1 += (fh - down) // 2
        x = upfirdn2d(x, f, padding=(px0, px1, py0, py1))
        return F.conv2d(x, w, stride=down, groups=groups)
    if px0 == px1 and py0 == py1:
        return F.conv2d(x, w, padding=[py0, px0], groups=groups)
    return F.conv2d(F.pad(x, [px0, px1, py0, py1]), w, groups=groups)


def bias_act(x: torch.Tensor, b: torch.Tensor | None = None, act: str = "linear", gain: float | None = None,
             clamp: float | None = None) -> torch.Tensor:
    """x + b (per channel, dim 1), activation, gain, then clamp to +-clamp."""
    if b is not None:
        x = x + b.reshape([1, -1] + [1] * (x.ndim - 2))
    if act == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE)
    elif act == "relu":
        x = F.relu(x)
    elif act != "linear":
        raise ValueError(f"unsupported activation {act!r}")
    gain = ACTIVATION_GAINS[act] if gain is None else gain
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     noise: torch.Tensor | None = None, up: int = 1, padding: int = 0,
                     resample_filter: torch.Tensor | None = None, demodulate: bool = True,
                     flip_weight: bool = True, fused: bool = True) -> torch.Tensor:
    """StyleGAN2's modulated (and by default demodulated) convolution.

    weight [O, I, k, k] is scaled per sample by styles [N, I]; demodulation
    rescales each output channel to unit expected norm (epsilon 1e-8). `fused`
    runs one grouped conv with per-sample weights; the non-fused form scales
    the activations instead (cheaper with gradients) and is numerically close.
    """
    batch = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    w = dcoefs = None
    if demodulate or fused:
        w = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)  # [N, O, I, k, k]
    if demodulate:
        dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [N, O]
    if not fused:
        x = x * styles.reshape(batch, -1, 1, 1)
        x = conv2d_resample(x, weight, f=resample_filter, up=up, padding=padding, flip_weight=flip_weight)
        if demodulate:
            x = x * dcoefs.reshape(batch, -1, 1, 1)
        return x + noise if noise is not None else x
    if demodulate:
        w = w * dcoefs.reshape(batch, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    x = conv2d_resample(x, w.reshape(-1, in_channels, kh, kw), f=resample_filter, up=up, padding=padding,
                        groups=batch, flip_weight=flip_weight)
    x = x.reshape(batch, -1, *x.shape[2:])
    return x + noise if noise is not None else x
