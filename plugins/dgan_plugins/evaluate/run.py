"""One evaluation: train a fresh network on one set, score it on another."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Callable

import torch

from dgan_cli.errors import DganError
from dgan_plugins.evaluate.augment import Augmenter
from dgan_plugins.evaluate.data import check_compatible
from dgan_plugins.evaluate.networks import build_network, load_resnet18_state
from dgan_plugins.evaluate.tasks import mirror_permutation
from dgan_plugins.evaluate.train import LabelledSet, TrainConfig, score, train


@contextmanager
def _no_progress(description: str, total: int):
    yield SimpleNamespace(advance=lambda n=1: None)


@dataclass(frozen=True)
class EvalOptions:
    net: str = "unet"
    width: int = 16               # UNet base channels
    sigma: float | None = None    # keypoint heatmap sigma in pixels; None = 2.5% of the image side
    pck_norm: str = "image"
    encoder: str | None = None    # ResNet-18 state dict the resnet18 network starts from


def make_task(kind: str, train_set: LabelledSet, opts: EvalOptions):
    """The head's own evaluation task (`HeadSpec.evaluation`), built-in heads included."""
    from dgan_cli.registry import default_registry

    spec = default_registry().get("head", kind)
    try:
        return spec.evaluation(train_set.target, train_set.names, image_hw=train_set.image_hw,
                               sigma=opts.sigma, pck_norm=opts.pck_norm)
    except DganError as exc:
        raise DganError(f"{train_set.source}: {exc.message}", hint=exc.hint) from None


def evaluate(train_set: LabelledSet, test_set: LabelledSet, kind: str, cfg: TrainConfig,
             opts: EvalOptions, progress: Callable = _no_progress, curve_every: int = 0) -> dict:
    """Train on `train_set` for cfg.steps steps and return the test metrics and run facts.

    `progress(description, total)` is a context manager giving a bar with
    `advance(n)` (dgan_cli.console.progress); it opens only after every check passed.
    `curve_every` > 0 also scores the test set every that many steps (the
    learning curve, `curve` in the result: reported, never used to choose anything).
    """
    check_compatible(train_set, test_set, kind)
    task = make_task(kind, train_set, opts)
    torch.manual_seed(cfg.seed)  # the initial weights
    encoder = load_resnet18_state(opts.encoder) if opts.encoder else None
    model = build_network(opts.net, task.channels, opts.width, encoder)
    augmenter = Augmenter(kind, mirror_permutation(train_set.names)) if cfg.augment else None
    curve = []
    curve_seconds = 0.0  # kept out of the training time

    def on_step(step: int, bar) -> None:
        nonlocal curve_seconds
        bar.advance(1)
        done = step + 1
        if curve_every and done % curve_every == 0 and done < cfg.steps:
            begin = time.perf_counter()
            curve.append({"step": done, **_headline(score(model, task, test_set, cfg.batch, cfg.device))})
            model.train()
            curve_seconds += time.perf_counter() - begin

    start = time.perf_counter()
    with progress(f"Training {opts.net} ({kind}, {len(train_set)} images)", cfg.steps) as bar:
        losses = train(model, task, train_set, cfg, augmenter, on_step=lambda step, loss: on_step(step, bar))
    trained = time.perf_counter()
    metrics = score(model, task, test_set, cfg.batch, cfg.device)
    if curve_every:
        curve.append({"step": cfg.steps, **_headline(metrics)})
    tail = losses[-max(1, len(losses) // 10):]
    return {
        "head": kind,
        "train": {"path": train_set.source, "images": len(train_set)},
        "test": {"path": test_set.source, "images": len(test_set)},
        "image_size": list(train_set.image_hw),
        "config": {**asdict(cfg), **asdict(opts), "sigma": getattr(task, "sigma", None),
                   "parameters": sum(p.numel() for p in model.parameters())},
        "loss": {"first": losses[0], "last_10pct_mean": sum(tail) / len(tail)},
        "seconds": {"train": trained - start - curve_seconds, "test": time.perf_counter() - trained,
                    **({"curve": curve_seconds} if curve_every else {})},
        "metrics": metrics,
        **({"curve": curve} if curve_every else {}),
    }


def _headline(metrics: dict) -> dict:
    """The scalar metrics (per-class tables left out) of one point of a learning curve."""
    return {k: v for k, v in metrics.items() if not isinstance(v, dict)}
