"""Generator checkpoints: dgan's own format, and loading any supported format.

dgan format: one `torch.save` file, loadable with `torch.load(weights_only=True)`:

    {"format": "dgan-stylegan2", "format_version": 1,
     "config": {Generator init kwargs}, "state_dict": {name: tensor},
     ...optional extra entries (e.g. "training": {...})}

Every loader checks the tensors against the config (names, shapes, finite
values) and reports any problem as one `CheckpointError` line.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import torch

from dgan_cli.atomic import atomic_output
from dgan_cli.errors import CheckpointError
from dgan_plugins.stylegan2 import official_pickle, rosinality
from dgan_plugins.stylegan2.formats import DGAN_FORMAT, sniff_format
from dgan_plugins.stylegan2.networks import Generator

FORMAT_VERSION = 1
RESERVED_KEYS = ("format", "format_version", "config", "state_dict")
FORMAT_NAMES = {"official": "NVlabs stylegan2-ada-pytorch pickle", "rosinality": "rosinality stylegan2-pytorch",
                "dgan": "dgan"}


def save_checkpoint(path, generator: Generator, extra: dict | None = None) -> Path:
    """Write `generator` in dgan's format, atomically (temp file + rename).

    `extra` entries (plain containers, numbers, strings, tensors) are stored
    beside the reserved keys, e.g. {"training": {...}}.
    """
    path = Path(path)
    extra = dict(extra or {})
    clash = [k for k in extra if k in RESERVED_KEYS]
    if clash:
        raise ValueError(f"extra entry {clash[0]!r} would overwrite a reserved checkpoint key")
    data = {"format": DGAN_FORMAT, "format_version": FORMAT_VERSION, "config": generator.init_kwargs,
            "state_dict": {k: v.detach().to("cpu", copy=True).contiguous() for k, v in generator.state_dict().items()},
            **extra}
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        torch.save(data, fh)  # a file object: the archive's inner name must not be the temp name
    return path


def read_checkpoint(path) -> dict:
    """The whole dgan-format dict (config, state_dict and any extra entries), checked for format."""
    path = Path(path)
    data = _torch_load(path)
    if not isinstance(data, dict) or data.get("format") != DGAN_FORMAT:
        raise CheckpointError(f"{path}: not a dgan-stylegan2 checkpoint")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: dgan-stylegan2 format version {version!r} is not supported "
                              f"(this dgan reads version {FORMAT_VERSION})")
    if not isinstance(data.get("config"), dict) or not isinstance(data.get("state_dict"), dict):
        raise CheckpointError(f"{path}: dgan-stylegan2 checkpoint without config/state_dict")
    return data


def load_generator(path, device="cpu") -> Generator:
    """A Generator (eval mode, on `device`) from any supported checkpoint file."""
    return load_any(Path(path))[0].to(device)


def load_any(path: Path) -> tuple[Generator, str]:
    """(generator, format name) for an official .pkl, a rosinality .pt or a dgan .pt."""
    try:
        fmt = sniff_format(path)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if fmt == "official":
        return _load_official(path), fmt
    if fmt == "rosinality":
        return _load_rosinality(path), fmt
    if fmt == "dgan":
        data = read_checkpoint(path)
        return build_generator(data["config"], data["state_dict"], path), fmt
    raise CheckpointError(f"{path}: not a StyleGAN2 checkpoint (expected an official .pkl, "
                          "a rosinality .pt with g_ema, or a dgan .pt)")


def build_generator(config: dict, tensors: dict, path: Path, fill_filters: bool = False) -> Generator:
    """Construct Generator(**config) and load `tensors`, refusing any mismatch.

    `fill_filters` keeps the constructor's FIR filter buffers where `tensors`
    has none (formats that do not store them).
    """
    try:
        generator = Generator(**config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid generator config ({exc})") from None
    expected = generator.state_dict()
    if fill_filters:
        tensors = {**{k: v for k, v in expected.items() if k.endswith("resample_filter")}, **tensors}
    missing = [k for k in expected if k not in tensors]
    if missing:
        raise CheckpointError(f"{path}: tensor '{missing[0]}' is missing ({len(missing)} missing in all)")
    unexpected = [k for k in tensors if k not in expected]
    if unexpected:
        raise CheckpointError(f"{path}: unexpected tensor '{unexpected[0]}' for this config")
    for name, want in expected.items():
        got = tensors[name]
        if not isinstance(got, torch.Tensor) or not got.is_floating_point():
            raise CheckpointError(f"{path}: '{name}' is not a floating-point tensor")
        if tuple(got.shape) != tuple(want.shape):
            raise CheckpointError(f"{path}: '{name}' has shape {list(got.shape)}, the config needs {list(want.shape)}")
        if not torch.isfinite(got).all():
            raise CheckpointError(f"{path}: '{name}' contains NaN or infinite values")
    generator.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()})
    return generator.eval()


def _load_official(path: Path) -> Generator:
    record = official_pickle.generator_record(official_pickle.read_records(path), path)
    config = official_pickle.init_kwargs(record, path)
    try:
        template = Generator(**config)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: G_ema's init arguments are not a supported StyleGAN2 config ({exc})") from None
    classes = {name: type(module).__name__ for name, module in template.named_modules()}
    tensors = official_pickle.state_tensors(record, path, classes)
    return build_generator(config, tensors, path)


def _load_rosinality(path: Path) -> Generator:
    data = _torch_load(path)
    state = data.get("g_ema") if isinstance(data, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: no g_ema state dict")
    config, tensors = rosinality.to_official(state, data.get("latent_avg"), path)
    estimate = "mapping.w_avg" not in tensors
    if estimate:
        tensors["mapping.w_avg"] = torch.zeros(config["w_dim"])
    generator = build_generator(config, tensors, path, fill_filters=True)
    if estimate:
        generator.mapping.w_avg.copy_(rosinality.estimate_w_avg(generator))
    return generator


def _torch_load(path: Path):
    """torch.load(weights_only=True) with failures turned into one line.

    argparse.Namespace is allowed because rosinality's training checkpoints
    store their command-line args; it only ever holds plain values.
    """
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except Exception as exc:  # truncated zip, corrupt pickle, refused global...
        raise CheckpointError(f"{path}: {_load_failure(exc)}") from None


def _load_failure(exc: Exception) -> str:
    text = str(exc)
    refused = re.search(r"unsupported\s+(?:global:?\s+)?GLOBAL\s+([\w.]+)", text, re.IGNORECASE)
    if refused:
        return f"refused: the file asks for '{refused.group(1)}', which is not plain data (it could run code)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and lines[0].startswith("Weights only load failed"):
        detail = next((line for line in lines[1:] if not line.startswith("Check the documentation")), "")
        return f"refused: the file holds something that is not plain data ({detail[:200]})"
    first = lines[0][:200] if lines else type(exc).__name__
    return f"not a readable torch checkpoint ({type(exc).__name__}: {first})"
