"""`dgan backbone info`: any backbone plugin's checkpoint, described the same way."""
from __future__ import annotations

from typing import List, Optional

from pathlib import Path

import typer

from dgan_cli.console import print_table, write_json
from dgan_cli.errors import CheckpointError, DganError
from dgan_cli.registry import Registry, _accepts, load_backbone


def describe(backbone) -> dict:
    layers = [layer.as_dict() for layer in backbone.layers]
    return {
        "identity": backbone.identity(), "resolution": backbone.resolution,
        "z_dim": backbone.z_dim, "w_dim": backbone.w_dim, "num_ws": backbone.num_ws,
        "layers": layers, "pixel_feature_dims": sum(layer["channels"] for layer in layers),
    }


def register(group: typer.Typer, registry: Registry) -> None:
    @group.command("info")
    def info(
        checkpoint: str = typer.Argument(..., help="Checkpoint file, or a named backbone such as 'toy'."),
        json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the description as JSON."),
    ) -> None:
        """Resolution, latent sizes, feature layers and per-pixel feature dims of a generator."""
        data = describe(load_backbone(checkpoint, registry=registry))
        ident = data["identity"]
        print_table(f"{ident.get('name')} {str(ident.get('sha256', ''))[:12]}",
                    ["", ""],
                    [["resolution", data["resolution"]], ["z / w dims", f"{data['z_dim']} / {data['w_dim']}"],
                     ["number of ws", data["num_ws"]], ["pixel feature dims", data["pixel_feature_dims"]]])
        print_table("feature layers", ["layer", "channels", "resolution"],
                    [[l["name"], l["channels"], l["resolution"]] for l in data["layers"]])
        write_json(json_path, data)

    @group.command("convert")
    def convert(
        src: Path = typer.Argument(..., help="A checkpoint a backbone plugin can convert (e.g. official .pkl)."),
        dst: Path = typer.Argument(..., help="Output file, in that plugin's dgan format (weights_only loadable)."),
        force: bool = typer.Option(False, "--force", help="Overwrite DST if it exists."),
        option: List[str] = typer.Option([], "--option", help="Plugin option KEY=VALUE (repeatable, text; e.g. avg_latent=FILE for stylegan1)."),
        json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the summary as JSON."),
    ) -> None:
        """Convert a generator checkpoint to dgan's safe format (no pickled code is ever run)."""
        pairs = [text.partition("=") for text in option]
        bad = [key + sep + value for key, sep, value in pairs if not sep or not key.strip()]
        if bad:
            raise DganError(f"--option expects KEY=VALUE, got '{bad[0]}'")
        options = {key.strip(): value for key, _, value in pairs}
        if dst.exists() and not force:
            raise DganError(f"{dst}: already exists", hint="pass --force to overwrite it")
        if not src.is_file():
            raise CheckpointError(f"{src}: no such checkpoint file")
        if dst.resolve() == src.resolve():
            raise DganError(f"{dst}: the output must be a different file than the input")
        takers = [spec for spec in registry.specs("backbone") if spec.convert is not None and _accepts(spec, src)]
        if not takers:
            raise CheckpointError(f"{src}: not a checkpoint format any installed backbone plugin converts")
        if len(takers) > 1:
            raise CheckpointError(f"{src}: claimed by several backbone plugins ({', '.join(s.name for s in takers)})")
        summary, rows = takers[0].convert(src, dst, **options)
        print_table("dgan backbone convert", ["", ""], rows)
        write_json(json_path, summary)
