"""CLI conventions: version, JSON output, user errors as one line with exit code 2."""
from __future__ import annotations

import json
import subprocess
import sys

from dgan_cli import __version__, hookimpl
from dgan_cli.errors import DganError
from dgan_cli.registry import Registry
from dgan_cli.specs import CommandSpec


def registry_with(*commands: CommandSpec) -> Registry:
    reg = Registry()

    class P:
        @hookimpl
        def dgan_commands(self):
            return list(commands)

    reg.register(P(), "test-plugin")
    return reg


def test_version(run_cli):
    result = run_cli("--version")
    assert result.code == 0 and result.out.strip() == f"dgan {__version__}"


def test_plugins_json(run_cli, tmp_path):
    result = run_cli("plugins", "--json", tmp_path / "p.json")
    assert result.code == 0
    data = json.loads((tmp_path / "p.json").read_text())
    assert {"plugins", "conflicts"} <= set(data)
    assert any(p["plugin"] == "builtin-stylegan2" for p in data["plugins"])


def test_user_errors_are_one_line_exit_2(run_cli, tmp_path):
    bad = tmp_path / "not-a-cache.h5"
    bad.write_text("hello")
    for args in (["cache", "info", tmp_path / "missing.h5"], ["cache", "info", bad],
                 ["backbone", "info", tmp_path / "missing.pkl"], ["backbone", "info", "tyo"]):
        result = run_cli(*args)
        assert result.code == 2, args
        assert result.err.startswith("Error: ") and len(result.err.strip().splitlines()) == 1, result.err
        assert "Traceback" not in result.err


def test_unknown_command_and_bad_option_value_exit_2(run_cli):
    assert run_cli("no-such-command").code == 2
    assert run_cli("cache", "info").code == 2  # missing argument


def test_plugin_command_errors_and_debug_traceback(run_cli):
    def explode() -> None:
        raise DganError("the file is wrong", hint="try another")

    reg = registry_with(CommandSpec(name="explode", app=explode))
    result = run_cli("explode", registry=reg)
    assert result.code == 2 and result.err.strip() == "Error: the file is wrong (try another)"
    result = run_cli("--debug", "explode", registry=reg)
    assert result.code == 2 and "Traceback" in result.err


def test_plugin_command_cannot_shadow_a_core_command(run_cli):
    reg = registry_with(CommandSpec(name="plugins", app=lambda: None), CommandSpec(name="hi", app=lambda: print("hi")))
    result = run_cli("hi", registry=reg)
    assert result.code == 0 and result.out.strip() == "hi"
    assert any("clashes with a core command" in c for c in reg.conflicts)


def test_console_script_entry_point():
    proc = subprocess.run([sys.executable, "-m", "dgan_cli", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"dgan {__version__}"


def _device_options(command, path=()):
    """(command path, option) for every --device option in the CLI tree."""
    for name, sub in getattr(command, "commands", {}).items():
        yield from _device_options(sub, path + (name,))
    for param in getattr(command, "params", []):
        if "--device" in getattr(param, "opts", []):
            yield " ".join(path), param


def test_every_device_option_reads_dgan_device():
    # one variable moves a whole recipe to the GPU without changing its commands (their stage markers)
    from dgan_cli.cli import command_tree
    from dgan_cli.registry import default_registry

    found = dict(_device_options(command_tree(default_registry())))
    assert {"train", "synth", "sample", "invert", "eval", "backbone train"} <= set(found), sorted(found)
    assert {name: p.envvar for name, p in found.items() if p.envvar != "DGAN_DEVICE"} == {}


def test_dgan_device_reaches_the_command(run_cli, monkeypatch, tmp_path):
    monkeypatch.setenv("DGAN_DEVICE", "tpu")
    result = run_cli("sample", "--backbone", "toy", "-n", "1", "--cache", tmp_path / "s.h5", "--out", tmp_path / "s")
    assert result.code == 2 and "--device must be cpu, cuda[:N] or auto, got 'tpu'" in result.err
    assert not (tmp_path / "s.h5").exists()
    result = run_cli("sample", "--backbone", "toy", "-n", "1", "--cache", tmp_path / "s.h5", "--out", tmp_path / "s",
                     "--device", "cpu")  # the option still wins over the variable
    assert result.code == 0, result.err
