"""The plugin's commands: `dgan invert` and `dgan encoder train`."""
from __future__ import annotations

import time
from pathlib import Path
from typing import List, Optional

import typer

from dgan_cli.console import print_table, write_json
from dgan_cli.errors import DganError

WORST_SHOWN = 5  # the quality table lists the mean and the worst reconstructions; --json has them all
encoder_app = typer.Typer(no_args_is_help=True, help="Latent encoders for GAN inversion (HandsOff).")


def invert_command(
    images: Path = typer.Argument(..., help="Labelled folder of real images (images/, labels.json, masks/...)."),
    backbone: str = typer.Option(..., "--backbone", help="Generator checkpoint file or registered backbone name."),
    cache: Path = typer.Option(..., "--cache", help="HDF5 cache to write (resumed if unfinished)."),
    labels: Optional[str] = typer.Option(None, "--labels", help="Label kinds to carry, e.g. segmentation,depth "
                                                                "(default: every kind in the folder)."),
    fmt: str = typer.Option("folder", "--format", help="Input: folder (a dgan labelled folder), or a registered "
                            "annotation format (`dgan plugins`) reading the labels of DIR/images/<id>.png."),
    annotations: Optional[Path] = typer.Option(None, "--annotations", help="--format NAME: the annotation folder "
                                               "or file (default: IMAGES)."),
    label_names: Optional[Path] = typer.Option(None, "--label-names", help="--format NAME: labels.json with "
                                               "class / keypoint names, if the format needs one."),
    format_options: List[str] = typer.Option([], "--format-option", help="--format NAME: KEY=VALUE (repeatable)."),
    encoder: Optional[Path] = typer.Option(None, "--encoder", help="Encoder from `dgan encoder train` "
                                                                   "(default: start at w_avg)."),
    encoder_iterations: Optional[int] = typer.Option(None, "--encoder-iterations",
                                                     help="Refinement passes of the encoder (default: as trained)."),
    loss_kind: str = typer.Option("lpips-vgg", "--loss", help="lpips-vgg, lpips-alex or pixel+msssim."),
    steps: int = typer.Option(500, "--steps", help="Optimisation steps per image (0: encoder only)."),
    lr: float = typer.Option(0.1, "--lr", help="Peak learning rate of the projector schedule."),
    rampup: float = typer.Option(0.05, "--rampup", help="Fraction of steps of linear warm-up."),
    rampdown: float = typer.Option(0.25, "--rampdown", help="Fraction of steps of cosine ramp-down."),
    perceptual_weight: float = typer.Option(10.0, "--perceptual-weight", help="Weight of LPIPS (or 1 - MS-SSIM)."),
    pixel_weight: float = typer.Option(1.0, "--pixel-weight", help="Weight of pixel MSE."),
    latent_weight: float = typer.Option(1.0, "--latent-weight", help="Weight of MSE to the initial latent."),
    space: str = typer.Option("wplus", "--space", help="Optimise in wplus (one w per layer) or w."),
    label_shift: int = typer.Option(0, "--label-shift", help="Move each real label map up to R pixels onto the "
                                    "reconstruction where image patches match better (0: labels as drawn)."),
    resize: str = typer.Option("crop", "--resize", help="Images of another size: crop, fit or refuse."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated feature layers (default: all)."),
    batch: int = typer.Option(4, "--batch", help="Images optimised together."),
    device: str = typer.Option("cpu", "--device", envvar="DGAN_DEVICE", help="cpu, cuda[:N] or auto."),
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: invert only part I (0-based) of N; "
                                        "the same command without --shard joins the parts (docs/scale.md)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the quality table as JSON."),
) -> None:
    """Invert real labelled images into the GAN (HandsOff): a cache that `dgan train` learns labels from."""
    from dgan_plugins.handsoff.inverted_cache import SCORES, quality_summary
    from dgan_plugins.handsoff.source import HandsOffSource

    from dgan_cli.annotations import parse_format_options

    if fmt == "folder" and (annotations or label_names or format_options):
        raise DganError("--annotations, --label-names and --format-option go with --format NAME, not folder")
    started = time.perf_counter()
    source = HandsOffSource(loss=loss_kind, steps=steps, lr=lr, rampup=rampup, rampdown=rampdown,
                            perceptual_weight=perceptual_weight, pixel_weight=pixel_weight,
                            latent_weight=latent_weight, space=space, resize=resize, encoder=encoder,
                            encoder_iterations=encoder_iterations, batch=batch, device=device,
                            label_shift=label_shift)
    job, outcome, finished = source.write(backbone, images, cache, layers=layers, kinds=labels, fmt=fmt,
                                          annotations=annotations, label_names=label_names,
                                          format_options=parse_format_options(format_options), shard=shard)
    if not finished:  # a shard: the quality table is the joined cache's
        return
    rows, means = quality_summary(cache)
    worst = sorted(rows, key=lambda r: -1 if r["psnr"] is None else r["psnr"])[:WORST_SHOWN]
    print_table(f"dgan invert: {len(rows)} images -> {cache}", ["image", "LPIPS", "PSNR dB", "MS-SSIM"],
                [["mean", *[_cell(means[k]) for k in SCORES]]]
                + [[r["id"], *[_cell(r[k]) for k in SCORES]] for r in worst])
    write_json(json_path, {"cache": str(cache), "images": len(rows), "mean": means, "per_image": rows,
                           "lpips_model": job["lpips_score"], "label_kinds": job["label_kinds"],
                           "seconds": round(time.perf_counter() - started, 3), **outcome.as_dict()})


def _cell(value) -> str:
    return "-" if value is None else f"{value:.4g}"


@encoder_app.command("train")
def encoder_train_command(
    backbone: str = typer.Option(..., "--backbone", help="Generator checkpoint file or registered backbone name."),
    out: Path = typer.Option(..., "--out", help="Encoder checkpoint to write; an unfinished one is resumed."),
    steps: int = typer.Option(2000, "--steps", help="Total training steps (raise it to continue training)."),
    batch: int = typer.Option(8, "--batch", help="Generated samples per step."),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate."),
    iterations: int = typer.Option(3, "--iterations", help="Refinement passes (ReStyle); 1 = a plain encoder."),
    truncation: float = typer.Option(1.0, "--truncation", help="Truncation psi of the training samples."),
    loss_kind: str = typer.Option("lpips-vgg", "--loss", help="lpips-vgg, lpips-alex or pixel+msssim."),
    latent_weight: float = typer.Option(1.0, "--latent-weight", help="Weight of MSE to the true w+."),
    pixel_weight: float = typer.Option(1.0, "--pixel-weight", help="Weight of pixel MSE of G(estimate)."),
    perceptual_weight: float = typer.Option(1.0, "--perceptual-weight", help="Weight of LPIPS (or 1 - MS-SSIM)."),
    width: int = typer.Option(32, "--width", help="Channels of the encoder's first layer."),
    seed: int = typer.Option(0, "--seed", help="Initialisation seed and first training seed."),
    checkpoint_every: int = typer.Option(100, "--checkpoint-every", help="Steps between checkpoints."),
    device: str = typer.Option("cpu", "--device", envvar="DGAN_DEVICE", help="cpu, cuda[:N] or auto."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON."),
) -> None:
    """Train an image -> w+ encoder on the backbone's own samples (latent + pixel + perceptual loss)."""
    from dgan_cli import load_backbone
    from dgan_plugins.handsoff.encoder_train import EncoderTrainConfig, EncoderTrainer
    from dgan_plugins.pipeline.sample import open_device

    config = EncoderTrainConfig(batch=batch, lr=lr, iterations=iterations, truncation=truncation,
                                latent_weight=latent_weight, pixel_weight=pixel_weight,
                                perceptual_weight=perceptual_weight, loss=loss_kind, width=width, seed=seed)
    config.check(steps)
    if steps < 1 or checkpoint_every < 1:
        raise DganError("--steps and --checkpoint-every must be at least 1")
    started = time.perf_counter()
    dev = open_device(device)
    trainer = EncoderTrainer(load_backbone(backbone, device=dev), out, config, device=dev)
    losses = trainer.run(steps, checkpoint_every)
    quality = trainer.validate()
    print_table(f"dgan encoder train: {out}", ["", "w_avg", "encoder"], [
        ["latent MSE (held-out samples)", quality["w_avg"]["latent_mse"], quality["encoder"]["latent_mse"]],
        ["PSNR dB (held-out samples)", quality["w_avg"]["psnr"], quality["encoder"]["psnr"]],
        ["steps done (resumed after)", "-", f"{trainer.step} ({trainer.resumed_from})"],
        ["last training loss", "-", losses[-1] if losses else "-"]])
    write_json(json_path, {"out": str(out), "steps": trainer.step, "resumed_from": trainer.resumed_from,
                           "config": config.as_dict(), "validation": quality,
                           "losses": losses, "seconds": round(time.perf_counter() - started, 3)})
