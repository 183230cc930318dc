"""Interpreter tests run against the stand-in generator in interp_standin.py."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from interp_standin import StandinBackbone  # noqa: E402


@pytest.fixture(scope="session")
def standin():
    return StandinBackbone()
