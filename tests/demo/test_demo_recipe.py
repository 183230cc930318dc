"""The toy recipes and `dgan demo`: every stage checks out, and the demo runs both label paths."""
import json
from pathlib import Path

import h5py
import pytest

from dgan_cli.cli import command_tree
from dgan_cli.recipe import load_recipe, plan
from dgan_cli.registry import discover
from dgan_plugins.demo import RECIPE, demo_rows, shipped_annotations
from demo_standin import write_standin

ROOT = Path(__file__).resolve().parents[2]
TOY_RECIPES = sorted((ROOT / "recipes" / "toy").glob("*.toml"))
TINY = {"test_images": "4", "invert_steps": "1", "members": "1", "epochs": "1", "pixels": "256",
        "synth_images": "4", "eval_steps": "2"}


@pytest.mark.parametrize("path", [RECIPE, *TOY_RECIPES], ids=lambda p: p.name)
def test_every_stage_of_every_entry_parses_as_its_command(path):
    recipe = load_recipe(path)
    steps = plan(recipe, command_tree(discover()))  # raises on an unknown command, option or value
    assert len(steps) == len(recipe.entries()) * len(recipe.stages)
    assert all("{" not in arg for step in steps for arg in step.args)


@pytest.mark.parametrize("name", ["datasetgan", "handsoff", "baselines"])
def test_label_path_recipes_cover_three_heads_over_three_seeds(name):
    recipe = load_recipe(ROOT / "recipes" / "toy" / f"{name}.toml")
    assert recipe.over == "seed"
    groups = {tuple(recipe.group(e).items()) for e in recipe.entries()}
    assert groups == {(("head", h),) for h in ("segmentation", "keypoints", "depth")}
    assert sorted({e["seed"] for e in recipe.entries()}) == [0, 1, 2]


def test_demo_recipe_runs_both_label_paths_and_the_baseline():
    recipe = load_recipe(RECIPE)
    commands = {s.name: s.run[0] for s in recipe.stages}
    assert commands["sample"] == "sample" and commands["annotate-import"] == "annotate-import"  # DatasetGAN
    assert commands["invert"] == "invert"  # HandsOff
    assert [s.name for s in recipe.stages if s.results] == ["eval-datasetgan", "eval-handsoff", "eval-few-shot"]


@pytest.mark.parametrize("path", [RECIPE, *TOY_RECIPES], ids=lambda p: p.name)
def test_every_downstream_row_gets_the_same_schedule(path):
    """One protocol for every row: the same steps variable and augmentation, no per-row learning rate."""
    evals = [s.run for s in load_recipe(path).stages if s.run[0] == "eval"]
    for run in evals:
        assert "--augment" in run and run[run.index("--steps") + 1] == "{eval_steps}" and "--lr" not in run


def test_demo_without_annotations_is_one_line(run_cli, tmp_path, monkeypatch):
    monkeypatch.setattr("dgan_plugins.demo.ANNOTATION_PLACES", (tmp_path / "nowhere",))
    assert shipped_annotations() is None
    result = run_cli("demo", "--out", tmp_path / "demo")
    assert result.code == 2 and "annotations of the toy GAN's samples are not installed" in result.err


def test_demo_runs_end_to_end_on_stand_in_annotations(run_cli, tmp_path):
    annotations = write_standin(tmp_path / "n16")
    sets = [a for name, value in TINY.items() for a in ("--set", f"{name}={value}")]
    result = run_cli("-q", "demo", "--out", tmp_path / "demo", "--annotations", annotations, *sets,
                     "--json", tmp_path / "demo.json")
    assert result.code == 0, result.err
    summary = json.loads((tmp_path / "demo.json").read_text())
    rows = summary["results"]
    assert sorted(rows) == ["datasetgan", "few_shot", "handsoff"]
    assert rows["datasetgan"]["label"] == "DatasetGAN: 16 annotated GAN samples"
    assert [rows[k]["train_images"] for k in ("datasetgan", "handsoff", "few_shot")] == [4, 4, 16]
    assert all(0 <= r["miou"] <= 1 for r in rows.values())
    ratios = summary["miou_over_few_shot"]
    assert sorted(ratios) == ["datasetgan", "handsoff"]
    assert ratios["handsoff"] == pytest.approx(rows["handsoff"]["miou"] / rows["few_shot"]["miou"])
    assert all(Path(sheet).is_file() for sheet in summary["contact_sheets"])
    imported = tmp_path / "demo" / "datasetgan" / "annotated.h5"
    with h5py.File(imported) as cache:
        assert cache["labels/segmentation/present"][:].all()  # all 16 samples carry the stand-in's parts
    assert "÷ few-shot" in result.out and "DatasetGAN" in result.out


def test_demo_rows_divide_by_the_few_shot_miou():
    def result(images, miou):
        return {"train": {"images": images}, "metrics": {"miou": miou, "miou_foreground": miou / 2}}

    evals = {"eval-datasetgan": result(270, 0.39), "eval-few-shot": result(16, 0.3)}
    rows = demo_rows(evals, {"eval-datasetgan": "D", "eval-few-shot": "F"})
    assert rows == [["D", 270, "39.0", "19.5", "1.30"], ["F", 16, "30.0", "15.0", "-"]]
