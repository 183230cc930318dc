"""Recipes: named stages of dgan commands, expanded over a matrix of values.

A recipe is a TOML file:

    [recipe]
    name = "toy-datasetgan"
    out = "{root}/{head}/seed{seed}"           # one folder per matrix entry
    matrix = { head = ["segmentation", "depth"],
               seed = [{ seed = 0, synth_seed = 100000 }, { seed = 1, synth_seed = 200000 }] }
    over = "seed"                              # results: mean/std over seeds, one group per head

    [vars]                                     # any names usable as {name}
    root = "runs/toy-datasetgan"
    backbone = "toy"

    [[stage]]
    name = "sample"                            # no matrix variable: runs once, shared by all entries
    run = ["sample", "--backbone", "{backbone}", "-n", "16", "--cache", "{root}/samples.h5", "--out", "{root}/s"]

    [[stage]]
    name = "eval"
    run = ["eval", "...", "--seed", "{seed}", "--json", "{out}/eval.json"]
    results = "{out}/eval.json"                # collected into the results table
    label = "DatasetGAN"                       # how `dgan results` names these rows

Each stage is any `dgan` command, built-in or from a plugin. A matrix value
is a scalar, or a table holding the axis variable and variables that go with
that value (`synth_seed` above). Entries run one after the other, stages in
order; a stage whose command, once filled in, equals one already done is
not run again, so stages that use no matrix variable run once. `--set
NAME=VALUE` replaces a [vars] value, or keeps only the listed values of a
matrix axis (`--set seed=0,1`). An argument that is exactly `"{name}"` where
name's value is a list stands for the list's items: a matrix value such as
`{ head = "depth", head_args = ["--head-option", "coverage=true"] }` gives
its entry arguments the others (`head_args = []`) do not get.
"""
from __future__ import annotations

import difflib
import itertools
import json
import math
import string
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from typer._click import exceptions as click_exc
from typer._click.core import Context
from typer.core import TyperGroup as Group

from dgan_cli.console import err_console, write_json
from dgan_cli.errors import DganError


@dataclass(frozen=True)
class Stage:
    name: str
    run: tuple[str, ...]
    results: str | None = None
    label: str | None = None


@dataclass(frozen=True)
class Recipe:
    name: str
    path: Path
    out: str
    stages: tuple[Stage, ...]
    variables: dict = field(default_factory=dict)
    matrix: dict = field(default_factory=dict)
    over: str | None = None
    whole_matrix: dict | None = None  # the matrix before `--set` kept only some values

    def entries(self, whole: bool = False) -> list[dict]:
        """One variable mapping per matrix combination, with {out} resolved; `whole`: also the
        combinations `--set` left out."""
        matrix = self.whole_matrix if whole and self.whole_matrix is not None else self.matrix
        keys = sorted(matrix)
        combos = itertools.product(*(matrix[k] for k in keys)) if keys else [()]
        entries = []
        for combo in combos:
            values = {"name": self.name, **self.variables}
            for key, value in zip(keys, combo):
                values.update(value if isinstance(value, dict) else {key: value})
            values["out"] = fill(self.out, values, f"{self.path}: [recipe] out")
            entries.append(values)
        return entries

    def group(self, entry: dict) -> dict:
        """The matrix values results are grouped by: every axis but `over` (none without `over`)."""
        if self.over is None:
            return {}
        return {key: entry[key] for key in sorted(self.matrix) if key != self.over}

    def with_settings(self, settings: dict[str, str]) -> Recipe:
        """`--set NAME=VALUE`: replace a variable, or keep only the listed values of a matrix axis."""
        variables, matrix = dict(self.variables), dict(self.matrix)
        for name, value in settings.items():
            if name in matrix:
                wanted = value.split(",")
                known = [str(v[name] if isinstance(v, dict) else v) for v in matrix[name]]
                unknown = [w for w in wanted if w not in known]
                if unknown:
                    raise DganError(f"{self.path}: matrix axis '{name}' has no value '{unknown[0]}'",
                                    hint=f"values: {', '.join(known)}")
                matrix[name] = [v for v, k in zip(matrix[name], known) if k in wanted]
            elif name in variables:
                variables[name] = value
            else:
                close = difflib.get_close_matches(name, [*variables, *matrix], n=1)
                raise DganError(f"{self.path}: --set {name}: no such variable or matrix axis",
                                hint=f"did you mean '{close[0]}'?" if close else
                                f"variables: {', '.join(sorted([*variables, *matrix])) or 'none'}")
        return replace(self, variables=variables, matrix=matrix,
                       whole_matrix=self.matrix if self.whole_matrix is None else self.whole_matrix)


def fill(template: str, values: dict, where: str) -> str:
    names = [n for _, n, _, _ in string.Formatter().parse(template) if n]
    missing = [n for n in names if n not in values]
    if missing:
        raise DganError(f"{where}: unknown variable {{{missing[0]}}}",
                        hint=f"defined: {', '.join(sorted(values))}")
    return template.format(**values)


def fill_args(run: tuple[str, ...], values: dict, where: str) -> list[str]:
    """A stage's arguments; an argument that is exactly "{name}" of a list value becomes its items
    (none for an empty list), so a matrix value can carry options only it needs."""
    args = []
    for template in run:
        name = template[1:-1]
        if template.startswith("{") and template.endswith("}") and isinstance(values.get(name), list):
            args.extend(fill(str(item), values, where) for item in values[name])
        else:
            args.append(fill(template, values, where))
    return args


def parse_settings(items: list[str]) -> dict[str, str]:
    """`NAME=VALUE` strings (the `--set` option) as a mapping."""
    settings = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise DganError(f"--set expects NAME=VALUE, got '{item}'")
        settings[name.strip()] = value.strip()
    return settings


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
        stages.append(Stage(name, tuple(str(a) for a in run), raw.get("results"), raw.get("label")))
    if not stages:
        raise DganError(f"{path}: no [[stage]] entries")
    matrix = head.get("matrix", {})
    _check_matrix(path, matrix)
    over = head.get("over")
    if over is not None and over not in matrix:
        raise DganError(f"{path}: over = '{over}' is not a matrix axis",
                        hint=f"axes: {', '.join(matrix) or 'none'}")
    return Recipe(name=head["name"], path=path, out=head.get("out", "runs/{name}"),
                  stages=tuple(stages), variables=dict(data.get("vars", {})), matrix=matrix, over=over)


def _check_matrix(path: Path, matrix: dict) -> None:
    for axis, values in matrix.items():
        if not isinstance(values, list) or not values:
            raise DganError(f"{path}: every matrix entry must be a non-empty list")
        for value in values:
            if isinstance(value, dict) and axis not in value:
                raise DganError(f"{path}: matrix axis '{axis}': a table value needs the key '{axis}'")


def check_command(root: Group, args: list[str] | tuple[str, ...], where: str) -> None:
    """Fail early, in one line, on an unknown command (with a suggestion) or arguments it refuses.

    The arguments are parsed as the command would parse them (option names,
    value types, required options) without running anything.
    """
    cmd, ctx, name, rest = root, Context(root, info_name="dgan"), "dgan", list(args)
    while isinstance(cmd, Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        sub = cmd.get_command(ctx, name)
        if sub is None:
            known = cmd.list_commands(ctx)
            close = difflib.get_close_matches(name, known, n=1)
            raise DganError(f"{where}: unknown command '{name}'",
                            hint=f"did you mean '{close[0]}'?" if close else f"commands: {', '.join(known)}")
        if isinstance(sub, Group):
            ctx = Context(sub, parent=ctx, info_name=name)
        cmd = sub
    if isinstance(cmd, Group):  # options of the root or a group only: nothing to run
        return
    try:
        cmd.make_context(name, rest, parent=ctx)
    except click_exc.ClickException as exc:
        raise DganError(f"{where}: {exc.format_message()}") from None


def flatten(data, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a results JSON as {"a.b": value}."""
    out: dict[str, float] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}."))
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        out[prefix[:-1]] = float(data)
    return out


def aggregate(per_entry: list[dict[str, float]], group: dict | None = None) -> list[dict]:
    """Mean and standard deviation (dividing by n) of every metric over the entries that have it."""
    rows = []
    for key in sorted({k for entry in per_entry for k in entry}):
        values = [entry[key] for entry in per_entry if key in entry]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        rows.append({"group": dict(group or {}), "metric": key, "mean": mean, "std": std, "n": len(values)})
    return rows


@dataclass(frozen=True)
class Step:
    """One stage of one matrix entry, its command filled in."""

    entry: dict
    stage: Stage
    args: list[str]
    home: str  # where its marker lives: the first entry's out for a shared command

    @property
    def marker(self) -> Path:
        return Path(self.home) / ".dgan-stages" / f"{self.stage.name}.json"

    def done(self) -> bool:
        return self.marker.exists() and json.loads(self.marker.read_text()).get("args") == self.args


def plan(recipe: Recipe, root: Group, only: list[str] = ()) -> list[Step]:
    """Every step in run order, each command checked (names, options, values) before anything runs.

    `root` is the whole CLI as a click command (`dgan_cli.cli.command_tree(registry)`).
    """
    names = [s.name for s in recipe.stages]
    for name in only:
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            raise DganError(f"{recipe.path}: no stage '{name}'",
                            hint=f"did you mean '{close[0]}'?" if close else f"stages: {', '.join(names)}")
    first = recipe.entries(whole=True)[0]
    steps = []
    for entry in recipe.entries():
        for stage in recipe.stages:
            where = f"{recipe.path}: stage '{stage.name}'"
            args = fill_args(stage.run, entry, where)
            check_command(root, args, where)
            # A command the first entry of the whole matrix shares (no matrix variable in it) is
            # marked there, so a run with `--set head=depth` finds it done too.
            home = first["out"] if args == fill_args(stage.run, first, where) else entry["out"]
            if not only or stage.name in only:
                steps.append(Step(entry, stage, args, home))
    return steps


def run_recipe(recipe: Recipe, root: Group, invoke: Callable[[list[str]], int], *, only: list[str] = (),
               force: bool = False, dry_run: bool = False) -> dict:
    """Run every step (or, with dry_run, only say what would run); returns the plan and the results.

    `invoke(args)` runs one dgan command and returns its exit code (`dgan_cli.cli.main`);
    it and `root` are passed in so that this module never imports the CLI that imports it.
    Results come from the `results` files that exist, aggregated per stage and
    matrix group (see Recipe.group).
    """
    steps = plan(recipe, root, only)
    done: set[tuple[str, ...]] = set()
    status = []
    for step in steps:
        out, name = step.entry["out"], step.stage.name
        if tuple(step.args) in done:
            state = "shared"  # the same command already ran for an earlier entry
        elif step.done() and not force:
            state = "done"
        elif dry_run:
            state = "to run"
        else:
            err_console.print(f"[bold]{out}: {name}[/bold]  dgan {' '.join(step.args)}")
            code = invoke(step.args)
            if code != 0:
                raise DganError(f"stage '{name}' failed (exit {code}) in {out}",
                                hint="fix it and run the recipe again; finished stages are kept")
            state = "ran"
        if not dry_run and state != "done":
            write_json(step.marker, {"args": step.args})
        if not dry_run and state in ("done", "shared"):
            err_console.print(f"[dim]{out}: {name} already done, skipped[/dim]")
        done.add(tuple(step.args))
        status.append({"out": out, "stage": name, "state": state, "args": step.args})
    return {"recipe": recipe.name, "entries": len(recipe.entries()), "over": recipe.over,
            "labels": {s.name: s.label or s.name for s in recipe.stages if s.results},
            "steps": status, "results": collect_results(recipe, steps)}


def collect_results(recipe: Recipe, steps: list[Step]) -> dict[str, list[dict]]:
    """Per results stage: aggregated rows per matrix group, from the results files that exist."""
    found: dict[str, dict[tuple, list[dict[str, float]]]] = {}
    for step in steps:
        if not step.stage.results:
            continue
        path = Path(fill(step.stage.results, step.entry, f"{recipe.path}: stage '{step.stage.name}'"))
        if path.exists():
            per_group = found.setdefault(step.stage.name, {})
            per_group.setdefault(tuple(recipe.group(step.entry).items()), []).append(
                flatten(json.loads(path.read_text())))
    return {stage: [row for group, values in groups.items() for row in aggregate(values, dict(group))]
            for stage, groups in found.items()}
