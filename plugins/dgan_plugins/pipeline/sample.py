"""`dgan sample`: generator samples to annotate, into a feature cache and a LabelMe-ready folder.

Each sample depends only on its seed (seed -> z -> w+ -> image), and its id is
the zero-padded seed, so the file an annotator sees (`DIR/000042.png`) names
the sample for good. The cache holds what training needs later: latents, the
image, every selected layer's features at native resolution (fp16).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import typer

from dgan_cli.console import print_table, progress, write_json
from dgan_cli.errors import DganError

NOISE_MODE = "const"
MAX_SEED = 2**32  # numpy.random.RandomState accepts seeds below this


def sample_ids(seeds: Sequence[int]) -> list[str]:
    """Stable, sortable sample ids: the zero-padded seed."""
    return [f"{int(s):06d}" for s in seeds]


def check_seeds(first: int, n: int) -> None:
    if n < 1:
        raise DganError(f"-n must be at least 1, got {n}")
    if first < 0 or first + n > MAX_SEED:
        raise DganError(f"seeds must lie in 0..{MAX_SEED - 1}, got {first}..{first + n - 1}")


def pick_layers(backbone, text: Optional[str]) -> list:
    """The backbone's LayerInfo for a comma-separated list of names (None or 'all': every layer)."""
    if text is None or text.strip() == "all":
        return list(backbone.layers)
    by_name = {layer.name: layer for layer in backbone.layers}
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in by_name]
    if unknown or not names:
        raise DganError(f"--layers: unknown layer '{unknown[0] if unknown else text}'",
                        hint=f"this backbone has: {', '.join(by_name)}")
    return [by_name[name] for name in names]


def cache_spec(backbone, layers: Sequence, job: dict):
    """The cache layout of generator samples; `job` holds the parameters a resume must repeat."""
    from dgan_cli.cache import CacheSpec

    return CacheSpec(image_shape=(backbone.resolution, backbone.resolution, 3), layers=tuple(layers),
                     latents={"z": (backbone.z_dim,), "ws": (backbone.num_ws, backbone.w_dim)},
                     provenance={"backbone": backbone.identity(), "job": job})


def to_uint8(images) -> np.ndarray:
    """[-1, 1] NCHW float tensor -> uint8 NHWC array, rounded like the official generate script."""
    import torch

    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def rendered_batches(backbone, writer, seeds: Sequence[int], names: Sequence[str], truncation: float,
                     batch: int, description: str):
    """Render the samples of `seeds` not yet committed in `writer` (resume), `batch` at a time.

    Yields (seeds, latents, images, features) under a progress bar; the caller
    appends each batch to `writer` before the next one is rendered.
    """
    import torch

    done = writer.count
    with progress(description, total=len(seeds)) as bar:
        bar.advance(done)
        for start in range(done, len(seeds), batch):
            chunk = [int(s) for s in seeds[start:start + batch]]
            with torch.no_grad():
                latents = backbone.sample(chunk, truncation_psi=truncation)
                images, features = backbone.synthesize(latents["ws"], layers=names, noise_mode=NOISE_MODE)
            yield chunk, latents, images, features
            bar.advance(len(chunk))


def batch_record(chunk, latents, images, features, names) -> dict:
    """The CacheWriter.append arguments every generated batch shares."""
    import torch

    return dict(images=to_uint8(images), ids=sample_ids(chunk), seeds=chunk,
                latents={k: latents[k].cpu().numpy() for k in ("z", "ws")},
                features={k: features[k].to(torch.float16).cpu().numpy() for k in names} if names else None)


def render_to_cache(backbone, writer, seeds: Sequence[int], layers: Sequence, truncation: float,
                    batch: int, description: str = "Sampling") -> None:
    """Append the samples of `seeds` not yet committed in `writer`, with their features."""
    names = [layer.name for layer in layers]
    for chunk, latents, images, features in rendered_batches(backbone, writer, seeds, names, truncation,
                                                             batch, description):
        writer.append(**batch_record(chunk, latents, images, features, names))


def make_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DganError(f"{out}: cannot create the output folder ({exc.strerror or exc})") from None


def save_png(image: np.ndarray, path: Path) -> None:
    """Write through a temporary name, so a PNG under its final name is always whole."""
    from PIL import Image

    tmp = path.with_name(f".{path.name}.tmp")
    try:
        Image.fromarray(image).save(tmp, format="PNG")
        os.replace(tmp, path)
    except OSError as exc:
        raise DganError(f"{path}: cannot write ({exc.strerror or exc})") from None


def export_annotation_folder(cache: Path, out: Path) -> dict:
    """Write every cached image as `out/<id>.png` plus `out/samples.json` (id -> seed, cache index)."""
    from dgan_cli.cache import CacheReader

    make_folder(out)
    samples = {}
    with CacheReader(cache) as reader:
        ids, seeds = reader.ids, reader.seeds
        for index, (sample_id, seed) in enumerate(zip(ids, seeds)):
            save_png(reader.images([index])[0], out / f"{sample_id}.png")
            samples[sample_id] = {"seed": int(seed), "index": index, "image": f"{sample_id}.png"}
        index_file = {"cache": str(cache), "image_size": list(reader.image_hw),
                      "backbone": {k: (reader.backbone or {}).get(k) for k in ("name", "sha256")},
                      "samples": samples}
    write_json(out / "samples.json", index_file)
    return index_file


def open_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DganError(f"--device {device}: no CUDA device is available")
    if device != "cpu" and not device.startswith("cuda"):
        raise DganError(f"--device must be cpu, cuda[:N] or auto, got '{device}'")
    return device


def sample_command(
    backbone: str = typer.Option(..., "--backbone", help="Checkpoint file or registered backbone name."),
    n: int = typer.Option(16, "-n", "--n", help="Number of samples (seeds SEED .. SEED+n-1)."),
    seed: int = typer.Option(0, "--seed", help="First seed."),
    cache: Path = typer.Option(..., "--cache", help="HDF5 feature cache to write (resumed if unfinished)."),
    out: Path = typer.Option(..., "--out", help="Folder for the annotator: <id>.png + samples.json."),
    truncation: float = typer.Option(0.7, "--truncation", help="Truncation psi (0.7 as the reference code)."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated feature layers (default: all)."),
    batch: int = typer.Option(4, "--batch", help="Samples per generator forward pass."),
    device: str = typer.Option("cpu", "--device", envvar="DGAN_DEVICE", help="cpu, cuda[:N] or auto."),
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: sample only part I (0-based) of N; "
                                        "the same command without --shard joins the parts (docs/scale.md)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the summary as JSON."),
) -> None:
    """Sample GAN images to annotate: latents + features into a cache, PNGs into a folder."""
    from dgan_cli import distributed, load_backbone
    from dgan_cli.cache.sharded import write_job

    check_seeds(seed, n)
    if batch < 1:
        raise DganError(f"--batch must be at least 1, got {batch}")
    if not np.isfinite(truncation):
        raise DganError(f"--truncation must be a finite number, got {truncation}")
    started = time.perf_counter()
    resumed = 0
    with distributed.joined(shard, device) as part:
        model = load_backbone(backbone, device=open_device(part.device))
        chosen = pick_layers(model, layers)
        job = {"name": "sample", "seed": seed, "n": n, "truncation_psi": truncation, "noise_mode": NOISE_MODE}

        def fill(writer, items: range) -> None:
            nonlocal resumed
            resumed = writer.count
            render_to_cache(model, writer, range(seed + items.start, seed + items.stop), chosen, truncation, batch)

        outcome = write_job(part, cache, cache_spec(model, chosen, job), n, batch, fill,
                            hint="choose another --cache path or delete it")
    if not part.finishes:  # a shard: the results are the joined output's
        distributed.report_shard(part, cache, outcome)
        return
    index = export_annotation_folder(cache, out)
    summary = {"samples": n, "seeds": [seed, seed + n - 1], "resumed_from": resumed, "cache": str(cache),
               "out": str(out), "layers": [layer.name for layer in chosen],
               "feature_dims": sum(layer.channels for layer in chosen), "truncation_psi": truncation,
               "backbone": index["backbone"], "seconds": round(time.perf_counter() - started, 3),
               **outcome.as_dict()}
    print_table("dgan sample", ["", ""], [
        ["samples", n], ["seeds", f"{seed}..{seed + n - 1}"], ["resumed after", resumed],
        ["cache", cache], ["images", f"{out}/<id>.png"], ["layers", len(chosen)],
        ["pixel feature dims", summary["feature_dims"]], ["truncation psi", truncation],
        ["seconds", summary["seconds"]]])
    write_json(json_path, summary)
