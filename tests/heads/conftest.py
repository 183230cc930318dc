"""Head tests share the interpreter tests' stand-in generator."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interpreter"))

from interp_standin import one_torch_thread  # noqa: E402,F401
