"""Interpreter tests run against the stand-in generator in interp_standin.py."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from interp_standin import one_torch_thread  # noqa: E402,F401
