"""The demo recipe stays runnable: it parses, and every stage names an installed command."""
import typer

from dgan_cli.cli import build_app
from dgan_cli.recipe import check_command, fill, load_recipe
from dgan_cli.registry import discover
from dgan_plugins.demo import RECIPE


def test_demo_recipe_stages_name_existing_commands():
    recipe = load_recipe(RECIPE)
    root = typer.main.get_command(build_app(discover()))
    (entry,) = recipe.entries()
    for stage in recipe.stages:
        check_command(root, stage.run, stage.name)
        args = [fill(a, entry, stage.name) for a in stage.run]
        assert all("{" not in a for a in args)
    assert [s.name for s in recipe.stages if s.results] == ["eval-handsoff", "eval-few-shot"]
