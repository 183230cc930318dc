"""`dgan synth`: the dataset factory. Generator + trained interpreters -> labelled samples.

Sample i comes from seed SEED + i alone (z from the seed, truncation psi,
constant noise). Every interpreter runs its ensemble on the generator's
native-resolution features (the fast path) and its head turns the members'
outputs into a label and an uncertainty map; the filter scores each map.
Everything goes into OUT/synth.h5 through the cache writer, so a killed run
resumes where it stopped and ends with the same bytes as an uninterrupted one
(same settings, same device). At the end the filter marks the kept samples
(`scores/keep`), and the exports hold the kept samples only. With
`--ignore-above HEAD=T`, the pixels whose ensemble uncertainty for that head
exceeds T keep no label (the head's fill value, which `dgan eval` and `dgan
train` skip); only heads whose labels are per-pixel maps have such pixels.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from dgan_cli.console import print_table, write_json
from dgan_cli.errors import DganError

EXPORTS = ("folder", "hdf5")
SYNTH_FILE, FOLDER, DATASET_FILE = "synth.h5", "folder", "dataset.h5"


def parse_exports(text: str) -> list[str]:
    chosen = [t.strip() for t in text.split(",") if t.strip() and t.strip() != "none"]
    unknown = [t for t in chosen if t not in EXPORTS]
    if unknown:
        raise DganError(f"--export: unknown export '{unknown[0]}'", hint=f"choose from {', '.join(EXPORTS)} or none")
    return chosen


def load_interpreters(paths: List[Path], backbone) -> list:
    """Interpreters that fit this backbone (same generator, size and layers), one per head kind."""
    from dgan_cli.interpreter import Interpreter

    interpreters, kinds = [], set()
    layers = {layer.name: layer for layer in backbone.layers}
    for path in paths:
        interp = Interpreter.load(path)
        interp.check_backbone(backbone.identity(), path)
        if tuple(interp.image_hw) != (backbone.resolution, backbone.resolution):
            raise DganError(f"{path}: trained for {interp.image_hw[0]}x{interp.image_hw[1]} images, "
                            f"the generator makes {backbone.resolution}x{backbone.resolution}")
        wrong = [l.name for l in interp.layers if layers.get(l.name) != l]
        if wrong:
            raise DganError(f"{path}: layer '{wrong[0]}' does not match the generator's layers")
        if interp.head_name in kinds:
            raise DganError(f"two interpreters for head '{interp.head_name}'; give one per head")
        kinds.add(interp.head_name)
        interpreters.append(interp)
    return interpreters


def synth_spec(backbone, interpreters, layers, keep_features: bool, job: dict):
    from dgan_cli.cache import CacheSpec

    return CacheSpec(image_shape=(backbone.resolution, backbone.resolution, 3),
                     layers=tuple(layers) if keep_features else (),
                     latents={"z": (backbone.z_dim,), "ws": (backbone.num_ws, backbone.w_dim)},
                     scores=tuple(f"{i.head_name}-uncertainty" for i in interpreters) + ("keep",),
                     provenance={"backbone": backbone.identity(), "job": job})


def parse_ignore_above(items: List[str]) -> dict:
    """["segmentation=0.3", ...] -> {"segmentation": 0.3}: one threshold per head, in that head's units."""
    from dgan_plugins.pipeline.train import parse_options

    thresholds = parse_options(items, "--ignore-above")
    for head, value in thresholds.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (np.isfinite(value) and value >= 0):
            raise DganError(f"--ignore-above {head}: the threshold must be a finite number >= 0, got '{value}'")
    return {head: float(value) for head, value in thresholds.items()}


def unlabelled_fills(interpreters, image_hw, thresholds: dict) -> list:
    """Per interpreter, (threshold, the value of an unlabelled pixel), or None where none are unlabelled."""
    unknown = set(thresholds) - {i.head_name for i in interpreters}
    if unknown:
        raise DganError(f"--ignore-above: no interpreter for head '{sorted(unknown)[0]}'")
    fills = []
    for interp in interpreters:
        if interp.head_name not in thresholds:
            fills.append(None)
            continue
        schema = interp.head.label_schema(image_hw)
        if tuple(schema.shape) != tuple(image_hw):
            raise DganError(f"--ignore-above: head '{interp.head_name}' labels are not per-pixel maps")
        fills.append((thresholds[interp.head_name], schema.fill))
    return fills


def generate(backbone, interpreters, runners, filt, writer, seeds, layers, truncation: float, batch: int,
             tile_rows: Optional[int], keep_features: bool, unlabelled: Optional[list] = None) -> None:
    """Append the samples of `seeds` not yet committed (resume), with labels and uncertainty scores."""
    from dgan_plugins.pipeline.sample import batch_record, rendered_batches

    names = [layer.name for layer in layers]
    for chunk, latents, images, features in rendered_batches(backbone, writer, seeds, names, truncation,
                                                             batch, "Synthesizing"):
        labels, scores = {}, {}
        for interp, runner, marks in zip(interpreters, runners, unlabelled or [None] * len(interpreters)):
            outputs = runner(features, tile_rows=tile_rows)  # [B, M, K, H, W]
            combined = [interp.head.combine(outputs[b]) for b in range(len(chunk))]
            if marks is not None:  # the filter still scores the whole map
                threshold, fill = marks
                combined = [(np.where(umap > threshold, fill, label).astype(label.dtype), umap)
                            for label, umap in combined]
            labels[interp.head_name] = np.stack([label for label, _ in combined])
            scores[f"{interp.head_name}-uncertainty"] = np.array(
                [filt.score(umap, label) for label, umap in combined], np.float32)
        record = batch_record(chunk, latents, images, features, names if keep_features else ())
        writer.append(**record, scores=scores, labels=labels)


def apply_filter(writer, filt, interpreters, drop: float) -> np.ndarray:
    """Score matrix [N, heads] -> keep mask, stored as `scores/keep` (1 kept, 0 dropped)."""
    n = writer.count
    columns = [writer.h5[f"scores/{i.head_name}-uncertainty"][:n] for i in interpreters]
    keep = np.asarray(filt.keep(np.stack(columns, axis=1), drop), dtype=bool)
    if keep.shape != (n,):
        raise DganError(f"filter '{filt.name}' returned a mask of shape {keep.shape} for {n} samples")
    writer.set_scores("keep", np.arange(n), keep.astype(np.float32))
    return keep


def synth_command(
    backbone: str = typer.Option(..., "--backbone", help="Checkpoint file or registered backbone name."),
    interpreter: List[Path] = typer.Option(..., "--interpreter", help="Interpreter from `dgan train` (repeatable, one per head)."),
    n: int = typer.Option(..., "-n", "--n", help="Number of samples (seeds SEED .. SEED+n-1)."),
    seed: int = typer.Option(0, "--seed", help="First seed."),
    out: Path = typer.Option(..., "--out", help="Output folder: synth.h5, dataset.h5, folder/."),
    truncation: float = typer.Option(0.7, "--truncation", help="Truncation psi (0.7 as the reference code)."),
    filter_name: str = typer.Option("js", "--filter", help="Filter by registered name."),
    filter_option: List[str] = typer.Option([], "--filter-option", help="Filter option KEY=VALUE, e.g. aggregate=top10-mean."),
    drop: float = typer.Option(0.0, "--drop", help="Fraction of the most uncertain samples to drop (paper: 0.1)."),
    ignore_above: List[str] = typer.Option([], "--ignore-above", help="HEAD=T: leave the pixels whose ensemble "
                                           "uncertainty exceeds T unlabelled (repeatable; per-pixel heads; "
                                           "segmentation: JS divergence in nats, depth: variance)."),
    export: str = typer.Option("folder,hdf5", "--export", help="Comma-separated exports: folder, hdf5 (or none)."),
    keep_features: bool = typer.Option(False, "--keep-features", help="Also store the generator features in synth.h5."),
    batch: int = typer.Option(4, "--batch", help="Samples per generator forward pass."),
    tile_rows: Optional[int] = typer.Option(None, "--tile-rows", help="Run the ensembles on bands of this many rows (memory)."),
    device: str = typer.Option("cpu", "--device", envvar="DGAN_DEVICE", help="cpu, cuda[:N] or auto."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start over even if OUT holds another run."),
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: synthesize only part I (0-based) of N; "
                                        "the same command without --shard joins the parts (docs/scale.md)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the summary as JSON."),
) -> None:
    """Synthesize labelled samples: generator + interpreters (+ filter), resumable, exported."""
    from dgan_cli import distributed, load_backbone
    from dgan_cli.cache import CacheReader
    from dgan_cli.cache.sharded import write_job
    from dgan_cli.registry import default_registry
    from dgan_plugins.pipeline.export import export_folder, export_hdf5
    from dgan_plugins.pipeline.sample import NOISE_MODE, check_seeds, open_device
    from dgan_plugins.pipeline.train import parse_options

    check_seeds(seed, n)
    if batch < 1:
        raise DganError(f"--batch must be at least 1, got {batch}")
    if not 0 <= drop < 1:
        raise DganError(f"--drop must be in [0, 1), got {drop}")
    if tile_rows is not None and tile_rows < 1:
        raise DganError(f"--tile-rows must be at least 1, got {tile_rows}")
    thresholds = parse_ignore_above(ignore_above)
    if not np.isfinite(truncation):
        raise DganError(f"--truncation must be a finite number, got {truncation}")
    exports = parse_exports(export)
    missing = [path for path in interpreter if not path.is_file()]
    if missing:  # before the (possibly slow) generator load
        raise DganError(f"{missing[0]}: no such interpreter checkpoint")
    spec_filter = default_registry().get("filter", filter_name)
    try:
        filt = spec_filter.build(**parse_options(filter_option, "--filter-option"))
    except (TypeError, ValueError) as exc:
        raise DganError(f"filter '{filter_name}': {exc}", hint="check --filter-option") from exc
    started = time.perf_counter()
    path, resumed = out / SYNTH_FILE, n  # a complete synth.h5 is kept: only the exports are written again
    with distributed.joined(shard, device) as part:
        dev = open_device(part.device)
        model = load_backbone(backbone, device=dev)
        interpreters = load_interpreters(interpreter, model)
        unlabelled = unlabelled_fills(interpreters, (model.resolution,) * 2, thresholds)
        wanted = {l.name for i in interpreters for l in i.layers}
        layers = [layer for layer in model.layers if layer.name in wanted]
        job = {"name": "synth", "seed": seed, "n": n, "truncation_psi": truncation, "noise_mode": NOISE_MODE,
               "batch": batch, "tile_rows": tile_rows, "drop": drop,
               **({"ignore_above": thresholds} if thresholds else {}),  # earlier runs' caches stay resumable
               "filter": {"name": filter_name, "options": filt.config()},
               "interpreters": [{"head": i.head_name, "sha256": i.source_sha256} for i in interpreters]}

        def fill(writer, items: range) -> None:
            nonlocal resumed
            for interp in interpreters:
                writer.declare_labels(interp.head_name, interp.head.label_schema((model.resolution,) * 2))
            resumed = writer.count
            runners = [interp.fast(dev) for interp in interpreters]
            generate(model, interpreters, runners, filt, writer, list(range(seed + items.start, seed + items.stop)),
                     layers, truncation, batch, tile_rows, keep_features, unlabelled)

        outcome = write_job(part, path, synth_spec(model, interpreters, layers, keep_features, job), n, batch, fill,
                            hint="use another --out, or --overwrite to replace it", overwrite=overwrite,
                            finish=lambda writer: apply_filter(writer, filt, interpreters, drop))
    if not part.finishes:  # a shard: the results are the joined output's
        distributed.report_shard(part, path, outcome)
        return
    done = {}
    with CacheReader(path) as reader:
        keep = reader.scores("keep") == 1
        mean_scores = {i.head_name: float(np.nanmean(reader.scores(f"{i.head_name}-uncertainty")))
                       for i in interpreters}
        if "folder" in exports:
            done["folder"] = export_folder(reader, out / FOLDER)
        if "hdf5" in exports:
            done["hdf5"] = export_hdf5(reader, out / DATASET_FILE)
    seconds = time.perf_counter() - started
    summary = {"samples": n, "seeds": [seed, seed + n - 1], "resumed_from": resumed, "kept": int(keep.sum()),
               "dropped": int((~keep).sum()), "heads": [i.head_name for i in interpreters],
               "mean_uncertainty": mean_scores, "filter": job["filter"], "drop": drop, "synth": str(path),
               "exports": done, "seconds": round(seconds, 3), **outcome.as_dict()}
    rows = [["samples", n], ["seeds", f"{seed}..{seed + n - 1}"], ["resumed after", resumed],
            ["kept / dropped", f"{summary['kept']} / {summary['dropped']}"],
            *[[f"{h} mean uncertainty", v] for h, v in mean_scores.items()],
            ["synth.h5", path], *[[f"export {k}", f"{v['path']} ({v['samples']} samples)"] for k, v in done.items()],
            ["seconds", round(seconds, 2)]]
    if outcome.shards:
        rows.insert(3, ["joined shards", f"{outcome.shards} ({outcome.join_seconds:.2f} s)"])
    skipped = done.get("folder", {}).get("skipped_kinds")
    if skipped:
        rows.append(["not in folder", ", ".join(skipped) + " (in the HDF5 files only)"])
    print_table("dgan synth", ["", ""], rows)
    write_json(json_path, summary)
