"""Shared test helpers: run the CLI in-process and get (exit code, stdout, stderr)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

# Tests use tiny tensors: one thread avoids OpenMP spin-waiting on a shared 2-core machine.
torch.set_num_threads(1)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys):
    """Call `dgan ...` in this process (optionally with a custom registry)."""
    from dgan_cli.cli import main
    from dgan_cli.console import set_quiet

    def run(*args: str, registry=None) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args], registry=registry)
        set_quiet(False)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
