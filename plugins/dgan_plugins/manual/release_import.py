"""`dgan annotate-import DIR --format datasetgan-release --backbone CKPT --cache C`.

Everything is read and every image's re-render checked before the cache is
created, so a refused folder leaves no file behind.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dgan_cli.errors import DganError
from dgan_plugins.manual import datasetgan_release as release

LATENTS, AVG_LATENT = "latent_stylegan1.npy", "avg_latent_stylegan1.npy"


def import_release(directory: Path, cache: Path, backbone_source: str, *, labels: Path | None,
                   experiment: Path | None, latents: Path | None, avg_latent: Path | None,
                   min_psnr: float, registry) -> dict:
    import torch

    from dgan_cli.console import progress
    from dgan_cli.registry import load_backbone

    if cache.exists():
        raise DganError(f"{cache}: already exists", hint="the release import writes a new cache; delete it first")
    names, exp = release.class_names(labels, experiment)
    pairs = release.find_pairs(directory, exp.get("max_training"))
    backbone = load_backbone(backbone_source, registry=registry)
    if not hasattr(backbone, "map_z"):
        raise DganError(f"{backbone_source}: a {backbone.identity().get('name')} backbone; release latents "
                        "are StyleGAN1 z, so --backbone must be a stylegan1 checkpoint")
    dims = sum(layer.channels for layer in backbone.layers)
    if exp and exp["dim"][2] != dims:
        raise DganError(f"{experiment}: the experiment uses {exp['dim'][2]} feature dims, this generator has {dims}")
    latents = latents or directory / LATENTS
    z = release.read_latents(latents, len(pairs), backbone.z_dim)
    avg_latent = avg_latent or (latents.parent / AVG_LATENT if (latents.parent / AVG_LATENT).exists() else None)
    if avg_latent is not None:
        release.check_avg_latent(avg_latent, backbone)

    masks, psnrs = [], []
    with progress("Checking re-renders", total=len(pairs)) as bar:
        for i, (image_path, mask_path) in enumerate(pairs):
            masks.append(release.read_mask(mask_path, len(names.classes), backbone.resolution))
            with torch.no_grad():
                rendered, _ = backbone.synthesize(backbone.map_z(z[i:i + 1], release.TRUNCATION_PSI), layers=[])
            psnr = release.rerender_psnr(rendered, release.read_image(image_path))
            if psnr < min_psnr:
                raise DganError(f"{image_path}: the generator re-renders it at {psnr:.1f} dB PSNR, "
                                f"below {min_psnr:g} dB", hint="wrong latent row, generator or average latent? "
                                "make_training_data.py folders pair latent i with image_{i+1}")
            psnrs.append(psnr)
            bar.advance(1)
    write_cache(cache, backbone, z, masks, names, registry,
                job={"name": "annotate-import", "format": release.FORMAT, "truncation_psi": release.TRUNCATION_PSI,
                     "noise_mode": "const", "annotations": str(directory)})
    return {"samples": len(pairs), "ids": [f"image_{i}" for i in range(len(pairs))], "psnr_db": psnrs,
            "min_psnr_db": min_psnr, "classes": names.classes, "feature_dims": dims,
            "pixels": dict(zip(names.classes, np.bincount(np.concatenate([m.ravel() for m in masks]),
                                                          minlength=len(names.classes)).tolist()))}


def write_cache(cache: Path, backbone, z: np.ndarray, masks: list, names, registry, job: dict) -> None:
    """Samples (image, latents, every tap's features) then their segmentation labels; complete last."""
    import torch

    from dgan_cli.cache import CacheWriter
    from dgan_cli.console import progress
    from dgan_plugins.pipeline.sample import cache_spec, to_uint8

    layers = list(backbone.layers)
    schema = registry.get("head", "segmentation").build(names.classes).label_schema((backbone.resolution,) * 2)
    with CacheWriter.open(cache, cache_spec(backbone, layers, job)) as writer:
        writer.declare_labels("segmentation", schema)
        with progress("Rendering features", total=len(z)) as bar:
            for i in range(len(z)):
                with torch.no_grad():
                    ws = backbone.map_z(z[i:i + 1], release.TRUNCATION_PSI)
                    images, features = backbone.synthesize(ws, layers=[layer.name for layer in layers])
                writer.append(images=to_uint8(images), ids=[f"image_{i}"], seeds=[-1],
                              latents={"z": z[i:i + 1].astype(np.float32), "ws": ws.cpu().numpy()},
                              features={k: v.to(torch.float16).cpu().numpy() for k, v in features.items()},
                              labels={"segmentation": masks[i][None].astype(schema.dtype)})
                bar.advance(1)
        writer.finish()


def release_command(directory: Path, cache: Path, backbone: str | None, labels: Path | None,
                    experiment: Path | None, latents: Path | None, avg_latent: Path | None, min_psnr: float,
                    json_path: Path | None) -> None:
    """The CLI side: options checked, the import run, a summary table printed."""
    from dgan_cli.console import print_table, write_json
    from dgan_cli.registry import default_registry

    if backbone is None:
        raise DganError(f"--format {release.FORMAT} needs --backbone (the generator the latents belong to)")
    if not np.isfinite(min_psnr):
        raise DganError(f"--min-psnr must be a finite number, got {min_psnr}")
    summary = import_release(directory, cache, backbone, labels=labels, experiment=experiment, latents=latents,
                             avg_latent=avg_latent, min_psnr=min_psnr, registry=default_registry())
    rows = [["samples", summary["samples"]], ["re-render PSNR (min)", f"{min(summary['psnr_db']):.1f} dB"],
            ["pixel feature dims", summary["feature_dims"]]]
    rows += [[f"pixels: {name}", count] for name, count in summary["pixels"].items()]
    print_table(f"Imported {release.FORMAT} folder {directory} into {cache}", ["", ""], rows)
    write_json(json_path, {"cache": str(cache), "format": release.FORMAT, "annotations": str(directory),
                           "backbone": backbone, "imported": summary})
