"""The StyleGAN2 / StyleGAN2-ADA generator (dgan's own implementation).

Module names, parameter/buffer names, their registration order and the init
arguments are those of the official stylegan2-ada-pytorch `training/networks.py`,
so `state_dict()` keys are identical and an official G_ema's tensors load
as they are. Everything runs in float32 (the official fp16 options are
accepted and recorded, but have no effect).
"""
from __future__ import annotations

import copy
import math

import numpy as np
import torch

from dgan_plugins.stylegan2 import ops

NOISE_MODES = ("const", "random", "none")
MAPPING_KEYS = {"num_layers", "embed_features", "layer_features", "activation", "lr_multiplier", "w_avg_beta"}
# num_fp16_res / fp16_channels_last only matter for the official fp16 path.
SYNTHESIS_KEYS = {"channel_base", "channel_max", "num_fp16_res", "conv_clamp", "architecture",
                  "resample_filter", "use_noise", "activation", "kernel_size", "fp16_channels_last"}


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def check_activation(activation: str) -> None:
    if activation not in ops.ACTIVATION_GAINS:
        raise ValueError(f"unsupported activation {activation!r} (use one of {sorted(ops.ACTIVATION_GAINS)})")


class FullyConnectedLayer(torch.nn.Module):
    """Dense layer with equalised learning rate: weights stored / lr_multiplier."""

    def __init__(self, in_features, out_features, bias=True, activation="linear", lr_multiplier=1, bias_init=0):
        super().__init__()
        check_activation(activation)
        self.activation = activation
        self.weight = torch.nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = torch.nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x):
        w = self.weight * self.weight_gain
        b = self.bias
        if b is not None and self.bias_gain != 1:
            b = b * self.bias_gain
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return ops.bias_act(x.matmul(w.t()), b, act=self.activation)


class MappingNetwork(torch.nn.Module):
    """z (+ embedded c) -> w, broadcast to num_ws copies, with truncation."""

    def __init__(self, z_dim, c_dim, w_dim, num_ws, num_layers=8, embed_features=None, layer_features=None,
                 activation="lrelu", lr_multiplier=0.01, w_avg_beta=0.995):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        if embed_features is None:
            embed_features = w_dim
        if c_dim == 0:
            embed_features = 0
        if layer_features is None:
            layer_features = w_dim
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            layer = FullyConnectedLayer(features[idx], features[idx + 1], activation=activation,
                                        lr_multiplier=lr_multiplier)
            setattr(self, f"fc{idx}", layer)
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z, c=None, truncation_psi=1, truncation_cutoff=None, skip_w_avg_update=False):
        x = None
        if self.z_dim > 0:
            _check_shape(z, "z", self.z_dim)
            x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            if c is None:
                raise ValueError(f"this generator is conditional: pass c of shape [N, {self.c_dim}]")
            _check_shape(c, "c", self.c_dim)
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1) if x is not None else y
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)

        # Training tracks the running mean of w (the truncation centre).
        if self.w_avg_beta is not None and self.training and not skip_w_avg_update:
            self.w_avg.copy_(x.detach().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))

        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            if self.w_avg_beta is None:
                raise ValueError("truncation needs w_avg, which this mapping network does not track")
            if self.num_ws is None or truncation_cutoff is None:
                x = self.w_avg.lerp(x, truncation_psi)
            else:
                head = self.w_avg.lerp(x[:, :truncation_cutoff], truncation_psi)
                x = torch.cat([head, x[:, truncation_cutoff:]], dim=1)
        return x


class SynthesisLayer(torch.nn.Module):
    """Modulated 3x3 conv (optionally 2x up), + noise, + bias, lrelu, clamp."""

    def __init__(self, in_channels, out_channels, w_dim, resolution, kernel_size=3, up=1, use_noise=True,
                 activation="lrelu", resample_filter=(1, 3, 3, 1), conv_clamp=None):
        super().__init__()
        check_activation(activation)
        self.resolution, self.up, self.use_noise = resolution, up, use_noise
        self.activation, self.conv_clamp = activation, conv_clamp
        self.register_buffer("resample_filter", ops.setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.act_gain = ops.ACTIVATION_GAINS[activation]
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = torch.nn.Parameter(torch.zeros([]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x, w, noise_mode="const", fused_modconv=True):
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, not {noise_mode!r}")
        styles = self.affine(w)
        noise = None
        if self.use_noise and noise_mode == "random":
            noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device)
            noise = noise * self.noise_strength
        if self.use_noise and noise_mode == "const":
            noise = self.noise_const * self.noise_strength
        # Native-resolution convs correlate; the upsampling conv convolves (official convention).
        x = ops.modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up, padding=self.padding,
                                 resample_filter=self.resample_filter, flip_weight=(self.up == 1),
                                 fused=fused_modconv)
        return ops.bias_act(x, self.bias, act=self.activation, gain=self.act_gain, clamp=self.conv_clamp)


class ToRGBLayer(torch.nn.Module):
    """Modulated 1x1 conv to image channels, no demodulation."""

    def __init__(self, in_channels, out_channels, w_dim, kernel_size=1, conv_clamp=None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = torch.nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)

    def forward(self, x, w, fused_modconv=True):
        styles = self.affine(w) * self.weight_gain
        x = ops.modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused_modconv)
        return ops.bias_act(x, self.bias, clamp=self.conv_clamp)


class SynthesisBlock(torch.nn.Module):
    """One resolution: (const | conv0 up) -> conv1 -> toRGB added to the upsampled image."""

    def __init__(self, in_channels, out_channels, w_dim, resolution, img_channels, is_last, architecture="skip",
                 resample_filter=(1, 3, 3, 1), conv_clamp=None, **layer_kwargs):
        super().__init__()
        if architecture != "skip":
            raise ValueError(f"architecture {architecture!r} is not supported (only 'skip')")
        self.in_channels, self.w_dim, self.resolution = in_channels, w_dim, resolution
        self.img_channels, self.is_last, self.architecture = img_channels, is_last, architecture
        self.register_buffer("resample_filter", ops.setup_filter(resample_filter))
        self.num_conv = 0
        self.num_torgb = 0
        if in_channels == 0:
            self.const = torch.nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim=w_dim, resolution=resolution, up=2,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp, **layer_kwargs)
            self.num_conv += 1
        # conv1 never resamples; like the official code it keeps the default filter buffer.
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim=w_dim, resolution=resolution,
                                    conv_clamp=conv_clamp, **layer_kwargs)
        self.num_conv += 1
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp)
        self.num_torgb += 1

    def conv_names(self) -> list[str]:
        return ["conv1"] if self.in_channels == 0 else ["conv0", "conv1"]

    def forward(self, x, img, ws, noise_mode="const", fused_modconv=None, features=None, capture=()):
        """ws: [N, num_conv + num_torgb, w_dim]. Conv outputs named in `capture` go into `features`."""
        if fused_modconv is None:
            fused_modconv = not self.training
        w_iter = iter(ws.unbind(dim=1))
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
        for name in self.conv_names():
            x = getattr(self, name)(x, next(w_iter), noise_mode=noise_mode, fused_modconv=fused_modconv)
            key = f"b{self.resolution}.{name}"
            if key in capture:
                features[key] = x
        if img is not None:
            img = ops.upsample2d(img, self.resample_filter)
        y = self.torgb(x, next(w_iter), fused_modconv=fused_modconv)
        img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(torch.nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, img_channels, R, R]."""

    def __init__(self, w_dim, img_resolution, img_channels, channel_base=32768, channel_max=512, num_fp16_res=0,
                 **block_kwargs):
        super().__init__()
        log2 = int(math.log2(img_resolution)) if img_resolution >= 4 else 0
        if img_resolution < 4 or 2 ** log2 != img_resolution:
            raise ValueError(f"img_resolution must be a power of two >= 4, not {img_resolution}")
        block_kwargs.pop("fp16_channels_last", None)
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.img_resolution_log2 = log2
        self.num_fp16_res = num_fp16_res
        self.block_resolutions = [2 ** i for i in range(2, log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        if channels[img_resolution] < 1:
            raise ValueError(f"channel_base {channel_base} leaves no channels at {img_resolution}px "
                             f"(needs at least {img_resolution})")
        self.num_ws = 0
        for res in self.block_resolutions:
            in_channels = channels[res // 2] if res > 4 else 0
            is_last = res == img_resolution
            block = SynthesisBlock(in_channels, channels[res], w_dim=w_dim, resolution=res,
                                   img_channels=img_channels, is_last=is_last, **block_kwargs)
            self.num_ws += block.num_conv + (block.num_torgb if is_last else 0)
            setattr(self, f"b{res}", block)

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def layer_specs(self) -> list[tuple[str, int, int]]:
        """(name, channels, resolution) of every conv output, in forward order."""
        return [(f"b{b.resolution}.{name}", getattr(b, name).weight.shape[0], b.resolution)
                for b in self.blocks() for name in b.conv_names()]

    def render(self, ws, noise_mode="const", fused_modconv=None, capture=()):
        """(image, {layer name: conv output}) for the layers named in `capture`."""
        _check_ws(ws, self.num_ws, self.w_dim)
        ws = ws.to(torch.float32)
        features = {}
        x = img = None
        w_idx = 0
        for block in self.blocks():
            # Consecutive blocks share one w: a block's toRGB w is the next block's conv0 w.
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            x, img = block(x, img, block_ws, noise_mode=noise_mode, fused_modconv=fused_modconv,
                           features=features, capture=capture)
        return img, features

    def forward(self, ws, noise_mode="const", fused_modconv=None, force_fp32=True):
        """`force_fp32` is accepted for call compatibility; dgan always computes in float32."""
        return self.render(ws, noise_mode=noise_mode, fused_modconv=fused_modconv)[0]


class Generator(torch.nn.Module):
    """G(z, c) = synthesis(mapping(z, c)), with the official init signature."""

    def __init__(self, z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs=None,
                 synthesis_kwargs=None):
        super().__init__()
        mapping_kwargs = dict(mapping_kwargs or {})
        synthesis_kwargs = dict(synthesis_kwargs or {})
        _check_keys(mapping_kwargs, MAPPING_KEYS, "mapping_kwargs")
        _check_keys(synthesis_kwargs, SYNTHESIS_KEYS, "synthesis_kwargs")
        self._config = plain_config(dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
                                         img_channels=img_channels, mapping_kwargs=mapping_kwargs,
                                         synthesis_kwargs=synthesis_kwargs))
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels,
                                          **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws, **mapping_kwargs)

    @property
    def init_kwargs(self) -> dict:
        """The constructor arguments: Generator(**G.init_kwargs) rebuilds the architecture."""
        return copy.deepcopy(self._config)

    def forward(self, z, c=None, truncation_psi=1, truncation_cutoff=None, noise_mode="const",
                fused_modconv=None, force_fp32=True):
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, fused_modconv=fused_modconv)


def plain_config(value):
    """A JSON-ready copy: mappings -> dicts, tuples -> lists, numpy scalars -> numbers."""
    if isinstance(value, dict):
        return {str(k): plain_config(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_config(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_keys(kwargs: dict, allowed: set, what: str) -> None:
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ValueError(f"unknown {what} key {unknown[0]!r}")


def _check_shape(t, name: str, dim: int) -> None:
    if t.ndim != 2 or t.shape[1] != dim:
        raise ValueError(f"{name} must have shape [N, {dim}], got {list(t.shape)}")


def _check_ws(ws, num_ws: int, w_dim: int) -> None:
    if ws.ndim != 3 or ws.shape[1] != num_ws or ws.shape[2] != w_dim:
        raise ValueError(f"ws must have shape [N, {num_ws}, {w_dim}], got {list(ws.shape)}")
