"""`dgan annotate-import`: human annotations of `dgan sample` images into their cache."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dgan_plugins.manual.datasetgan_release import DEFAULT_MIN_PSNR, FORMAT
from dgan_plugins.manual.release_import import release_command


def annotate_import_command(
    directory: Path = typer.Argument(..., help="Annotation folder (or COCO JSON file)."),
    cache: Path = typer.Option(..., "--cache", help="The cache `dgan sample` wrote for these images."),
    fmt: str = typer.Option(..., "--format", help="A registered format (`dgan plugins` lists them: labelme, "
                            "png-masks, coco-keypoints, depth, ...) or datasetgan-release."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="labels.json with class / keypoint names."),
    unlabelled: Optional[str] = typer.Option(None, "--unlabelled",
                                             help="LabelMe pixels no shape covers: background (first class, "
                                                  "the default) or ignore."),
    extra_shapes: Optional[str] = typer.Option(None, "--extra-shapes",
                                               help="LabelMe line, linestrip and points shapes of a class: draw "
                                                    "their pixels (default), or skip them with a warning."),
    format_options: list[str] = typer.Option([], "--format-option", help="KEY=VALUE for the format (repeatable)."),
    backbone: Optional[str] = typer.Option(None, "--backbone", help="datasetgan-release: the stylegan1 checkpoint."),
    experiment: Optional[Path] = typer.Option(None, "--experiment",
                                              help="datasetgan-release: experiments/*.json (class count, sizes)."),
    latents: Optional[Path] = typer.Option(None, "--latents", help="datasetgan-release: z file "
                                           "(default DIR/latent_stylegan1.npy)."),
    avg_latent: Optional[Path] = typer.Option(None, "--avg-latent", help="datasetgan-release: the average latent "
                                              "to check (default avg_latent_stylegan1.npy beside the latents)."),
    min_psnr: float = typer.Option(DEFAULT_MIN_PSNR, "--min-psnr", help="datasetgan-release: re-render threshold, dB."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the summary as JSON."),
) -> None:
    """Import annotations of sampled images as labels in their cache (re-import replaces them)."""
    from dgan_cli.annotations import parse_format_options
    from dgan_cli.console import print_table, write_json
    from dgan_plugins.manual.importer import ManualSource, import_annotations, summarise

    if fmt == FORMAT:
        return release_command(directory, cache, backbone, labels, experiment, latents, avg_latent, min_psnr, json_path)
    options = parse_format_options(format_options)
    for key, value in (("unlabelled", unlabelled), ("extra_shapes", extra_shapes)):
        if value is not None:
            options[key] = value
    plan = import_annotations(directory, cache, ManualSource(fmt, labels, options))
    summary = summarise(plan)
    rows = []
    for kind, entry in summary.items():
        rows.append([kind, "samples", entry["samples"]])
        for key in ("pixels", "visible", "occluded"):
            rows += [[kind, f"{key}: {name}", count] for name, count in entry.get(key, {}).items()]
        if kind == "depth":
            rows += [[kind, "labelled pixels", entry["labelled_pixels"]],
                     [kind, "range", f"{entry['min']:.4g} .. {entry['max']:.4g}" if entry["min"] is not None else "-"]]
    print_table(f"Imported {fmt} annotations into {cache}", ["labels", "", "count"], rows)
    write_json(json_path, {"cache": str(cache), "format": fmt, "annotations": str(directory), "imported": summary})

