"""`dgan distill train | eval | export` (torch is imported inside the command bodies)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dgan_cli.console import print_table, write_json

JSON_HELP = "Also write the results as JSON."


def train_command(
    backbone: str = typer.Option(..., "--backbone", help="Generator checkpoint, or a named backbone such as 'toy'."),
    out: Path = typer.Option(..., "--out", help="Student checkpoint to write (resumed if it holds this same run)."),
    real: Optional[Path] = typer.Option(None, "--real", help="Real images for the span loss: a labelled folder "
                                        "or a folder of image files. Without it: squeeze only."),
    steps: int = typer.Option(200, "--steps", help="Optimiser steps."),
    batch_size: int = typer.Option(32, "--batch-size", help="Images per step, synthetic + real."),
    syn_ratio: Optional[float] = typer.Option(None, "--syn-ratio", help="alpha, the synthetic share of a batch "
                                              "(default: 0.5 with --real, else 1)."),
    resolution: int = typer.Option(0, "--resolution", help="Student input size (default: the generator's)."),
    stem: str = typer.Option("auto", "--stem", help="cifar | imagenet | auto (cifar up to 32px)."),
    dim: int = typer.Option(2048, "--dim", help="Teacher / projector output width."),
    lr: float = typer.Option(0.03, "--lr", help="Base learning rate (times batch/256, cosine-decayed)."),
    weight_decay: float = typer.Option(5e-4, "--weight-decay"),
    distance_weight: float = typer.Option(25.0, "--distance-weight", help="lambda."),
    variance_weight: float = typer.Option(25.0, "--variance-weight", help="mu."),
    covariance_weight: float = typer.Option(1.0, "--covariance-weight", help="nu."),
    layers: str = typer.Option("", "--layers", help="Comma-separated generator layers to squeeze "
                               "(default: the last layer of every resolution)."),
    truncation_psi: float = typer.Option(1.0, "--truncation-psi"),
    seed: int = typer.Option(0, "--seed"),
    checkpoint_every: int = typer.Option(50, "--checkpoint-every", help="Steps between checkpoints."),
    device: str = typer.Option("cpu", "--device", envvar="DGAN_DEVICE", help="cpu, cuda, cuda:1 ..."),
    json_path: Optional[Path] = typer.Option(None, "--json", help=JSON_HELP),
) -> None:
    """Distil a generator into a ResNet-18 student (squeeze, and span when --real is given)."""
    from dgan_cli import load_backbone
    from dgan_plugins.squeeze_span.config import TrainConfig
    from dgan_plugins.squeeze_span.images import load_real_images
    from dgan_plugins.squeeze_span.trainer import Distillation

    config = TrainConfig(steps=steps, batch_size=batch_size,
                         syn_ratio=syn_ratio if syn_ratio is not None else (0.5 if real else 1.0),
                         resolution=resolution, stem=stem, dim=dim, squeeze_hidden=dim, lr=lr,
                         weight_decay=weight_decay, distance_weight=distance_weight,
                         variance_weight=variance_weight, covariance_weight=covariance_weight,
                         layers=tuple(n.strip() for n in layers.split(",") if n.strip()),
                         truncation_psi=truncation_psi, seed=seed)
    config.validate()
    generator = load_backbone(backbone, device=device)
    real_images = None
    if real is not None and config.real_batch:
        real_images = load_real_images(real, config.resolution or generator.resolution)
    run = Distillation(config, out, backbone=generator, backbone_source=backbone, real=real_images,
                       real_source=str(real or ""), device=device, checkpoint_every=checkpoint_every)
    run.resume()
    summary = run.run()
    last = summary["last"]
    resumed = f" (resumed at {summary['resumed_from']})" if summary["resumed_from"] else ""
    print_table(f"Student {out}", ["", ""], [
        ["method", summary["method"]], ["steps", f"{run.step}{resumed}"],
        ["batch (syn + real)", f"{config.syn_batch} + {config.real_batch}"],
        ["resolution / stem", f"{run.resolution} / {run.stem}"],
        ["final loss", last.get("loss", "-")],
        *[[f"representation std ({side})", last[key]] for side, key in (("syn", "syn_std"), ("real", "real_std"))
          if key in last],
        ["seconds", summary["seconds"]]])
    write_json(json_path, {**summary, "config": config.as_dict(), "arch": run.arch()})


def eval_command(
    student: Path = typer.Option(..., "--student", help="Student checkpoint from `dgan distill train`."),
    train: Path = typer.Option(..., "--train", help="Labelled folder with class labels: probe training set."),
    test: Path = typer.Option(..., "--test", help="Labelled folder with class labels: probe test set."),
    compare: bool = typer.Option(False, "--compare/--no-compare", help="Also train and probe VICReg (real only), "
                                 "squeeze only and squeeze-and-span students with the same budget."),
    backbone: Optional[str] = typer.Option(None, "--backbone", help="Generator for --compare "
                                           "(default: the one the student was trained with)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Comparison budget (default: the student's)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Comparison budget (default: the student's)."),
    work: Optional[Path] = typer.Option(None, "--work", help="Folder for comparison checkpoints "
                                        "(default: STUDENT.compare/ beside the student)."),
    probe_epochs: int = typer.Option(90, "--probe-epochs", help="Linear-probe epochs."),
    device: str = typer.Option("cpu", "--device", envvar="DGAN_DEVICE"),
    json_path: Optional[Path] = typer.Option(None, "--json", help=JSON_HELP),
) -> None:
    """Linear-probe top-1 accuracy of a frozen student (and the comparison rows) on class labels."""
    from dgan_cli.errors import DganError
    from dgan_plugins.squeeze_span.evaluate import evaluate

    if probe_epochs < 1:
        raise DganError(f"--probe-epochs must be at least 1, not {probe_epochs}")
    result = evaluate(student, train, test, compare=compare, backbone_source=backbone, steps=steps,
                      batch_size=batch_size, work_dir=work, probe_epochs=probe_epochs, device=device)
    budget = result["budget"]
    title = (f"Linear probe, {len(result['classes'])} classes, {result['data']['train_images']} train / "
             f"{result['data']['test_images']} test images, {budget['resolution']}px, "
             f"{budget['probe_epochs']} probe epochs")
    print_table(title, ["student", "pretrain data", "steps x batch", "top-1 test %", "top-1 train %"],
                [[r["name"], r["pretrain_data"], f"{r['steps']} x {r['batch_size']}" if r["steps"] else "-",
                  r["top1"], r["train_top1"]] for r in result["rows"]])
    write_json(json_path, result)


def export_command(
    student: Path = typer.Option(..., "--student", help="Student checkpoint from `dgan distill train`."),
    out: Path = typer.Option(..., "--out", help="State dict file to write (e.g. resnet18.pt)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Manifest path (default: OUT with .json)."),
) -> None:
    """Write the student's encoder as a plain torchvision ResNet-18 state dict + JSON manifest."""
    from dgan_plugins.squeeze_span.export import export_student

    manifest = export_student(student, out, json_path)
    changes = manifest["replace_modules"]
    print_table(f"Exported {out}", ["", ""], [
        ["load with", "torchvision.models.resnet18(num_classes=512)"],
        *[[f"replace {name}", module] for name, module in changes.items()],
        ["fc", manifest["fc"]], ["input", f"{manifest['input']['resolution']}px, (x - 0.5) / 0.5 on [0, 1]"],
        ["sha256", manifest["sha256"][:16]]])


def distill_app() -> typer.Typer:
    app = typer.Typer(no_args_is_help=True, help="Distil generator representations into an image encoder "
                      "(squeeze-and-span).")
    app.command("train")(train_command)
    app.command("eval")(eval_command)
    app.command("export")(export_command)
    return app
