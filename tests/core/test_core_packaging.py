"""The wheel installs `dgan_cli` and `dgan_plugins` only: never a bare `plugins` package."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_top_level_packages(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                           "--no-build-isolation", "--no-index", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    wheel = next(tmp_path.glob("dgan-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"dgan_cli", "dgan_plugins"}
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert b"[dgan]" in entry_points and b"dgan_plugins.stylegan2" in entry_points
    # Package data a plain install needs: the toy weights and the demo's annotations.
    assert "dgan_plugins/toy/weights/toy64.pt" in names
    assert "dgan_plugins/demo/annotations-n16/labels.json" in names


def test_no_code_imports_a_bare_plugins_package():
    offenders = [str(p) for p in list((ROOT / "dgan_cli").rglob("*.py")) + list((ROOT / "plugins").rglob("*.py"))
                 if "import plugins" in p.read_text() or "from plugins" in p.read_text()]
    assert offenders == []
