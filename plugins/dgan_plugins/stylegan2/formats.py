"""Tell checkpoint formats apart by content, cheaply and without torch.

- "official": an NVlabs stylegan2-ada-pytorch network pickle (raw pickle
  stream naming `torch_utils.persistence` near its start);
- "dgan": a torch.save file whose top dict has format == "dgan-stylegan2";
- "rosinality": a torch.save file with a "g_ema" state dict.

Only the small structure pickle of a torch.save file is parsed, and only as an
opcode listing (pickletools), so nothing in it runs.
"""
from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path

DGAN_FORMAT = "dgan-stylegan2"
HEAD_BYTES = 1 << 20
# torch.save's pre-1.6 (non-zip) format starts with a pickled magic number.
LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"
PERSISTENCE_MARKER = b"torch_utils.persistence"
MAX_STRUCTURE_BYTES = 64 << 20


def sniff_format(path: Path) -> str | None:
    """"official", "dgan", "rosinality" or None. OSError propagates (the caller reports it)."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(HEAD_BYTES)
    if head.startswith(b"PK\x03\x04"):
        return _classify(_zip_structure_strings(path))
    if head.startswith(LEGACY_TORCH_MAGIC):
        return _classify(_legacy_structure_strings(path))
    if head[:1] == b"\x80" and PERSISTENCE_MARKER in head:
        return "official"
    return None


def _classify(strings: set[str]) -> str | None:
    if DGAN_FORMAT in strings and "format" in strings:
        return "dgan"
    if "g_ema" in strings:
        return "rosinality"
    return None


def _pickle_strings(stream) -> set[str]:
    """The string constants of one pickle (up to its STOP opcode), by listing opcodes."""
    found = set()
    try:
        for opcode, arg, _ in pickletools.genops(stream):
            if isinstance(arg, str) and len(arg) < 256:
                found.add(arg)
    except Exception:  # a damaged pickle: classify on what was read
        pass
    return found


def _zip_structure_strings(path: Path) -> set[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("data.pkl")]
            if not names or archive.getinfo(names[0]).file_size > MAX_STRUCTURE_BYTES:
                return set()
            return _pickle_strings(io.BytesIO(archive.read(names[0])))
    except (zipfile.BadZipFile, KeyError, EOFError, ValueError):
        return set()


def _legacy_structure_strings(path: Path) -> set[str]:
    # Layout: magic number, protocol version, system info, then the structure pickle.
    with open(path, "rb") as fh:
        for _ in range(3):
            _pickle_strings(fh)
        return _pickle_strings(fh)
