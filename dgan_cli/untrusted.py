"""Reading files a user hands over: JSON, .npy arrays and images, each with limits.

Every reader returns the content or raises DganError naming the file and what
is wrong; nothing here raises RecursionError, MemoryError, EOFError or a
decoder's own exception type. Limits keep a hostile or broken file from
exhausting memory before its content is even checked.
"""
from __future__ import annotations

import json
import unicodedata
import warnings
from pathlib import Path

import numpy as np

from dgan_cli.errors import DganError

MAX_JSON_BYTES = 256 * 2**20      # LabelMe files embed their image as base64: a few MB is usual
MAX_JSON_DEPTH = 64               # real annotation files nest 5 levels or so
MAX_NPY_BYTES = 2**31             # one depth map; 2 GiB is 16k x 32k float32
MAX_IMAGE_BYTES = 2**30
MAX_IMAGE_PIXELS = 2**28          # 16k x 16k


def escape(text: str) -> str:
    """`text` with control and invisible formatting characters (NUL, U+202E, U+200B...) shown as escapes."""
    return "".join(ch if ch == " " or unicodedata.category(ch)[0] not in "CZ" else _escape_char(ch)
                   for ch in text)


def _escape_char(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _size(path: Path, what: str, limit: int) -> int:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DganError(f"{path}: no such {what}") from None
    except OSError as exc:
        raise DganError(f"{path}: unreadable {what} ({exc.strerror})") from None
    if size > limit:
        raise DganError(f"{path}: {size / 2**20:.0f} MiB is too large for a {what} "
                        f"(the limit is {limit / 2**20:.0f} MiB)")
    return size


def _unique_keys(pairs: list) -> dict:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = next(key for key in keys if keys.count(key) > 1)
        raise ValueError(f"key '{twice}' appears twice in one object")
    return dict(pairs)


def _depth(value) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack += [(child, level + 1) for child in (item.values() if isinstance(item, dict) else item)]
    return deepest


def read_json(path: Path | str, what: str = "JSON file", unreadable: str = "not a readable") -> object:
    """Parsed JSON of `path`: at most MAX_JSON_BYTES, MAX_JSON_DEPTH levels, no key twice in an object."""
    path = Path(path)
    _size(path, what, MAX_JSON_BYTES)
    try:
        value = json.loads(path.read_bytes().decode("utf-8-sig"), object_pairs_hook=_unique_keys)
    except RecursionError:
        raise DganError(f"{path}: {unreadable} {what} (nested more than {MAX_JSON_DEPTH} levels deep)") from None
    except OSError as exc:
        raise DganError(f"{path}: {unreadable} {what} ({exc.strerror})") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise DganError(f"{path}: {unreadable} {what} ({exc})") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise DganError(f"{path}: {unreadable} {what} (nested more than {MAX_JSON_DEPTH} levels deep)")
    return value


def read_npy(path: Path | str, what: str = ".npy array") -> np.ndarray:
    """A numeric .npy array; its header's shape must match the file's size before anything is allocated."""
    path = Path(path)
    size = _size(path, what, MAX_NPY_BYTES)
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported")
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = header(fh)
            if dtype.hasobject or dtype.kind not in "biuf":
                raise ValueError(f"dtype {dtype} is not a plain number type")
            expected = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            if expected != size - fh.tell():
                raise ValueError(f"its header declares {dtype} {list(shape)} ({expected} bytes), "
                                 f"the file holds {size - fh.tell()}")
            fh.seek(0)
            return np.lib.format.read_array(fh, allow_pickle=False)
    except OSError as exc:
        raise DganError(f"{path}: unreadable {what} ({exc.strerror or exc})") from None
    except (EOFError, ValueError, SyntaxError, TypeError) as exc:  # what a damaged header raises
        reason = "empty file" if size == 0 else str(exc) or type(exc).__name__
        raise DganError(f"{path}: not a readable {what} ({reason})") from None


def read_image(path: Path | str, what: str = "image"):
    """A fully decoded PIL image of at most MAX_IMAGE_PIXELS pixels."""
    path = Path(path)
    _size(path, what, MAX_IMAGE_BYTES)
    return decode_image(path, f"{path}: not a readable {what}", missing=f"{path}: no such {what}")


def decode_image(source, failure: str, missing: str = ""):
    """Decode `source` (a path or a binary file object) fully; DganError "FAILURE (reason)" when it can't be."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise ValueError(f"{image.width}x{image.height} pixels is too large")
                image.load()
                return image.copy()
    except FileNotFoundError:
        raise DganError(missing or failure) from None
    # Decoders report damaged files as OSError, SyntaxError, ValueError, EOFError, struct.error and
    # more, depending on the format: any ordinary exception here means the data is not a usable image.
    except Exception as exc:  # noqa: BLE001
        raise DganError(f"{failure} ({exc or type(exc).__name__})") from None


def check_names(where: str, values) -> list[str]:
    """A non-empty list of distinct, non-blank names (class or keypoint names from a labels file)."""
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise DganError(f"{where} must be a non-empty list of names")
    blank = [i for i, v in enumerate(values) if not v.strip()]
    if blank:
        raise DganError(f"{where}: name {blank[0]} is empty")
    twice = [v for i, v in enumerate(values) if v in values[:i]]
    if twice:
        raise DganError(f"{where} lists '{twice[0]}' twice")
    return values
