"""Reading a user's JSON file: its content, or one line that names the file and what is wrong."""
from __future__ import annotations

import json
from pathlib import Path

from dgan_cli.errors import DganError


def read_json(path: Path | str, what: str = "JSON file", unreadable: str = "not a readable") -> object:
    """Parsed JSON of `path`; a missing or unparsable file raises DganError ("PATH: no such WHAT", ...)."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DganError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DganError(f"{path}: {unreadable} {what} ({exc})") from None
