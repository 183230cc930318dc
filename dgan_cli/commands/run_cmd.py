"""`dgan run RECIPE` runs a recipe's stages (skipping those done); `dgan results` tabulates its results."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, List, Optional

import typer

from dgan_cli.console import out_console, print_table, write_json
from dgan_cli.errors import DganError
from dgan_cli.recipe import load_recipe, parse_settings, run_recipe


def register(app: typer.Typer, invoke: Callable[[list[str]], int]) -> None:
    """Add `run` and `results` to the root `app`; `invoke(args)` runs one dgan command (cli.main)."""
    @app.command("run")
    def run(
        recipe: Path = typer.Argument(..., help="A recipe TOML file (see recipes/)."),
        only: Optional[List[str]] = typer.Option(None, "--only", help="Run only these stages."),
        settings: Optional[List[str]] = typer.Option(None, "--set", help="NAME=VALUE: replace a [vars] value, "
                                                     "or keep only these values of a matrix axis (seed=0,1)."),
        force: bool = typer.Option(False, "--force", help="Re-run stages already done."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Check every stage's command and list what "
                                     "would run; run nothing."),
        json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON."),
    ) -> None:
        """Run a recipe's stages in order; re-running skips stages already done."""
        loaded = load_recipe(recipe).with_settings(parse_settings(list(settings or [])))
        summary = run_recipe(loaded, typer.main.get_command(app), invoke, only=list(only or []), force=force,
                             dry_run=dry_run)
        if dry_run:
            print_table(f"{summary['recipe']}: plan ({summary['entries']} entries)",
                        ["out", "stage", "state", "command"],
                        [[s["out"], s["stage"], s["state"], "dgan " + " ".join(s["args"])]
                         for s in summary["steps"]])
        for stage, rows in summary["results"].items():
            print_table(f"{summary['recipe']}: {summary['labels'][stage]}",
                        ["group", "metric", "mean", "std", "n"],
                        [[", ".join(map(str, r["group"].values())) or "all", r["metric"], r["mean"], r["std"],
                          r["n"]] for r in rows])
        write_json(json_path, summary)

    @app.command("results")
    def results(
        summaries: List[Path] = typer.Argument(..., help="Recipe summaries written by `dgan run RECIPE --json`."),
        metrics: Optional[List[str]] = typer.Option(None, "--metric", help="KEY or KEY=NAME, e.g. "
                                                    "metrics.miou=mIoU (repeatable; default: every metric)."),
        baseline: Optional[str] = typer.Option(None, "--baseline", help="Source (recipe/stage) every row is "
                                               "divided by, e.g. toy-baselines/few-shot."),
        reference: Optional[str] = typer.Option(None, "--reference", help="A second source to divide by, "
                                                "e.g. toy-baselines/full."),
        table_path: Optional[Path] = typer.Option(None, "--table", help="Markdown file to write the table into."),
        section: Optional[str] = typer.Option(None, "--section", help="Name of the marked section of --table "
                                              "to replace (appended when absent)."),
        json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the rows as JSON."),
        plot_path: Optional[Path] = typer.Option(None, "--plot", help="Also draw one metric against a numeric "
                                                 "matrix variable (--x) as a PNG: one line per source, mean "
                                                 "± std band."),
        x_var: Optional[str] = typer.Option(None, "--x", help="The matrix variable of --plot's x axis, e.g. "
                                            "labels."),
    ) -> None:
        """Mean ± std per group and metric of several recipes' results, with ratios to two sources."""
        from dgan_cli.results_table import build_table, load_summary, markdown, parse_metrics, write_section

        if (table_path is None) != (section is None):
            raise DganError("--table and --section go together")
        if (plot_path is None) != (x_var is None):
            raise DganError("--plot and --x go together")
        loaded = [load_summary(p) for p in summaries]
        table = build_table(loaded, parse_metrics(list(metrics or [])), baseline, reference)
        print_table("dgan results: mean ± std over runs", table["columns"], table["cells"])
        if table_path is not None:
            write_section(table_path, section, markdown(table))
            out_console.print(f"table written to {table_path} (section '{section}')")
        if plot_path is not None:
            from dgan_cli.results_table import plot_against

            plot_against(table["rows"], x_var, plot_path)
            out_console.print(f"plot written to {plot_path}")
        write_json(json_path, {"summaries": [str(p) for p in summaries], **table})
