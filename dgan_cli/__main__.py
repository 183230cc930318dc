"""`python -m dgan_cli` runs the dgan CLI."""
from dgan_cli.cli import entry

entry()
