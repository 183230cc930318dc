"""`dgan run RECIPE`: run a recipe's stages, skipping those already done with the same arguments."""
from __future__ import annotations

import difflib
import json
import math
from pathlib import Path
from typing import List, Optional

import typer
from typer._click.core import Context
from typer.core import TyperGroup as Group

from dgan_cli.console import err_console, print_table, write_json
from dgan_cli.errors import DganError
from dgan_cli.recipe import Recipe, fill, load_recipe
from dgan_cli.registry import Registry


def check_command(root: Group, args: tuple[str, ...], where: str) -> None:
    """Fail early, with a suggestion, if a stage names no existing command."""
    cmd, ctx = root, Context(root)
    for token in args:
        if not isinstance(cmd, Group) or token.startswith("-"):
            return
        sub = cmd.get_command(ctx, token)
        if sub is None:
            known = cmd.list_commands(ctx)
            close = difflib.get_close_matches(token, known, n=1)
            raise DganError(f"{where}: unknown command '{token}'",
                            hint=f"did you mean '{close[0]}'?" if close else f"commands: {', '.join(known)}")
        cmd = sub


def flatten(data, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a results JSON as {"a.b": value}."""
    out: dict[str, float] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        out[prefix[:-1]] = float(data)
    return out


def aggregate(per_entry: list[dict[str, float]]) -> list[dict]:
    rows = []
    for key in sorted({k for entry in per_entry for k in entry}):
        values = [entry[key] for entry in per_entry if key in entry]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        rows.append({"metric": key, "mean": mean, "std": std, "n": len(values)})
    return rows


def run_recipe(recipe: Recipe, registry: Registry, *, only: list[str], force: bool) -> dict:
    from dgan_cli.cli import build_app, main

    root = typer.main.get_command(build_app(registry))
    names = [s.name for s in recipe.stages]
    for name in only:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            raise DganError(f"{recipe.path}: no stage '{name}'",
                            hint=f"did you mean '{close[0]}'?" if close else f"stages: {', '.join(names)}")
    for stage in recipe.stages:
        check_command(root, stage.run, f"{recipe.path}: stage '{stage.name}'")
    results: dict[str, list[dict[str, float]]] = {}
    for entry in recipe.entries():
        for stage in recipe.stages:
            if only and stage.name not in only:
                continue
            args = [fill(a, entry, f"{recipe.path}: stage '{stage.name}'") for a in stage.run]
            marker = Path(entry["out"]) / ".dgan-stages" / f"{stage.name}.json"
            done = marker.exists() and json.loads(marker.read_text()).get("args") == args
            if done and not force:
                err_console.print(f"[dim]{entry['out']}: {stage.name} already done, skipped[/dim]")
            else:
                err_console.print(f"[bold]{entry['out']}: {stage.name}[/bold]  dgan {' '.join(args)}")
                code = main(args, registry=registry)
                if code != 0:
                    raise DganError(f"stage '{stage.name}' failed (exit {code}) in {entry['out']}",
                                    hint="fix it and run the recipe again; finished stages are kept")
                write_json(marker, {"args": args})
            if stage.results:
                path = Path(fill(stage.results, entry, f"{recipe.path}: stage '{stage.name}'"))
                if path.exists():
                    results.setdefault(stage.name, []).append(flatten(json.loads(path.read_text())))
    return {"recipe": recipe.name, "entries": len(recipe.entries()),
            "results": {stage: aggregate(values) for stage, values in results.items()}}


def register(app: typer.Typer, registry: Registry) -> None:
    @app.command("run")
    def run(
        recipe: Path = typer.Argument(..., help="A recipe TOML file (see recipes/)."),
        only: Optional[List[str]] = typer.Option(None, "--only", help="Run only these stages."),
        force: bool = typer.Option(False, "--force", help="Re-run stages already done."),
        json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON."),
    ) -> None:
        """Run a recipe's stages in order; re-running skips stages already done."""
        summary = run_recipe(load_recipe(recipe), registry, only=list(only or []), force=force)
        for stage, rows in summary["results"].items():
            print_table(f"{summary['recipe']}: {stage} (over {summary['entries']} runs)",
                        ["metric", "mean", "std", "n"],
                        [[r["metric"], r["mean"], r["std"], r["n"]] for r in rows])
        write_json(json_path, summary)
