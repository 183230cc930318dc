"""`dgan cache info|validate`: what a cache holds, and whether it is sound."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import typer

from dgan_cli.cache import CacheReader
from dgan_cli.console import out_console, print_table, write_json
from dgan_cli.errors import CacheFormatError


def summary(reader: CacheReader) -> dict:
    layers = reader.layers
    labels = {kind: {"labelled": int(len(reader.labelled(kind))), **reader.label_schema(kind).as_dict()}
              for kind in reader.label_kinds}
    return {
        "path": str(reader.path), "complete": reader.complete, "samples": reader.n,
        "image_shape": list(reader.spec.image_shape),
        "latents": {k: list(v) for k, v in reader.spec.latents.items()},
        "layers": [layer.as_dict() for layer in layers],
        "pixel_feature_dims": sum(layer.channels for layer in layers),
        "labels": labels, "scores": reader.score_names, "provenance": reader.provenance,
    }


def register(group: typer.Typer) -> None:
    @group.command("info")
    def info(
        cache: Path = typer.Argument(..., help="A dgan HDF5 cache."),
        json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the summary as JSON."),
        partial: bool = typer.Option(False, "--partial", help="Also open an unfinished cache."),
    ) -> None:
        """Show what a cache holds: samples, layers, latents, labels, provenance."""
        with CacheReader(cache, allow_incomplete=partial) as reader:
            data = summary(reader)
        backbone = data["provenance"].get("backbone") or {}
        rows = [["samples", data["samples"]], ["complete", data["complete"]],
                ["image", "x".join(map(str, data["image_shape"]))],
                ["backbone", f"{backbone.get('name', '-')} {str(backbone.get('sha256', ''))[:12]}"],
                ["layers", len(data["layers"])], ["pixel feature dims", data["pixel_feature_dims"]],
                ["latents", ", ".join(f"{k} {v}" for k, v in data["latents"].items()) or "-"]]
        rows += [[f"labels/{k}", f"{v['labelled']} labelled"] for k, v in data["labels"].items()]
        rows += [[f"scores/{k}", ""] for k in data["scores"]]
        print_table(str(cache), ["", ""], rows)
        write_json(json_path, data)

    @group.command("validate")
    def validate(
        cache: Path = typer.Argument(..., help="A dgan HDF5 cache."),
        json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the verdict as JSON."),
    ) -> None:
        """Read every committed sample once: sound, unfinished but resumable, or damaged (one line each)."""
        with CacheReader(cache, allow_incomplete=True) as reader:
            try:
                _read_all(reader, cache)
            except (OSError, RuntimeError, KeyError, ValueError) as exc:
                raise CacheFormatError(f"{cache}: damaged ({str(exc).split('(')[0].strip() or type(exc).__name__})",
                                       hint="resuming cannot repair it: delete it and run the command "
                                            "that made it again") from exc
            if not reader.complete:
                raise CacheFormatError(f"{cache}: unfinished but sound ({reader.n} samples committed)",
                                       hint="run the same command again to resume it")
            out_console.print(f"{cache}: ok ({reader.n} samples)")
            write_json(json_path, {"path": str(cache), "samples": reader.n, "ok": True})


def _read_all(reader: CacheReader, cache: Path) -> None:
    if len(reader.ids) != reader.n:
        raise CacheFormatError(f"{cache}: {len(reader.ids)} ids for {reader.n} samples")
    for space in reader.spec.latents:
        reader.latents(space)
    for kind in reader.label_kinds:
        reader.labels(kind)
    for i in range(reader.n):
        reader.images([i])
        for name, fmap in reader.features(i).items():
            if not np.isfinite(fmap).all():
                raise CacheFormatError(f"{cache}: non-finite features in sample {i}, layer {name}")
