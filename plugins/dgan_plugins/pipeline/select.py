"""`dgan select`: which GAN samples to annotate next (DatasetGAN's active-learning round).

Sample a pool of seeds, run the trained interpreter ensemble on each, and
score it by the ensemble's disagreement (the head's uncertainty map,
aggregated per image: summed JS divergence for segmentation). As in the
paper, the most uncertain `skip` fraction is passed over (mostly broken
samples), the next `band` fraction are the candidates, and a k-center greedy
coreset over per-image descriptors picks n of them that are spread out. The
result is laid out exactly like `dgan sample`'s, so annotation goes the same way.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import typer

from dgan_cli.errors import DganError
from dgan_plugins.pipeline.sample import (NOISE_MODE, cache_spec, check_seeds, export_annotation_folder,
                                          make_folder, open_device, render_to_cache, sample_ids,
                                          save_png, to_uint8)

DESCRIPTORS = ("features", "w")


def candidate_band(scores: np.ndarray, n: int, skip: float, band: float) -> np.ndarray:
    """Pool indices of the candidates: by score, highest first, past the top `skip` fraction,
    the next `band` fraction (never fewer than n). NaN scores rank last."""
    scores = np.where(np.isnan(scores), -np.inf, np.asarray(scores, dtype=np.float64))
    order = np.argsort(-scores, kind="stable")
    size = min(len(scores), max(n, int(round(band * len(scores)))))
    start = min(int(round(skip * len(scores))), len(scores) - size)
    return order[start:start + size]


def k_center_greedy(points: np.ndarray, k: int, first: int = 0) -> list[int]:
    """k row indices of `points`, each next one the farthest from those already chosen."""
    points = np.asarray(points, dtype=np.float64)
    chosen = [int(first)]
    nearest = np.linalg.norm(points - points[first], axis=1)
    while len(chosen) < min(k, len(points)):
        pick = int(np.argmax(nearest))  # first maximum: ties go to the lower index
        chosen.append(pick)
        nearest = np.minimum(nearest, np.linalg.norm(points - points[pick], axis=1))
    return chosen


def select(scores: np.ndarray, descriptors: np.ndarray, n: int, skip: float = 0.1, band: float = 0.1) -> list[int]:
    """Pool indices to annotate: a coreset of the uncertainty band, started at its most uncertain sample."""
    candidates = candidate_band(scores, n, skip, band)
    return [int(candidates[i]) for i in k_center_greedy(descriptors[candidates], n)]


def pooled_descriptor(features: dict, names: Sequence[str]):
    """[B, D] per-image descriptor: each layer average-pooled and L2-normalised, concatenated."""
    import torch

    parts = [torch.nn.functional.normalize(features[name].float().mean(dim=(2, 3)), dim=1) for name in names]
    return torch.cat(parts, dim=1)


def score_pool(backbone, interpreter, seeds: Sequence[int], truncation: float, batch: int,
               aggregation: str, descriptor: str, device: str) -> tuple[np.ndarray, np.ndarray]:
    """(uncertainty score [P], descriptor [P, D]) of every pool seed."""
    import torch

    from dgan_cli.console import progress
    from dgan_cli.interpreter import aggregate

    fast = interpreter.fast(device)
    names = [layer.name for layer in interpreter.layers]
    scores, descriptors = [], []
    with progress("Scoring the pool", total=len(seeds)) as bar, torch.no_grad():
        for start in range(0, len(seeds), batch):
            chunk = list(seeds[start:start + batch])
            ws = backbone.sample(chunk, truncation_psi=truncation)["ws"]
            _, features = backbone.synthesize(ws, layers=names, noise_mode=NOISE_MODE)
            outputs = fast(features)
            for b in range(len(chunk)):
                _, uncertainty = interpreter.head.combine(outputs[b])
                scores.append(aggregate(uncertainty, aggregation))
            pooled = pooled_descriptor(features, names) if descriptor == "features" else ws.mean(dim=1)
            descriptors.append(pooled.cpu().numpy().astype(np.float64))
            bar.advance(len(chunk))
    return np.asarray(scores), np.concatenate(descriptors)


def write_selection(backbone, seeds: list[int], out: Path, cache: Optional[Path], layers, truncation: float,
                    batch: int, job: dict) -> dict:
    """Render the chosen seeds again (each depends only on its seed) into a cache and/or the folder."""
    import torch

    from dgan_cli.cache import CacheWriter
    from dgan_cli.console import write_json

    if cache is not None:
        spec = cache_spec(backbone, layers, job)
        from dgan_cli.cache.reader import finished_job

        if not finished_job(cache, spec, hint="choose another --cache path or delete it"):
            writer = CacheWriter.open(cache, spec)
            try:
                render_to_cache(backbone, writer, seeds, layers, truncation, batch, description="Rendering")
                writer.finish()
            finally:
                writer.close()
        return export_annotation_folder(cache, out)
    make_folder(out)
    samples = {}
    for start in range(0, len(seeds), batch):
        chunk = seeds[start:start + batch]
        with torch.no_grad():
            images, _ = backbone.synthesize(backbone.sample(chunk, truncation_psi=truncation)["ws"], layers=[],
                                            noise_mode=NOISE_MODE)
        for sample_id, seed, image in zip(sample_ids(chunk), chunk, to_uint8(images)):
            save_png(image, out / f"{sample_id}.png")
            samples[sample_id] = {"seed": int(seed), "index": None, "image": f"{sample_id}.png"}
    index = {"cache": None, "image_size": [backbone.resolution] * 2,
             "backbone": {k: backbone.identity().get(k) for k in ("name", "sha256")}, "samples": samples}
    write_json(out / "samples.json", index)
    return index


def select_command(
    backbone: str = typer.Option(..., "--backbone", help="Checkpoint file or registered backbone name."),
    interpreter: Path = typer.Option(..., "--interpreter", help="Interpreter checkpoint from `dgan train`."),
    n: int = typer.Option(6, "-n", "--n", help="Samples to select for annotation."),
    pool: int = typer.Option(500, "--pool", help="Pool size: seeds SEED .. SEED+pool-1."),
    seed: int = typer.Option(1_000_000, "--seed", help="First pool seed (keep pools apart from annotated seeds)."),
    out: Path = typer.Option(..., "--out", help="Folder for the annotator: <id>.png + samples.json."),
    cache: Optional[Path] = typer.Option(None, "--cache", help="Also write the selected samples into this cache."),
    skip: float = typer.Option(0.1, "--skip", help="Most uncertain fraction passed over (mostly broken samples)."),
    band: float = typer.Option(0.1, "--band", help="Fraction after it that the coreset picks from."),
    aggregation: str = typer.Option("sum", "--aggregation", help="Per-image score: sum or top10-mean."),
    descriptor: str = typer.Option("features", "--descriptor",
                                   help="Coreset distance on pooled generator features or on w."),
    truncation: float = typer.Option(0.7, "--truncation", help="Truncation psi."),
    batch: int = typer.Option(4, "--batch", help="Samples per forward pass."),
    device: str = typer.Option("cpu", "--device", envvar="DGAN_DEVICE", help="cpu, cuda[:N] or auto."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the selection as JSON."),
) -> None:
    """Pick the GAN samples to annotate next: ensemble uncertainty, then a k-center coreset."""
    from dgan_cli import load_backbone
    from dgan_cli.console import print_table, write_json
    from dgan_cli.interpreter import AGGREGATIONS, Interpreter

    check_seeds(seed, pool)
    if not 1 <= n <= pool:
        raise DganError(f"-n must be between 1 and --pool ({pool}), got {n}")
    for option, value in (("--skip", skip), ("--band", band)):
        if not 0 <= value < 1:
            raise DganError(f"{option} must be a fraction in [0, 1), got {value}")
    if aggregation not in AGGREGATIONS:
        raise DganError(f"--aggregation must be one of {', '.join(AGGREGATIONS)}, got '{aggregation}'")
    if descriptor not in DESCRIPTORS:
        raise DganError(f"--descriptor must be one of {', '.join(DESCRIPTORS)}, got '{descriptor}'")
    if batch < 1:
        raise DganError(f"--batch must be at least 1, got {batch}")
    started = time.perf_counter()
    device = open_device(device)
    model = load_backbone(backbone, device=device)
    interp = Interpreter.load(interpreter)
    interp.check_backbone(model.identity(), interpreter)
    pool_seeds = list(range(seed, seed + pool))
    scores, descriptors = score_pool(model, interp, pool_seeds, truncation, batch, aggregation, descriptor, device)
    chosen = select(scores, descriptors, n, skip, band)
    seeds = [pool_seeds[i] for i in chosen]
    rank = {int(i): r for r, i in enumerate(np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable"))}
    job = {"name": "select", "pool": [seed, seed + pool - 1], "selected": seeds, "skip": skip, "band": band,
           "aggregation": aggregation, "descriptor": descriptor, "truncation_psi": truncation,
           "noise_mode": NOISE_MODE, "interpreter": str(interpreter), "head": interp.head_name}
    index = write_selection(model, seeds, out, cache, list(interp.layers), truncation, batch, job)
    rows = [{"id": sample_id, "seed": s, "uncertainty": float(scores[i]), "rank": rank[i] + 1}
            for sample_id, s, i in zip(sample_ids(seeds), seeds, chosen)]
    print_table(f"Selected {n} of {pool} samples ({interp.head_name} uncertainty, k-center coreset)",
                ["id", "seed", "uncertainty", "rank in pool"],
                [[r["id"], r["seed"], r["uncertainty"], r["rank"]] for r in rows])
    write_json(json_path, {"selected": rows, "out": str(out), "cache": index["cache"], "job": job,
                           "pool_scores": {"min": float(np.nanmin(scores)), "median": float(np.nanmedian(scores)),
                                           "max": float(np.nanmax(scores))},
                           "seconds": round(time.perf_counter() - started, 3)})
