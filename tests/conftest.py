"""Shared test helpers: run the CLI in-process and get (exit code, stdout, stderr)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import torch

# Same work on every machine: small tests, deterministic kernels, few threads.
torch.set_num_threads(min(2, os.cpu_count() or 1))


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
