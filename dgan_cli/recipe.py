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

import itertools
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from dgan_cli.errors import DganError


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
