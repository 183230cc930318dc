"""`dgan run RECIPE`: stages in order, matrix expansion, skipping done stages, clear errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
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


def prep(out: Path = typer.Option(...)) -> None:
    CALLS.append("prep")
    out.mkdir(parents=True, exist_ok=True)


def measure(seed: int = typer.Option(...), bias: float = typer.Option(0.0), out: Path = typer.Option(...)) -> None:
    """Writes an eval-like JSON: miou = bias + seed / 10, err = 1 + seed."""
    CALLS.append(f"measure {seed} {bias}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"metrics": {"miou": bias + seed / 10, "err": 1.0 + seed}}))


def matrix_registry() -> Registry:
    reg = Registry()

    class P:
        @hookimpl
        def dgan_commands(self):
            return [CommandSpec(name="prep", app=prep), CommandSpec(name="measure", app=measure)]

    reg.register(P(), "test")
    return reg


def write_matrix_recipe(tmp_path: Path, name: str, stages: str, seeds: str = "[0, 2]") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f"""
[recipe]
name = "{name}"
out = "{tmp_path}/{name}/{{head}}/seed{{seed}}"
over = "seed"

[recipe.matrix]
head = ["seg", "depth"]
seed = {seeds}

[vars]
bias = 0.5

[[stage]]
name = "prep"
run = ["prep", "--out", "{tmp_path}/{name}/shared"]
{stages}
""")
    return path


MEASURE = """
[[stage]]
name = "{stage}"
label = "{label}"
run = ["measure", "--seed", "{{seed}}", "--bias", "{bias}", "--out", "{{out}}/{stage}.json"]
results = "{{out}}/{stage}.json"
"""


def test_matrix_values_with_variables_shared_stages_and_groups(run_cli, tmp_path):
    CALLS.clear()
    reg = matrix_registry()
    seeds = "[{ seed = 0, bias = 0.25 }, { seed = 2, bias = 0.75 }]"  # bias goes with each seed
    recipe = write_matrix_recipe(tmp_path, "syn", MEASURE.format(stage="m", label="M", bias="{bias}"), seeds)
    result = run_cli("run", recipe, "--json", tmp_path / "s.json", registry=reg)
    assert result.code == 0, result.err
    # prep uses no matrix variable: it runs once for the four entries
    assert CALLS == ["prep", "measure 0 0.25", "measure 2 0.75", "measure 0 0.25", "measure 2 0.75"]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["labels"] == {"m": "M"} and summary["over"] == "seed"
    rows = {(r["group"]["head"], r["metric"]): r for r in summary["results"]["m"]}
    assert set(rows) == {(h, m) for h in ("seg", "depth") for m in ("metrics.miou", "metrics.err")}
    miou = rows[("seg", "metrics.miou")]  # values 0.25 and 0.95
    assert miou["n"] == 2 and abs(miou["mean"] - 0.6) < 1e-9 and abs(miou["std"] - 0.35) < 1e-9
    assert run_cli("run", recipe, registry=reg).code == 0
    assert len(CALLS) == 5  # everything done, shared stage included


def test_set_replaces_variables_and_selects_matrix_values(run_cli, tmp_path):
    CALLS.clear()
    reg = matrix_registry()
    recipe = write_matrix_recipe(tmp_path, "syn", MEASURE.format(stage="m", label="M", bias="{bias}"))
    result = run_cli("run", recipe, "--set", "seed=2", "--set", "bias=1.5", "--set", "head=seg", registry=reg)
    assert result.code == 0, result.err
    assert CALLS == ["prep", "measure 2 1.5"]
    # another head alone: the shared stage is found done
    assert run_cli("run", recipe, "--set", "seed=2", "--set", "bias=1.5", "--set", "head=depth", registry=reg).code == 0
    assert CALLS == ["prep", "measure 2 1.5", "measure 2 1.5"]
    result = run_cli("run", recipe, "--set", "bais=1", registry=reg)
    assert result.code == 2 and "--set bais: no such variable or matrix axis (did you mean 'bias'?)" in result.err
    result = run_cli("run", recipe, "--set", "seed=7", registry=reg)
    assert result.code == 2 and "matrix axis 'seed' has no value '7' (values: 0, 2)" in result.err
    assert run_cli("run", recipe, "--set", "seed", registry=reg).code == 2


def test_dry_run_checks_every_command_and_runs_nothing(run_cli, tmp_path):
    CALLS.clear()
    reg = matrix_registry()
    recipe = write_matrix_recipe(tmp_path, "syn", MEASURE.format(stage="m", label="M", bias="{bias}"))
    result = run_cli("run", recipe, "--dry-run", "--json", tmp_path / "plan.json", registry=reg)
    assert result.code == 0, result.err
    assert CALLS == []
    states = [(s["stage"], s["state"]) for s in json.loads((tmp_path / "plan.json").read_text())["steps"]]
    assert states == [("prep", "to run"), ("m", "to run")] + [("prep", "shared"), ("m", "to run")] * 3
    bad_value = write_matrix_recipe(tmp_path, "bad", MEASURE.format(stage="m", label="M", bias="abc"))
    result = run_cli("run", bad_value, registry=reg)
    assert result.code == 2 and "stage 'm': Invalid value for '--bias'" in result.err
    assert CALLS == []  # refused before the first stage ran
    typo = write_matrix_recipe(tmp_path, "typo", '[[stage]]\nname = "t"\nrun = ["measure", "--sed", "1"]\n')
    result = run_cli("run", typo, "--dry-run", registry=reg)
    assert result.code == 2 and "No such option: --sed" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_over_must_name_a_matrix_axis(run_cli, tmp_path):
    path = tmp_path / "r.toml"
    path.write_text('[recipe]\nname = "r"\nover = "seed"\n[[stage]]\nname = "s"\nrun = ["prep", "--out", "x"]\n')
    result = run_cli("run", path, registry=matrix_registry())
    assert result.code == 2 and "over = 'seed' is not a matrix axis" in result.err


def summaries(run_cli, tmp_path) -> list[Path]:
    """Two recipes' summaries: a synthetic source, and few-shot + full baselines, per head over 2 seeds."""
    reg = matrix_registry()
    synthetic = write_matrix_recipe(tmp_path, "syn", MEASURE.format(stage="eval", label="Synthetic", bias="0.6"))
    baselines = write_matrix_recipe(tmp_path, "base", MEASURE.format(stage="few", label="few-shot", bias="0.4")
                                    + MEASURE.format(stage="full", label="full", bias="0.8"))
    paths = []
    for recipe in (synthetic, baselines):
        paths.append(tmp_path / f"{recipe.stem}.json")
        assert run_cli("run", recipe, "--json", paths[-1], registry=reg).code == 0
    return paths


def test_results_table_mean_std_and_ratios(run_cli, tmp_path):
    paths = summaries(run_cli, tmp_path)
    doc = tmp_path / "results.md"
    doc.write_text("# Results\n\nintro\n\n<!-- dgan results: toy -->\nold\n"
                   "<!-- end of dgan results: toy -->\n\nafter\n")
    args = ["results", *paths, "--metric", "metrics.miou=mIoU", "--metric", "metrics.err=error",
            "--baseline", "base/few", "--reference", "base/full", "--table", doc, "--section", "toy",
            "--json", tmp_path / "t.json"]
    result = run_cli(*args)
    assert result.code == 0, result.err
    table = json.loads((tmp_path / "t.json").read_text())
    assert table["columns"] == ["head", "metric", "label source", "mean ± std", "runs", "÷ few-shot", "÷ full"]
    rows = {(r["group"]["head"], r["name"], r["label"]): r for r in table["rows"]}
    assert len(rows) == 12  # 2 heads x 2 metrics x 3 sources
    syn = rows[("seg", "mIoU", "Synthetic")]  # seeds 0 and 2: 0.6 and 0.8
    assert abs(syn["mean"] - 0.7) < 1e-9 and abs(syn["std"] - 0.1) < 1e-9 and syn["n"] == 2
    assert abs(syn["vs_baseline"] - 0.7 / 0.5) < 1e-9 and abs(syn["vs_reference"] - 0.7 / 0.9) < 1e-9
    few = rows[("seg", "mIoU", "few-shot")]
    assert few["vs_baseline"] is None and abs(few["vs_reference"] - 0.5 / 0.9) < 1e-9
    assert rows[("depth", "error", "Synthetic")]["vs_baseline"] == 1.0  # errors do not depend on bias
    text = doc.read_text()
    assert text.startswith("# Results\n\nintro\n\n<!-- dgan results: toy -->\n| head | metric |")
    assert "old" not in text and text.endswith("<!-- end of dgan results: toy -->\n\nafter\n")
    assert "| seg | mIoU | Synthetic | 0.700 ± 0.100 | 2 | 1.40 | 0.78 |" in text
    assert run_cli(*args).code == 0 and doc.read_text() == text  # idempotent
    other = tmp_path / "other.md"
    assert run_cli("results", *paths, "--table", other, "--section", "new").code == 0
    assert other.read_text().startswith("<!-- dgan results: new -->\n| head | metric |")


def test_results_bad_input_is_one_line(run_cli, tmp_path):
    paths = summaries(run_cli, tmp_path)
    result = run_cli("results", *paths, "--baseline", "base/fwe")
    assert result.code == 2 and "no such results source (did you mean 'base/few'?)" in result.err
    result = run_cli("results", *paths, "--metric", "metrics.nope")
    assert result.code == 2 and "no results to tabulate" in result.err
    assert run_cli("results", *paths, "--table", tmp_path / "x.md").code == 2
    broken = tmp_path / "broken.md"
    broken.write_text("<!-- end of dgan results: toy -->\n<!-- dgan results: toy -->\n")
    result = run_cli("results", *paths, "--table", broken, "--section", "toy")
    assert result.code == 2 and "broken marker pair" in result.err
    (tmp_path / "not.json").write_text("[1]")
    assert run_cli("results", tmp_path / "not.json").code == 2


def test_results_merge_one_recipe_run_per_head(run_cli, tmp_path):
    whole = summaries(run_cli, tmp_path)
    reg = matrix_registry()
    per_head = [whole[0]]
    for head in ("seg", "depth"):
        per_head.append(tmp_path / f"base-{head}.json")
        assert run_cli("run", tmp_path / "base.toml", "--set", f"head={head}", "--json", per_head[-1],
                       registry=reg).code == 0
    args = ["--metric", "metrics.miou", "--baseline", "base/few", "--reference", "base/full"]
    assert run_cli("results", *whole, *args, "--json", tmp_path / "whole.json").code == 0
    assert run_cli("results", *per_head, *args, "--json", tmp_path / "merged.json").code == 0
    merged, one = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("merged", "whole"))
    assert merged["rows"] == one["rows"] and merged["cells"] == one["cells"] and len(merged["rows"]) == 6
    result = run_cli("results", *per_head, whole[1], *args)
    assert result.code == 2 and "base/few: group {'head': 'depth'} is in more than one summary" in result.err


def test_no_import_cycle_among_cli_run_command_and_recipe():
    """cli imports run_cmd, run_cmd imports recipe; neither imports back, even inside a function."""
    import ast

    import dgan_cli

    root = Path(dgan_cli.__file__).parent

    def imported(relative: str) -> set[str]:
        tree = ast.parse((root / relative).read_text())
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
        return names

    assert "dgan_cli.commands.run_cmd" in imported("cli.py")
    assert "dgan_cli.recipe" in imported("commands/run_cmd.py")
    assert not imported("commands/run_cmd.py") & {"dgan_cli.cli"}
    assert not imported("recipe.py") & {"dgan_cli.cli", "dgan_cli.commands.run_cmd", "dgan_cli.commands"}


def test_results_plot_one_metric_against_a_numeric_variable(tmp_path):
    from PIL import Image

    from dgan_cli.results_table import plot_against

    def row(label, labels, mean):
        return {"group": {"labels": labels}, "name": "mIoU", "label": label, "mean": mean, "std": 0.02}

    rows = [row("few-shot", 16, 0.6), row("few-shot", 4, 0.3), row("DatasetGAN", 4, 0.5), row("DatasetGAN", 16, 0.7)]
    path = plot_against(rows, "labels", tmp_path / "curve.png")
    pixels = {colour for _, colour in Image.open(path).convert("RGB").getcolors(1 << 20)}
    assert {(31, 119, 180), (214, 39, 40)} <= pixels  # one line per source, in the first two colours
    with pytest.raises(DganError, match="draws one metric"):
        plot_against([*rows, {**rows[0], "name": "error"}], "labels", tmp_path / "x.png")


def test_results_plot_bad_input_is_one_line(run_cli, tmp_path):
    paths = summaries(run_cli, tmp_path)
    result = run_cli("results", *paths, "--metric", "metrics.miou", "--plot", tmp_path / "p.png", "--x", "head")
    assert result.code == 2 and "--x head: not a numeric matrix variable" in result.err
    assert run_cli("results", *paths, "--plot", tmp_path / "p.png").code == 2
    assert not (tmp_path / "p.png").exists()


def tag(out: Path = typer.Option(...), tags: list[str] = typer.Option([], "--tag")) -> None:
    CALLS.append(f"tag {' '.join(tags)}".strip())


def test_a_list_value_splices_its_items_into_the_command(run_cli, tmp_path):
    """A matrix value can carry options only its entry gets: "{name}" of a list stands for its items."""
    CALLS.clear()
    reg = Registry()

    class P:
        @hookimpl
        def dgan_commands(self):
            return [CommandSpec(name="tag", app=tag)]

    reg.register(P(), "test")
    path = tmp_path / "l.toml"
    path.write_text(f"""
[recipe]
name = "l"
out = "{tmp_path}/l/{{head}}"
matrix = {{ head = [{{ head = "seg", extra = [] }}, {{ head = "depth", extra = ["--tag", "{{head}}-x", "--tag", "2"] }}] }}

[[stage]]
name = "t"
run = ["tag", "{{extra}}", "--out", "{{out}}/t.json"]
""")
    result = run_cli("run", path, registry=reg)
    assert result.code == 0, result.err
    assert CALLS == ["tag", "tag depth-x 2"]
