"""The student checkpoint file: one torch file that is both the result and the resume point.

Contents (plain containers and tensors only, read with weights_only=True):
format, format_version, method, config (TrainConfig), step, complete,
student / squeeze / optimizer state dicts, teacher (backbone identity, layers),
real (image count and content hash), history (per-step loss terms).
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from dgan_cli.atomic import atomic_output
from dgan_cli.errors import CheckpointError
from dgan_plugins.squeeze_span.config import TrainConfig
from dgan_plugins.squeeze_span.student import Student

FORMAT = "dgan-distill-student"
FORMAT_VERSION = 1


def save_checkpoint(path: Path, data: dict) -> None:
    """Write atomically: a crash leaves the previous checkpoint intact."""
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **data}, fh)


def read_checkpoint(path: Path) -> dict:
    """The checkpoint dict, or CheckpointError naming what is wrong with the file."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such student checkpoint")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({reason[:120]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a dgan distill student checkpoint",
                              hint="make one with `dgan distill train`")
    if data.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: student checkpoint version {data.get('format_version')!r} is not "
                              f"supported (this dgan reads version {FORMAT_VERSION})")
    return data


def config_of(data: dict, path: Path) -> TrainConfig:
    try:
        return TrainConfig.from_dict(data["config"])
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: student checkpoint without a valid config ({exc})") from None


def build_student(data: dict, path: Path) -> Student:
    """The Student of a checkpoint, weights loaded; refuses weights of another architecture."""
    arch = data.get("arch") or {}
    if arch.get("name") != "resnet18":
        raise CheckpointError(f"{path}: student architecture {arch.get('name')!r} is not resnet18")
    try:
        student = Student(arch["stem"], dim=int(arch["dim"]), projector_layers=int(arch["projector_layers"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable student architecture {arch!r} ({exc})") from None
    load_weights(student, data.get("student"), path, "student")
    return student


def load_weights(module: torch.nn.Module, state, path: Path, what: str) -> None:
    """load_state_dict, turning a missing/mismatched tensor into one CheckpointError line."""
    try:
        module.load_state_dict(state)
    except (TypeError, AttributeError, RuntimeError) as exc:
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else type(exc).__name__)
        raise CheckpointError(f"{path}: the {what} weights do not fit this architecture ({detail[:160]})") \
            from None


def load_trained_student(path: Path) -> tuple[Student, dict]:
    """(student in eval mode, checkpoint dict) for a finished run."""
    data = read_checkpoint(path)
    if not data.get("complete"):
        raise CheckpointError(f"{path}: training stopped at step {data.get('step')} of "
                              f"{data.get('config', {}).get('steps')}",
                              hint="run the same `dgan distill train` command again to finish it")
    return build_student(data, path).eval(), data
