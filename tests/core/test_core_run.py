"""`dgan run RECIPE`: stages in order, matrix expansion, skipping done stages, clear errors."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from dgan_cli import hookimpl
from dgan_cli.errors import DganError
from dgan_cli.registry import Registry
from dgan_cli.specs import CommandSpec

CALLS: list[str] = []


def score(seed: int = typer.Option(...), out: Path = typer.Option(...)) -> None:
    CALLS.append(f"score {seed}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"metrics": {"miou": 0.5 + 0.1 * seed}, "label": "x"}))


def fail() -> None:
    raise DganError("this stage fails")


def registry() -> Registry:
    reg = Registry()

    class P:
        @hookimpl
        def dgan_commands(self):
            return [CommandSpec(name="score", app=score), CommandSpec(name="fail", app=fail)]

    reg.register(P(), "test")
    return reg


def write_recipe(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "r.toml"
    path.write_text(f"""
[recipe]
name = "demo"
out = "{tmp_path}/runs/seed{{seed}}"
matrix = {{ seed = [0, 2] }}

[[stage]]
name = "score"
run = ["score", "--seed", "{{seed}}", "--out", "{{out}}/r.json"]
results = "{{out}}/r.json"
{extra}
""")
    return path


def test_runs_matrix_aggregates_and_skips_done_stages(run_cli, tmp_path):
    CALLS.clear()
    reg = registry()
    recipe = write_recipe(tmp_path)
    result = run_cli("run", recipe, "--json", tmp_path / "s.json", registry=reg)
    assert result.code == 0, result.err
    assert CALLS == ["score 0", "score 2"]
    rows = json.loads((tmp_path / "s.json").read_text())["results"]["score"]
    assert [r["metric"] for r in rows] == ["metrics.miou"] and rows[0]["n"] == 2
    assert abs(rows[0]["mean"] - 0.6) < 1e-9 and abs(rows[0]["std"] - 0.1) < 1e-9
    assert run_cli("run", recipe, registry=reg).code == 0
    assert CALLS == ["score 0", "score 2"]  # nothing re-run
    assert run_cli("run", recipe, "--force", registry=reg).code == 0
    assert len(CALLS) == 4


def test_failing_stage_keeps_finished_ones(run_cli, tmp_path):
    CALLS.clear()
    reg = registry()
    recipe = write_recipe(tmp_path, '[[stage]]\nname = "boom"\nrun = ["fail"]\n')
    result = run_cli("run", recipe, registry=reg)
    assert result.code == 2
    assert result.err.strip().splitlines()[-1].startswith("Error: stage 'boom' failed")
    assert (tmp_path / "runs/seed0/.dgan-stages/score.json").exists()


def test_unknown_command_stage_or_variable_is_one_line(run_cli, tmp_path):
    reg = registry()
    bad = write_recipe(tmp_path, '[[stage]]\nname = "x"\nrun = ["scroe"]\n')
    result = run_cli("run", bad, registry=reg)
    assert result.code == 2 and "unknown command 'scroe' (did you mean 'score'?)" in result.err
    recipe = write_recipe(tmp_path)
    result = run_cli("run", recipe, "--only", "scor", registry=reg)
    assert result.code == 2 and "did you mean 'score'?" in result.err
    broken = tmp_path / "broken.toml"
    broken.write_text('[recipe]\nname = "b"\n[[stage]]\nname = "s"\nrun = ["score", "{nope}"]\n')
    result = run_cli("run", broken, registry=reg)
    assert result.code == 2 and "unknown variable {nope}" in result.err
    (tmp_path / "bad.toml").write_text("[recipe\n")
    assert run_cli("run", tmp_path / "bad.toml", registry=reg).code == 2
