"""`dgan demo`: the main job on the embedded toy world, end to end, in minutes.

It runs the packaged recipe `demo.toml` (see it for the stages and sizes):
both label paths, DatasetGAN (annotated GAN samples) and HandsOff (inverted
real images), and prints their downstream scores beside the few-shot baseline.
"""
from pathlib import Path
from typing import List, Optional

import typer

from dgan_cli.hookspecs import hookimpl
from dgan_cli.specs import CommandSpec

RECIPE = Path(__file__).with_name("demo.toml")
# The machine-made annotations of the toy GAN's samples 0-15: package data in a
# wheel (copied there from the source tree at build time), else the source tree's.
ANNOTATION_PLACES = (Path(__file__).with_name("annotations-n16"),
                     Path(__file__).resolve().parents[3] / "recipes" / "toy" / "annotations" / "n16")
BASELINE = "eval-few-shot"
SHEETS = ("contact-sheet-datasetgan.png", "contact-sheet-handsoff.png")


def shipped_annotations() -> Path | None:
    """The first place holding the shipped annotations (a labels.json), or None."""
    return next((p for p in ANNOTATION_PLACES if (p / "labels.json").is_file()), None)


def demo_command(
    out: Path = typer.Option(Path("runs/demo"), "--out", help="Where every stage writes."),
    annotations: Optional[Path] = typer.Option(None, "--annotations", help="Annotations of the toy GAN's "
                                               "samples 0-15 (labelme/, labels.json; default: the shipped set)."),
    settings: Optional[List[str]] = typer.Option(None, "--set", help="NAME=VALUE: change a size in demo.toml, "
                                                 "e.g. synth_images=1000."),
    force: bool = typer.Option(False, "--force", help="Re-run stages already done."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON."),
) -> None:
    """Run both label paths on the toy world and compare them with the few-shot baseline."""
    import json

    from dgan_cli.console import out_console, print_table, write_json
    from dgan_cli.errors import DganError
    from dgan_cli.cli import run_recipe
    from dgan_cli.recipe import load_recipe, parse_settings
    from dgan_cli.registry import default_registry

    annotations = annotations or shipped_annotations()
    if annotations is None:
        raise DganError("the annotations of the toy GAN's samples are not installed",
                        hint=f"looked in {' and '.join(map(str, ANNOTATION_PLACES))}; give --annotations DIR")
    recipe = load_recipe(RECIPE).with_settings(
        {**parse_settings(list(settings or [])), "root": str(out), "annotations": str(annotations)})
    summary = run_recipe(recipe, default_registry(), force=force)
    evals = {stage: json.loads(path.read_text()) for stage, path in result_files(recipe).items()}
    print_table(f"dgan demo: segmentation on {evals[BASELINE]['test']['images']} real toy test images",
                ["label source", "training images", "mIoU (%)", "foreground mIoU (%)", "÷ few-shot (mIoU)"],
                demo_rows(evals, summary["labels"]))
    sheets = [str(out / name) for name in SHEETS]
    out_console.print(f"contact sheets: {', '.join(sheets)}")
    base = evals[BASELINE]["metrics"]["miou"]
    write_json(json_path, {"annotations": str(annotations), "contact_sheets": sheets,
                           "results": {result_key(stage): {"label": summary["labels"][stage],
                                                           "train_images": e["train"]["images"], **e["metrics"]}
                                       for stage, e in evals.items()},
                           "miou_over_few_shot": {result_key(stage): e["metrics"]["miou"] / base if base else None
                                                  for stage, e in evals.items() if stage != BASELINE}})


def result_key(stage: str) -> str:
    """The stable JSON key of a results stage: eval-few-shot -> few_shot."""
    return stage.removeprefix("eval-").replace("-", "_")


def result_files(recipe) -> dict:
    """Stage name -> the eval JSON it writes, for the results stages of the (matrix-free) demo recipe."""
    from dgan_cli.recipe import fill

    (entry,) = recipe.entries()
    return {s.name: Path(fill(s.results, entry, s.name)) for s in recipe.stages if s.results}


def demo_rows(evals: dict, labels: dict) -> list[list]:
    """One row per label source: training images, mIoU and foreground mIoU in %, mIoU / few-shot mIoU."""
    base = evals[BASELINE]["metrics"]["miou"]
    rows = []
    for stage, result in evals.items():
        miou = result["metrics"]["miou"]
        ratio = "-" if stage == BASELINE or not base else f"{miou / base:.2f}"
        rows.append([labels[stage], result["train"]["images"], f"{100 * miou:.1f}",
                     f"{100 * result['metrics']['miou_foreground']:.1f}", ratio])
    return rows


@hookimpl
def dgan_commands():
    return [CommandSpec(name="demo", app=demo_command,
                        summary="Run both label paths on the embedded toy world (the README's first command).")]
