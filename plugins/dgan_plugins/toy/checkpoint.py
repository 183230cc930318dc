"""Checkpoints of the toy world's own networks (classifier, annotator): one tagged torch.save dict.

    {"format": "dgan-toy-<kind>", "format_version": 1, "config": {...},
     "state_dict": {name: tensor}, "training": {...}}

Loaded with `torch.load(weights_only=True)`, so a file is data, never code; a
missing file, another kind of file or a mismatched one is one error line.
"""
from __future__ import annotations

from pathlib import Path

import torch

from dgan_cli.atomic import atomic_output
from dgan_cli.errors import DganError

FORMAT_VERSION = 1


def save_tagged(path: Path, fmt: str, model: torch.nn.Module, config: dict, training: dict) -> None:
    data = {"format": fmt, "format_version": FORMAT_VERSION, "config": config,
            "state_dict": {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()},
            "training": training}
    try:
        with atomic_output(path) as tmp, open(tmp, "wb") as fh:
            torch.save(data, fh)
    except OSError as exc:
        raise DganError(f"cannot write {path}: {exc.strerror or exc}") from None


def load_tagged(path: Path, fmt: str, build, what: str, command: str) -> tuple[torch.nn.Module, dict]:
    """(model from `build(config)` with the file's weights, in eval mode; the dict without tensors)."""
    path = Path(path)
    if not path.is_file():
        raise DganError(f"{path}: no such {what} file", hint=f"train one with `{command}`")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise DganError(f"{path}: not a readable {what} checkpoint ({type(exc).__name__})") from None
    found = data.get("format") if isinstance(data, dict) else None
    if found != fmt:
        raise DganError(f"{path}: not a toy {what} checkpoint (format {found!r}, expected {fmt!r})")
    if data.get("format_version") != FORMAT_VERSION:
        raise DganError(f"{path}: {what} format version {data.get('format_version')!r} is not supported")
    try:
        model = build(data["config"])
        model.load_state_dict(data["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DganError(f"{path}: damaged {what} checkpoint ({reason})") from None
    return model.eval().requires_grad_(False), {k: v for k, v in data.items() if k != "state_dict"}
