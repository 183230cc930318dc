"""A tiny stand-in generator (16px, layers at 4/8/16) and helpers to build labelled caches.

Shared by the interpreter, head and pipeline tests (their conftests put this
folder on sys.path). It follows the `Backbone` protocol and registers as the
backbone plugin `standin` (another weight seed gives another identity).
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dgan_cli import hookimpl
from dgan_cli.cache import CacheSpec, CacheWriter
from dgan_cli.specs import BackboneSpec
from dgan_cli.types import LayerInfo

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny tensors gain nothing from threads, and on a busy machine two threads thrash."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class _Net(nn.Module):
    def __init__(self, w_dim: int):
        super().__init__()
        self.const = nn.Parameter(torch.randn(6, 4, 4))
        self.mapping = nn.Linear(8, w_dim)
        self.styles = nn.ModuleList(nn.Linear(w_dim, c) for c in (6, 5, 4, 3))
        self.c4 = nn.Conv2d(6, 6, 3, padding=1)
        self.c8 = nn.Conv2d(6, 5, 3, padding=1)
        self.c16a = nn.Conv2d(5, 4, 3, padding=1)
        self.c16b = nn.Conv2d(4, 3, 3, padding=1)
        self.rgb = nn.Conv2d(3, 3, 1)

    def forward(self, ws):
        def mod(x, i):
            return x * (1 + self.styles[i](ws[:, i]))[:, :, None, None]

        up = lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
        x = self.const.expand(len(ws), -1, -1, -1)
        b4 = F.leaky_relu(mod(self.c4(x), 0), 0.2)
        b8 = F.leaky_relu(mod(self.c8(up(b4)), 1), 0.2)
        b16a = F.leaky_relu(mod(self.c16a(up(b8)), 2), 0.2)
        b16b = F.leaky_relu(mod(self.c16b(b16a), 3), 0.2)
        return torch.tanh(self.rgb(b16b)), {"b4": b4, "b8": b8, "b16a": b16a, "b16b": b16b}


class StandinBackbone:
    """Backbone protocol over `_Net`; deterministic from `weight_seed`."""

    resolution, z_dim, w_dim, num_ws = 16, 8, 8, 4
    layers = (LayerInfo("b4", 6, 4), LayerInfo("b8", 5, 8), LayerInfo("b16a", 4, 16), LayerInfo("b16b", 3, 16))

    def __init__(self, weight_seed: int = 0, device: str = "cpu"):
        torch.manual_seed(weight_seed)
        self.generator = _Net(self.w_dim).eval().to(device)
        self.device = device
        blob = b"".join(p.detach().cpu().numpy().tobytes() for p in self.generator.parameters())
        self._sha = hashlib.sha256(blob).hexdigest()

    def identity(self) -> dict:
        return {"name": "standin", "sha256": self._sha, "config": {"resolution": 16}}

    def sample(self, seeds, truncation_psi: float = 1.0) -> dict:
        z = torch.from_numpy(np.stack([np.random.RandomState(int(s)).randn(self.z_dim) for s in seeds]).astype(np.float32))
        with torch.no_grad():
            w = self.generator.mapping(z.to(self.device)) * truncation_psi
        return {"z": z, "ws": w[:, None].repeat(1, self.num_ws, 1)}

    def synthesize(self, ws, layers=None, noise_mode: str = "const"):
        images, feats = self.generator(ws.to(self.device))
        names = [l.name for l in self.layers] if layers is None else list(layers)
        return images, {name: feats[name] for name in names}


class SlowStandin(StandinBackbone):
    """The same generator, pausing after each forward pass and counting them in $STANDIN_CALLS_FILE."""

    def synthesize(self, ws, layers=None, noise_mode: str = "const"):
        out = super().synthesize(ws, layers, noise_mode)
        self.calls = getattr(self, "calls", 0) + 1
        Path(os.environ["STANDIN_CALLS_FILE"]).write_text(str(self.calls))
        time.sleep(0.2)
        return out


def backbone_spec(weight_seed: int = 0, name: str = "standin", cls=StandinBackbone) -> BackboneSpec:
    return BackboneSpec(name=name, summary="test stand-in generator",
                        load=lambda source, device="cpu": cls(weight_seed, device))


class StandinPlugin:
    """Registers `standin` (weight seed 0), `standin-other` (weight seed 1) and `standin-slow` (= standin)."""

    @hookimpl
    def dgan_backbones(self):
        return [backbone_spec(0), backbone_spec(1, "standin-other"), backbone_spec(0, "standin-slow", SlowStandin)]


def registry_with_standin():
    """The installed plugins plus the stand-in backbones."""
    from dgan_cli.registry import discover

    registry = discover()
    registry.register(StandinPlugin(), "standin")
    return registry


def render(backbone: StandinBackbone, seeds):
    """Images uint8 [N, H, W, 3], native features {name: [N, C, r, r]} (float32), latents."""
    lat = backbone.sample(seeds)
    with torch.no_grad():
        images, feats = backbone.synthesize(lat["ws"])
    images = ((images.permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    return images, {k: v.numpy() for k, v in feats.items()}, lat


def upsampled(feats: dict, size: int = 16) -> np.ndarray:
    """Concatenated upsampled features [N, C, H, W] (the naive layout, fine at 16px)."""
    maps = [F.interpolate(torch.from_numpy(np.asarray(feats[l.name], np.float32)), size=(size, size),
                          mode="bilinear", align_corners=False) for l in StandinBackbone.layers]
    return torch.cat(maps, dim=1).numpy()


def make_cache(path, seeds, labels: dict | None = None, schemas: dict | None = None,
               backbone: StandinBackbone | None = None):
    """Write a complete cache of the stand-in's samples; `labels` {kind: [N, ...]} with `schemas`."""
    backbone = backbone or StandinBackbone()
    images, feats, lat = render(backbone, seeds)
    spec = CacheSpec(image_shape=(16, 16, 3), layers=StandinBackbone.layers,
                     latents={"z": (8,), "ws": (4, 8)}, provenance={"backbone": backbone.identity()})
    writer = CacheWriter.open(path, spec)
    for kind, schema in (schemas or {}).items():
        writer.declare_labels(kind, schema)
    writer.append(images=images, seeds=list(seeds), latents={k: v.numpy() for k, v in lat.items()},
                  features={k: v.astype(np.float16) for k, v in feats.items()}, labels=labels or {})
    writer.finish()
    return feats


def main_with_standin(argv) -> int:
    """`dgan` with the stand-in backbones registered (for subprocess tests)."""
    import dgan_cli.registry as reg
    from dgan_cli.cli import main

    reg._REGISTRY = registry_with_standin()
    return main(argv)


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main_with_standin(sys.argv[1:]))


def rule_segmentation(feats: dict, classes: int = 3, seed: int = 0) -> np.ndarray:
    """Labels a linear rule of the upsampled features decides (so the MLPs can learn them): int16 [N, H, W]."""
    up = upsampled(feats)
    proj = np.random.RandomState(seed).randn(classes, up.shape[1]).astype(np.float32)
    scores = np.einsum("kc,nchw->nkhw", proj, up)
    scores -= scores.mean(axis=(0, 2, 3), keepdims=True)  # every class gets pixels
    return scores.argmax(1).astype(np.int16)


def segmentation_cache(path, seeds=(1, 2, 3, 4), classes: int = 3, backbone=None):
    """A stand-in cache whose samples all carry rule-based segmentation labels; returns the labels."""
    from dgan_cli.registry import default_registry

    backbone = backbone or StandinBackbone()
    _, feats, _ = render(backbone, seeds)
    labels = rule_segmentation(feats, classes)
    head = default_registry().get("head", "segmentation").build([f"class{k}" for k in range(classes)])
    make_cache(path, seeds, {"segmentation": labels}, {"segmentation": head.label_schema((16, 16))}, backbone)
    return labels


KEYPOINTS = np.array([[5.3, 4.6, 1.0], [11.2, 10.7, 1.0], [0.0, 0.0, 0.0]], np.float32)


def rule_keypoints(n: int) -> np.ndarray:
    """Two visible keypoints near fixed spots (jittered by up to 0.6 px per sample), one invisible."""
    jitter = np.random.RandomState(5).uniform(-0.6, 0.6, size=(n, 3, 2)).astype(np.float32)
    labels = np.repeat(KEYPOINTS[None], n, axis=0)
    labels[:, :2, :2] += jitter[:, :2]
    return labels


def rule_depth(feats: dict, seed: int = 0) -> np.ndarray:
    """Positive depths a smooth rule of the upsampled features decides, with an unlabelled corner: [N, H, W]."""
    up = upsampled(feats)
    proj = np.random.RandomState(seed).randn(up.shape[1]).astype(np.float32) / np.sqrt(up.shape[1])
    depth = 3.0 + 2.0 * np.tanh(np.einsum("c,nchw->nhw", proj, up))
    depth[:, :3, :3] = np.nan
    return depth.astype(np.float32)


def labelled_cache(path, kind: str, seeds=(1, 2, 3, 4), **head_options):
    """A stand-in cache whose samples all carry `kind` labels from the rules above; returns the labels."""
    from dgan_cli.registry import default_registry

    _, feats, _ = render(StandinBackbone(), seeds)
    names = {"keypoints": ["a", "b", "c"], "depth": ["depth"]}[kind]
    labels = rule_keypoints(len(seeds)) if kind == "keypoints" else rule_depth(feats)
    head = default_registry().get("head", kind).build(names, **head_options)
    make_cache(path, seeds, {kind: labels}, {kind: head.label_schema((16, 16))})
    return labels
