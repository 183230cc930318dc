"""`dgan backbone info`: any backbone plugin's checkpoint, described the same way."""
from __future__ import annotations

from typing import Optional

from pathlib import Path

import typer

from dgan_cli.console import print_table, write_json
from dgan_cli.registry import Registry, load_backbone


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
