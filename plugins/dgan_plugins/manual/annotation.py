"""Helpers the built-in format readers share (what they return is `dgan_cli.annotations.Annotation`)."""
from __future__ import annotations

from pathlib import Path

from dgan_cli.errors import DganError
from dgan_cli.untrusted import read_json


def read_annotation_json(path: Path):
    """An annotation file's JSON, or one line naming it."""
    return read_json(path, "JSON", unreadable="corrupt")


def check_size(path: Path | str, hw: tuple[int, int], expected: tuple[int, int]) -> None:
    if tuple(hw) != tuple(expected):
        raise DganError(f"{path}: size mismatch: annotation is {hw[1]}x{hw[0]}, "
                        f"the cached images are {expected[1]}x{expected[0]} (width x height)")


def files_in(directory: Path, suffixes: tuple[str, ...], subfolder: str | None = None) -> list[Path]:
    """Annotation files of `directory` (or of its `subfolder`, as in a labelled folder), sorted."""
    if not directory.is_dir():
        raise DganError(f"{directory}: no such annotation folder")
    if subfolder and (directory / subfolder).is_dir():
        directory = directory / subfolder
    found = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not found:
        raise DganError(f"{directory}: no {'/'.join(suffixes)} files to import")
    return found
