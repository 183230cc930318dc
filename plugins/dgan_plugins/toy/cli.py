"""`dgan toy render`: labelled images of the toy world, as a folder or an HDF5 cache."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from dgan_cli.errors import DganError

app = typer.Typer(no_args_is_help=True, help="The toy world: labelled images whose ground truth is known.")

MIN_RESOLUTION, MAX_RESOLUTION = 16, 256
MAX_SEED = 2 ** 63 - 1
HDF5_SUFFIXES = (".h5", ".hdf5")


@app.command("render")
def render_command(
    n: Optional[int] = typer.Option(None, "--n", help="Number of images (with --seed)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="First seed; image i uses seed + i. Default 0."),
    split: Optional[str] = typer.Option(None, "--split",
                                        help="A documented split instead of --n/--seed: train16, test, full."),
    resolution: int = typer.Option(64, "--resolution", help="Image side in pixels (16..256)."),
    out: Path = typer.Option(..., "--out", help="Output folder, or an .h5 file."),
    fmt: Optional[str] = typer.Option(None, "--format", help="folder or hdf5 (default: hdf5 for .h5 paths)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the summary as JSON."),
) -> None:
    """Render images with part masks, keypoints, depth and class labels."""
    from dgan_cli.console import print_table, progress, write_json
    from dgan_plugins.toy import dataset

    seeds = _seeds(n, seed, split)
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise DganError(f"--resolution must be within {MIN_RESOLUTION}..{MAX_RESOLUTION}, got {resolution}")
    fmt = _format(fmt, out)
    _check_writable(out)
    provenance = {"seeds": [seeds.start, len(seeds)], "split": split, "resolution": resolution}
    sink = dataset.open_output(out, fmt, resolution, overwrite=overwrite, provenance=provenance)
    with progress("Rendering toy images", total=len(seeds)) as bar:
        summary = dataset.write(sink, seeds, resolution, advance=bar.advance)
    summary.update({"out": str(out), "format": fmt, "first_seed": seeds.start, "split": split,
                    "resolution": resolution})
    counts = summary["class_counts"]
    rate = summary["images_per_s"]
    print_table(f"dgan toy render -> {out}", ["images", "rendered", "seconds", "images/s", *counts],
                [[summary["n"], summary["rendered"], summary["seconds"], rate if rate is not None else "-",
                  *counts.values()]])
    write_json(json_path, summary)


def _seeds(n: Optional[int], seed: Optional[int], split: Optional[str]) -> range:
    from dgan_plugins.toy.dataset import SPLITS, split_seeds

    if split is not None:
        if n is not None or seed is not None:
            raise DganError("--split already fixes the seeds: give either --split or --n/--seed")
        if split not in SPLITS:
            raise DganError(f"unknown --split '{split}'; choose one of {', '.join(SPLITS)}")
        return split_seeds(split)
    if n is None:
        raise DganError("give --n (and optionally --seed), or --split")
    seed = 0 if seed is None else seed
    if n < 1:
        raise DganError(f"--n must be at least 1, got {n}")
    if seed < 0 or seed + n - 1 > MAX_SEED:
        raise DganError(f"seeds must lie within 0..{MAX_SEED}, got {seed}..{seed + n - 1}")
    return range(seed, seed + n)


def _format(fmt: Optional[str], out: Path) -> str:
    if fmt is None:
        return "hdf5" if out.suffix.lower() in HDF5_SUFFIXES else "folder"
    if fmt not in ("folder", "hdf5"):
        raise DganError(f"unknown --format '{fmt}'; choose folder or hdf5")
    return fmt


def _check_writable(out: Path) -> None:
    """Fail before rendering when the output's folder cannot be created or written."""
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise DganError(f"cannot write {out}: {parent} is not a writable folder")
