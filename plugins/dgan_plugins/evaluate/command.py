"""`dgan eval`: train a downstream network on a labelled set, score it on real test images."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from dgan_cli.errors import DganError

AUGMENTED = ("segmentation", "keypoints", "depth")  # the kinds whose labels augment.py moves
DEVICES = ("auto", "cpu", "cuda")


def eval_command(
    train_path: Path = typer.Option(..., "--train", help="Training set: a labelled folder or an .h5 dgan cache."),
    test_path: Path = typer.Option(..., "--test", help="Real labelled test images (folder or cache)."),
    head: str = typer.Option(..., "--head", help="Label kind: segmentation, keypoints, depth, or a plugin "
                             "head that provides an evaluation (docs/plugins.md)."),
    net: str = typer.Option("unet", "--net", help="unet (small, for 64-128px), deeplabv3 (MobileNetV3) or "
                            "resnet18 (ResNet-18 + feature pyramid)."),
    encoder: Optional[Path] = typer.Option(None, "--encoder", help="ResNet-18 state dict the resnet18 network "
                                           "starts from, e.g. from `dgan distill export` (default: random)."),
    steps: int = typer.Option(1000, "--steps", help="Optimisation steps (the budget; independent of set size)."),
    batch: int = typer.Option(8, "--batch", help="Images per step."),
    lr: float = typer.Option(2e-3, "--lr", help="Adam learning rate (cosine decay to 0)."),
    augment: bool = typer.Option(False, "--augment/--no-augment",
                                 help="Flips (left/right names swapped), zoom/shift and colour jitter."),
    width: int = typer.Option(16, "--width", help="UNet base channels."),
    sigma: Optional[float] = typer.Option(None, "--sigma", help="Keypoint heatmap sigma in pixels "
                                          "(default 2.5% of the image side)."),
    pck_norm: str = typer.Option("image", "--pck-norm", help="PCK distance unit: image (max(H, W)) or bbox "
                                 "(longer side of the visible keypoints' box)."),
    seed: int = typer.Option(0, "--seed", help="Seeds weights, batch order and augmentation."),
    curve_every: int = typer.Option(0, "--curve-every", help="Also score the test set every N steps: the "
                                    "learning curve, in the JSON's `curve` (0: only at the end)."),
    device: str = typer.Option("auto", "--device", envvar="DGAN_DEVICE", help="auto, cpu or cuda (same bytes per seed on CPU)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON."),
) -> None:
    """Train a network from scratch on --train and report mIoU / PCK / depth error on --test."""
    from dgan_cli.console import print_table, progress, write_json
    from dgan_plugins.evaluate.data import load_set
    from dgan_plugins.evaluate.networks import NETWORKS
    from dgan_plugins.evaluate.run import EvalOptions, evaluate
    from dgan_plugins.evaluate.train import TrainConfig

    _check_head(head)
    _choice("--net", net, NETWORKS)
    _choice("--pck-norm", pck_norm, ("image", "bbox"))
    _choice("--device", device, DEVICES)
    for ok, rule in ((steps >= 1, "--steps must be at least 1"),
                     (batch >= 2, "--batch must be at least 2 (batch-norm layers need two images)"),
                     (width >= 4, "--width must be at least 4"), (lr > 0, "--lr must be positive"),
                     (sigma is None or sigma > 0, "--sigma must be positive"),
                     (curve_every >= 0, "--curve-every must be 0 or more")):
        if not ok:
            raise DganError(rule)
    if augment and head not in AUGMENTED:
        raise DganError(f"--augment moves labels of {', '.join(AUGMENTED)} only, not '{head}'")
    if encoder is not None:
        if net != "resnet18":
            raise DganError(f"--encoder needs --net resnet18, not {net}")
        from dgan_plugins.evaluate.networks import load_resnet18_state
        try:
            load_resnet18_state(encoder)  # fail before any data is read
        except ValueError as exc:
            raise DganError(str(exc)) from None
    cfg = TrainConfig(steps=steps, batch=batch, lr=lr, seed=seed, augment=augment, device=_device(device))
    opts = EvalOptions(net=net, width=width, sigma=sigma, pck_norm=pck_norm,
                       encoder=str(encoder) if encoder else None)

    train_set = load_set(train_path, head, "training")
    test_set = load_set(test_path, head, "test")
    result = evaluate(train_set, test_set, head, cfg, opts, progress=progress, curve_every=curve_every)
    rows = [["training images", len(train_set)], ["test images", len(test_set)], *_rows(result["metrics"])]
    print_table(f"dgan eval: {head}, {net}, {steps} steps", ["metric", "value"], rows)
    write_json(json_path, result)


def _check_head(head: str) -> None:
    """A registered head with an `evaluation` (its task: channels, loss, metrics); built-ins have one."""
    from dgan_cli.registry import default_registry

    evaluable = [s.name for s in default_registry().specs("head") if s.evaluation is not None]
    if head not in evaluable:
        raise DganError(f"unknown --head '{head}'; choose one of {', '.join(evaluable)}",
                        hint="a plugin head is evaluated when its HeadSpec gives `evaluation`")


def _choice(option: str, value: str, allowed) -> None:
    if value not in allowed:
        raise DganError(f"unknown {option} '{value}'; choose one of {', '.join(allowed)}")


def _device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise DganError("--device cuda: no CUDA device is available")
    return name


def _rows(metrics: dict) -> list[list]:
    """Headline numbers first, then one row per class / keypoint."""
    rows, details = [], []
    for key, value in metrics.items():
        if isinstance(value, dict):
            label = key.replace("per_class_", "").replace("per_keypoint_", "")
            details += [[f"{label} {name}", "-" if v is None else v] for name, v in value.items()]
        else:
            rows.append([key, value])
    return rows + details
