"""`dgan run RECIPE`: run a recipe's stages, skipping those already done with the same arguments."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from dgan_cli.console import print_table, write_json
from dgan_cli.recipe import load_recipe, run_recipe
from dgan_cli.registry import Registry


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
