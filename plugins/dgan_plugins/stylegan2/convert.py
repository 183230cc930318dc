"""`dgan backbone convert SRC DST`: any supported StyleGAN2 checkpoint -> dgan's format.

Cheap to import (no torch here): the CLI imports this module on every start.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def convert_command(
    src: Path = typer.Argument(..., help="Official stylegan2-ada-pytorch .pkl, rosinality .pt or dgan .pt."),
    dst: Path = typer.Argument(..., help="Output file (dgan-stylegan2 format, loadable with weights_only=True)."),
    force: bool = typer.Option(False, "--force", help="Overwrite DST if it exists."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the summary as JSON."),
) -> None:
    """Convert a StyleGAN2/ADA checkpoint to dgan's safe format (no pickled code is ever run)."""
    from dgan_cli.console import print_table, write_json
    from dgan_cli.errors import DganError
    from dgan_plugins.stylegan2.backbone import state_dict_sha256
    from dgan_cli.checksum import file_sha256
    from dgan_plugins.stylegan2.checkpoint import FORMAT_NAMES, load_any, save_checkpoint

    if dst.exists() and not force:
        raise DganError(f"{dst}: already exists", hint="pass --force to overwrite it")
    if dst.resolve() == src.resolve():
        raise DganError(f"{dst}: the output must be a different file than the input")
    generator, fmt = load_any(src)
    save_checkpoint(dst, generator, extra={"converted_from": {"format": fmt, "sha256": file_sha256(src)}})
    summary = {
        "source": str(src), "source_format": fmt, "output": str(dst), "output_sha256": file_sha256(dst),
        "weights_sha256": state_dict_sha256(generator), "resolution": generator.img_resolution,
        "z_dim": generator.z_dim, "c_dim": generator.c_dim, "w_dim": generator.w_dim, "num_ws": generator.num_ws,
        "parameters": sum(p.numel() for p in generator.parameters()), "config": generator.init_kwargs,
    }
    print_table("dgan backbone convert", ["", ""], [
        ["source", f"{src} ({FORMAT_NAMES[fmt]})"], ["output", str(dst)],
        ["resolution", summary["resolution"]], ["z / w dims", f"{summary['z_dim']} / {summary['w_dim']}"],
        ["number of ws", summary["num_ws"]], ["parameters", summary["parameters"]],
        ["output sha256", summary["output_sha256"][:16]],
    ])
    write_json(json_path, summary)
