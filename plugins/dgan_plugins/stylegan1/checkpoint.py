"""StyleGAN1 checkpoints: the DatasetGAN release's `.for_g_all.pt` and dgan's own format.

- "release": a flat state dict (`g_mapping.dense0.weight`, ...), the keys of
  the release's `g_all`. It holds no config and no average latent: the
  architecture is read off the tensor shapes, and the average latent is
  estimated (mean w of 8000 seeded z), unless the dgan file gives it.
- "dgan": {"format": "dgan-stylegan1", "format_version": 1, "config": {...},
  "state_dict": {release keys}, "avg_latent": [num_ws, w_dim], ...extra}.

Both are read with torch.load(weights_only=True): a file that needs any
pickled object beyond tensors and plain containers is refused.
"""
from __future__ import annotations

import re
from pathlib import Path

import torch

from dgan_cli.atomic import atomic_output
from dgan_cli.errors import CheckpointError
from dgan_plugins.stylegan1.networks import Generator
from dgan_plugins.stylegan2.checkpoint import _torch_load
from dgan_plugins.stylegan2.formats import _legacy_structure_strings, _zip_structure_strings

DGAN_FORMAT = "dgan-stylegan1"
FORMAT_VERSION = 1
RELEASE_MARKER = "g_mapping.dense0.weight"
FORMAT_NAMES = {"release": "DatasetGAN release .for_g_all.pt", "dgan": "dgan"}
RESERVED_KEYS = ("format", "format_version", "config", "state_dict", "avg_latent")
_BLOCK = re.compile(r"^g_synthesis\.blocks\.(\d+)x\1\.")


def sniff_format(path: Path) -> str | None:
    """"release", "dgan" or None, from the pickle's string constants only (nothing is unpickled)."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head.startswith(b"PK\x03\x04"):
        strings = _zip_structure_strings(path)
    elif head.startswith(b"\x80\x02\x8a\x0a"):
        strings = _legacy_structure_strings(path)
    else:
        return None
    if DGAN_FORMAT in strings and "format" in strings:
        return "dgan"
    return "release" if RELEASE_MARKER in strings else None


def load_any(path: Path) -> tuple[Generator, str]:
    """(generator in eval mode with its avg latent set, format name)."""
    try:
        fmt = sniff_format(path)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    data = _torch_load(path)
    if fmt == "dgan":
        if not isinstance(data, dict) or data.get("format") != DGAN_FORMAT:
            raise CheckpointError(f"{path}: not a dgan-stylegan1 checkpoint")
        if data.get("format_version") != FORMAT_VERSION:
            raise CheckpointError(f"{path}: dgan-stylegan1 format version {data.get('format_version')!r} "
                                  f"is not supported (this dgan reads {FORMAT_VERSION})")
        if not isinstance(data.get("config"), dict) or not isinstance(data.get("state_dict"), dict):
            raise CheckpointError(f"{path}: dgan-stylegan1 checkpoint without config/state_dict")
        generator = build_generator(data["config"], data["state_dict"], path)
        set_avg_latent(generator, data.get("avg_latent"), path)
        return generator, fmt
    if fmt == "release" and isinstance(data, dict):
        generator = build_generator(release_config(data, path), data, path)
        generator.avg_latent.copy_(generator.mean_w().expand(generator.num_ws, -1))
        return generator, fmt
    raise CheckpointError(f"{path}: not a StyleGAN1 checkpoint (expected a DatasetGAN .for_g_all.pt "
                          "state dict or a dgan-stylegan1 .pt)")


def release_config(tensors: dict, path: Path) -> dict:
    """The Generator config a release state dict implies: resolution, channels, latent sizes."""
    resolutions = sorted({int(m.group(1)) for k in tensors if (m := _BLOCK.match(str(k)))})
    dense = [k for k in tensors if re.fullmatch(r"g_mapping\.dense\d+\.weight", str(k))]
    if not resolutions or resolutions[0] != 4 or "g_synthesis.blocks.4x4.const" not in tensors or not dense:
        raise CheckpointError(f"{path}: not a complete StyleGAN1 state dict (no 4x4 block or mapping)")
    top = resolutions[-1]
    if resolutions != [2 ** k for k in range(2, top.bit_length())]:
        raise CheckpointError(f"{path}: synthesis blocks {resolutions} are not 4, 8, ... {top}")
    channels = [_shape(tensors, "g_synthesis.blocks.4x4.const", path)[1]]
    channels += [_shape(tensors, f"g_synthesis.blocks.{r}x{r}.conv1.weight", path)[0] for r in resolutions[1:]]
    first = _shape(tensors, "g_mapping.dense0.weight", path)
    return dict(resolution=top, channels=channels, z_dim=first[1], w_dim=first[0], mapping_layers=len(dense))


def _shape(tensors: dict, key: str, path: Path) -> list[int]:
    value = tensors.get(key)
    if not isinstance(value, torch.Tensor) or value.ndim < 2:
        raise CheckpointError(f"{path}: tensor '{key}' is missing")
    return list(value.shape)


def build_generator(config: dict, tensors: dict, path: Path) -> Generator:
    """Generator(**config) with `tensors` loaded, refusing missing, extra, misshapen or non-finite ones."""
    try:
        generator = Generator(**config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid StyleGAN1 config ({exc})") from None
    expected = generator.state_dict()
    missing = [k for k in expected if k not in tensors]
    if missing:
        raise CheckpointError(f"{path}: tensor '{missing[0]}' is missing ({len(missing)} missing in all)")
    unexpected = [k for k in tensors if k not in expected]
    if unexpected:
        raise CheckpointError(f"{path}: unexpected tensor '{unexpected[0]}' for this generator")
    for name, want in expected.items():
        got = tensors[name]
        if not isinstance(got, torch.Tensor) or not got.is_floating_point():
            raise CheckpointError(f"{path}: '{name}' is not a floating-point tensor")
        if tuple(got.shape) != tuple(want.shape):
            raise CheckpointError(f"{path}: '{name}' has shape {list(got.shape)}, expected {list(want.shape)}")
        if not torch.isfinite(got).all():
            raise CheckpointError(f"{path}: '{name}' contains NaN or infinite values")
    generator.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()})
    return generator.eval()


def set_avg_latent(generator: Generator, value, source) -> None:
    """Set the truncation centre from [w_dim], [num_ws, w_dim] or the release's [18, w_dim] rows."""
    t = torch.as_tensor(value) if value is not None else None
    if t is None or not t.is_floating_point():
        raise CheckpointError(f"{source}: the average latent must be a float array")
    t = t.to(torch.float32)
    if t.ndim == 1:
        t = t.unsqueeze(0)
    if t.ndim != 2 or t.shape[1] != generator.w_dim or t.shape[0] not in (1, generator.num_ws, 18):
        raise CheckpointError(f"{source}: average latent of shape {list(t.shape)}; expected "
                              f"[{generator.w_dim}], [{generator.num_ws}, {generator.w_dim}] or [18, {generator.w_dim}]")
    if not torch.isfinite(t).all():
        raise CheckpointError(f"{source}: the average latent contains NaN or infinite values")
    generator.avg_latent.copy_(t[:generator.num_ws].expand(generator.num_ws, -1))


def save_checkpoint(path, generator: Generator, extra: dict | None = None) -> Path:
    """Write `generator` (with its avg latent) in dgan's format, atomically."""
    extra = dict(extra or {})
    clash = [k for k in extra if k in RESERVED_KEYS]
    if clash:
        raise ValueError(f"extra entry {clash[0]!r} would overwrite a reserved checkpoint key")
    data = {"format": DGAN_FORMAT, "format_version": FORMAT_VERSION, "config": generator.config,
            "state_dict": {k: v.detach().to("cpu", copy=True).contiguous() for k, v in generator.state_dict().items()},
            "avg_latent": generator.avg_latent.detach().cpu().clone(), **extra}
    with atomic_output(Path(path)) as tmp, open(tmp, "wb") as fh:
        torch.save(data, fh)
    return Path(path)
