"""`dgan backbone train`: the CLI face of train_backbone (cheap to import: no torch here).

Options left out are taken from the defaults (new run) or from RUN/config.json
(`--resume`), which is why every training option defaults to None.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def train_command(
    out: Path = typer.Option(..., "--out", help="Run folder: checkpoints, samples, metrics.jsonl, generator.pt."),
    data: Optional[str] = typer.Option(None, help="Folder of same-size square PNG/JPG images, or 'toy'."),
    resolution: Optional[int] = typer.Option(None, help="Image size (default: the images' size; 64 for toy)."),
    toy_images: Optional[int] = typer.Option(None, help="Toy seed pool size, i.e. images in the data set [20000]."),
    steps: Optional[int] = typer.Option(None, help="Total training steps; raise it to extend a run [10000]."),
    batch: Optional[int] = typer.Option(None, help="Images per step [32]."),
    channel_base: Optional[int] = typer.Option(None, help="Channels at resolution r: base / r ... [4096]."),
    channel_max: Optional[int] = typer.Option(None, help="... capped at this [128]."),
    z_dim: Optional[int] = typer.Option(None, help="Latent z size [128; official 512]."),
    w_dim: Optional[int] = typer.Option(None, help="Style w size [128; official 512]."),
    mapping_layers: Optional[int] = typer.Option(None, help="Mapping network depth [2; official 8]."),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate of G and D [0.0025]."),
    r1_gamma: Optional[float] = typer.Option(None, help="R1 weight [0.0002 * resolution^2 / batch]."),
    r1_every: Optional[int] = typer.Option(None, help="Steps between lazy R1 regularisations [16]."),
    pl_weight: Optional[float] = typer.Option(None, help="Path-length regularisation weight, 0 = off [0; official 2]."),
    style_mixing: Optional[float] = typer.Option(None, help="Style-mixing probability [0.9]."),
    ema_kimg: Optional[float] = typer.Option(None, help="G_ema half-life in thousands of images [10 * batch / 32]."),
    augment: Optional[str] = typer.Option(None, help="DiffAugment policy, or 'none' [color,translation,cutout]."),
    seed: Optional[int] = typer.Option(None, help="Seed of every random draw [0]."),
    snapshot_every: Optional[int] = typer.Option(None, help="Steps between checkpoint + sample grid [500]."),
    log_every: Optional[int] = typer.Option(None, help="Steps between metrics.jsonl lines [10]."),
    keep_checkpoints: Optional[int] = typer.Option(None, help="Checkpoints kept in RUN/checkpoints, 0 = all [5]."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda or auto [auto]."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its latest checkpoint."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the summary as JSON."),
) -> None:
    """Train a StyleGAN2 generator on an image folder or the toy world (exact resume on CPU)."""
    from dgan_cli.console import print_table, write_json
    from dgan_plugins.stylegan2.train.run import train_backbone

    options = dict(
        data=data, resolution=resolution, toy_images=toy_images, steps=steps, batch=batch,
        channel_base=channel_base, channel_max=channel_max, z_dim=z_dim, w_dim=w_dim,
        mapping_layers=mapping_layers, lr=lr, r1_gamma=r1_gamma, r1_every=r1_every, pl_weight=pl_weight,
        style_mixing=style_mixing, ema_kimg=ema_kimg, augment=augment, seed=seed,
        snapshot_every=snapshot_every, log_every=log_every, keep_checkpoints=keep_checkpoints, device=device,
    )
    summary = train_backbone(out, options, resume=resume)
    metrics = summary["last_metrics"]
    rows = [["run", summary["run"]], ["step", summary["step"]], ["images seen", summary["images_seen"]],
            ["device", summary["device"]], ["generator", summary["generator"]]]
    rows += [[name, value] for name, value in metrics.items() if name not in ("step", "images_seen")]
    print_table("dgan backbone train", ["", ""], rows)
    write_json(json_path, summary)
