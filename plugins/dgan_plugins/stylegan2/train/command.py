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
    data: Optional[str] = typer.Option(None, help="Folder of same-size square PNG/JPG photos (its own files, or a "
                                       "labelled folder's images/), or a registered data source ('toy')."),
    resolution: Optional[int] = typer.Option(None, help="Image size (default: the images' size; 64 for toy)."),
    toy_images: Optional[int] = typer.Option(None, help="Toy data set size: seeds 0..N-1 (default 20000)."),
    steps: Optional[int] = typer.Option(None, help="Total training steps; raise it to extend a run (default 10000)."),
    batch: Optional[int] = typer.Option(None, help="Images per step (default 32)."),
    channel_base: Optional[int] = typer.Option(None, help="Channels at resolution r: base / r ... (default 4096)."),
    channel_max: Optional[int] = typer.Option(None, help="... capped at this (default 128)."),
    z_dim: Optional[int] = typer.Option(None, help="Latent z size (default 128; official 512)."),
    w_dim: Optional[int] = typer.Option(None, help="Style w size (default 128; official 512)."),
    mapping_layers: Optional[int] = typer.Option(None, help="Mapping network depth (default 2; official 8)."),
    mapping_lr: Optional[float] = typer.Option(
        None, help="Mapping network's learning-rate multiplier (default 0.01, as official)."),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate of G and D (default 0.0025)."),
    r1_gamma: Optional[float] = typer.Option(None, help="R1 weight (default 0.0002 * resolution^2 / batch)."),
    r1_every: Optional[int] = typer.Option(None, help="Steps between lazy R1 regularisations (default 16)."),
    pl_weight: Optional[float] = typer.Option(None, help="Path-length weight, 0 = off (default 0; official 2)."),
    style_mixing: Optional[float] = typer.Option(None, help="Style-mixing probability (default 0.9)."),
    ema_kimg: Optional[float] = typer.Option(None, help="G_ema half-life in kimg (default 10 * batch / 32)."),
    augment: Optional[str] = typer.Option(None, help="DiffAugment policy or 'none' (default color,translation,cutout)."),
    seed: Optional[int] = typer.Option(None, help="Seed of every random draw (default 0)."),
    snapshot_every: Optional[int] = typer.Option(None, help="Steps between checkpoint + sample grid (default 500)."),
    log_every: Optional[int] = typer.Option(None, help="Steps between metrics.jsonl lines (default 10)."),
    keep_checkpoints: Optional[int] = typer.Option(None, help="Checkpoints kept, 0 = all (default 5)."),
    device: Optional[str] = typer.Option(None, envvar="DGAN_DEVICE", help="cpu, cuda or auto (default auto)."),
    objective: Optional[str] = typer.Option(
        None, help="gan, paired (regress G(z) on the source's image of z; toy) or paired+gan (default gan). "
                   "May change on --resume."),
    recon_weight: Optional[float] = typer.Option(None, help="Weight of the paired loss in paired+gan (default 20)."),
    paired_pool: Optional[int] = typer.Option(
        None, help="Hard-example mining: regress on the batch G reconstructs worst among pool x batch "
                   "latents, 1 = off (default 1). May change on --resume."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its latest checkpoint (starts it if --out is empty)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the summary as JSON."),
) -> None:
    """Train a StyleGAN2 generator on an image folder or the toy world (exact resume on CPU)."""
    from dgan_cli.console import print_table, write_json
    from dgan_plugins.stylegan2.train.run import train_backbone

    options = dict(
        data=data, resolution=resolution, toy_images=toy_images, steps=steps, batch=batch,
        channel_base=channel_base, channel_max=channel_max, z_dim=z_dim, w_dim=w_dim,
        mapping_layers=mapping_layers, mapping_lr=mapping_lr, lr=lr, r1_gamma=r1_gamma, r1_every=r1_every, pl_weight=pl_weight,
        style_mixing=style_mixing, ema_kimg=ema_kimg, augment=augment, seed=seed,
        snapshot_every=snapshot_every, log_every=log_every, keep_checkpoints=keep_checkpoints, device=device,
        objective=objective, recon_weight=recon_weight, paired_pool=paired_pool,
    )
    summary = train_backbone(out, options, resume=resume)
    metrics = summary["last_metrics"]
    rows = [["run", summary["run"]], ["data", summary["data"]], ["step", summary["step"]],
            ["images seen", summary["images_seen"]], ["device", summary["device"]],
            ["generator", summary["generator"]]]
    rows += [[name, value] for name, value in metrics.items() if name not in ("step", "images_seen")]
    print_table("dgan backbone train", ["", ""], rows)
    write_json(json_path, summary)
