"""Recipes: named stages of dgan commands, expanded over a matrix of values.

A recipe is a TOML file:

    [recipe]
    name = "toy-datasetgan-segmentation"
    out = "runs/{name}/seed{seed}"          # one folder per matrix entry
    matrix = { seed = [0, 1, 2] }

    [vars]                                    # any names usable as {name}
    backbone = "toy"

    [[stage]]
    name = "sample"
    run = ["sample", "--backbone", "{backbone}", "-n", "16", "--seed", "{seed}",
           "--cache", "{out}/samples.h5", "--out", "{out}/samples"]

    [[stage]]
    name = "eval"
    run = ["eval", "...", "--json", "{out}/eval.json"]
    results = "{out}/eval.json"               # collected into the results table

Each stage is any `dgan` command, built-in or from a plugin.
"""
from __future__ import annotations

import difflib
import itertools
import json
import math
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import typer
from typer._click.core import Context
from typer.core import TyperGroup as Group

from dgan_cli.console import err_console, write_json
from dgan_cli.errors import DganError
from dgan_cli.registry import Registry


@dataclass(frozen=True)
class Stage:
    name: str
    run: tuple[str, ...]
    results: str | None = None


@dataclass(frozen=True)
class Recipe:
    name: str
    path: Path
    out: str
    stages: tuple[Stage, ...]
    variables: dict = field(default_factory=dict)
    matrix: dict = field(default_factory=dict)

    def entries(self) -> list[dict]:
        """One variable mapping per matrix combination, with {out} resolved."""
        keys = sorted(self.matrix)
        combos = itertools.product(*(self.matrix[k] for k in keys)) if keys else [()]
        entries = []
        for combo in combos:
            values = {"name": self.name, **self.variables, **dict(zip(keys, combo))}
            values["out"] = fill(self.out, values, f"{self.path}: [recipe] out")
            entries.append(values)
        return entries


def fill(template: str, values: dict, where: str) -> str:
    names = [n for _, n, _, _ in string.Formatter().parse(template) if n]
    missing = [n for n in names if n not in values]
    if missing:
        raise DganError(f"{where}: unknown variable {{{missing[0]}}}",
                        hint=f"defined: {', '.join(sorted(values))}")
    return template.format(**values)


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise DganError(f"{path}: no such recipe") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DganError(f"{path}: unreadable recipe ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise DganError(f"{path}: not valid TOML ({exc})") from None
    head = data.get("recipe")
    if not isinstance(head, dict) or "name" not in head:
        raise DganError(f"{path}: missing [recipe] table with a name")
    stages, seen = [], set()
    for i, raw in enumerate(data.get("stage", [])):
        name, run = raw.get("name"), raw.get("run")
        if not name or not isinstance(run, list) or not run or not all(isinstance(a, (str, int, float)) for a in run):
            raise DganError(f"{path}: stage {i + 1} needs a name and a non-empty 'run' list of arguments")
        if name in seen:
            raise DganError(f"{path}: stage name '{name}' used twice")
        seen.add(name)
        stages.append(Stage(name, tuple(str(a) for a in run), raw.get("results")))
    if not stages:
        raise DganError(f"{path}: no [[stage]] entries")
    matrix = head.get("matrix", {})
    if not all(isinstance(v, list) and v for v in matrix.values()):
        raise DganError(f"{path}: every matrix entry must be a non-empty list")
    return Recipe(name=head["name"], path=path, out=head.get("out", "runs/{name}"),
                  stages=tuple(stages), variables=dict(data.get("vars", {})), matrix=matrix)


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


def run_recipe(recipe: Recipe, registry: Registry, *, only: list[str] = (), force: bool = False) -> dict:
    """Run every stage for every matrix entry; returns the aggregated results of stages with `results`."""
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
