"""What every format reader returns: one label of one sample, and the file it came from."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dgan_cli.errors import DganError
from dgan_cli.untrusted import read_json


@dataclass(frozen=True)
class Annotation:
    """`value` is already in the head's storage layout (see docs/cache-format.md)."""

    sample_id: str
    kind: str
    value: np.ndarray
    source: Path


class Notes:
    """What an import accepted with an assumption: one warning line per kind of note, not per file."""

    def __init__(self):
        self.files: dict[str, list[Path]] = {}

    def add(self, note: str, path: Path | str) -> None:
        self.files.setdefault(note, []).append(path)

    def lines(self) -> list[str]:
        return [f"{note}: {paths[0]}" + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")
                for note, paths in self.files.items()]


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
