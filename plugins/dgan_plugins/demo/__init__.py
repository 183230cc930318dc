"""`dgan demo`: the main job on the embedded toy world, end to end, in minutes.

It runs the packaged recipe `demo.toml` (see it for the stages and sizes)
and prints each label path's downstream scores beside the few-shot baseline.
"""
from pathlib import Path
from typing import Optional

import typer

from dgan_cli.hookspecs import hookimpl
from dgan_cli.specs import CommandSpec

RECIPE = Path(__file__).with_name("demo.toml")
ROWS = (("HandsOff: 16 real labels, inverted", "handsoff/eval.json"),
        ("few-shot baseline: the same 16 real labels", "few-shot/eval.json"))


def demo_command(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Where every stage writes."),
    force: bool = typer.Option(False, "--force", help="Re-run stages already done."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON."),
) -> None:
    """Run the label paths on the toy world and compare them with the few-shot baseline."""
    import dataclasses
    import json

    from dgan_cli.console import out_console, print_table, write_json
    from dgan_cli.recipe import load_recipe, run_recipe
    from dgan_cli.registry import default_registry

    recipe = load_recipe(RECIPE)
    recipe = dataclasses.replace(recipe, variables={**recipe.variables, "root": str(out)})
    run_recipe(recipe, default_registry(), force=force)
    rows, results = [], {}
    for label, rel in ROWS:
        data = json.loads((out / rel).read_text())
        metrics = data["metrics"]
        results[label] = {"train_images": data["train"]["images"], **metrics}
        rows.append([label, data["train"]["images"], 100 * metrics["miou"]])
    print_table(f"dgan demo: segmentation on {data['test']['images']} real toy test images",
                ["label source", "training images", "mIoU (%)"], rows)
    out_console.print(f"contact sheet: {out / 'contact-sheet.png'}")
    write_json(json_path, {"results": results, "contact_sheet": str(out / "contact-sheet.png")})


@hookimpl
def dgan_commands():
    return [CommandSpec(name="demo", app=demo_command,
                        summary="Run the label paths on the embedded toy world (the README's first command).")]
