"""Training the ensemble from a cache, one member at a time.

Each member draws its own pixel sample from every labelled image (the head
picks the pixels), so the ensemble amortises the sampling. Pixel features are
built with `CacheReader.pixel_features` for the sampled pixels only and kept
as fp16; one member's training set is in memory at a time.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from dgan_cli.console import progress
from dgan_cli.errors import DganError
from dgan_cli.interpreter.ensemble import Ensemble
from dgan_cli.types import LayerInfo

EVAL_VALUES = 1 << 24  # float32 values per evaluation chunk (64 MiB)


@dataclass(frozen=True)
class TrainOptions:
    """How an ensemble is trained (Adam, fixed budget, early stop on a smoothed loss).

    `epochs` passes over each member's pixels, or exactly `iters` batches when
    set. After the first epoch, a member stops once its smoothed batch loss
    has not improved for `patience` iterations.
    """

    members: int = 10
    pixels_per_image: int = 4096
    batch_size: int = 64
    epochs: int = 4
    iters: int | None = None
    lr: float = 1e-3
    patience: int = 500
    seed: int = 0
    hidden: tuple | None = None
    device: str = "cpu"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden) if self.hidden else None
        return d


@dataclass
class MemberReport:
    member: int
    pixels: int
    iterations: int
    stopped_early: bool
    final_loss: float
    metrics: dict = field(default_factory=dict)


def member_pixels(reader, head, kind: str, layers: Sequence[LayerInfo], indices: Sequence[int],
                  per_image: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One member's training set: fp16 features [P, C] and float32 targets [P, T].

    Pixels are drawn first, so the feature matrix is allocated once and filled
    image by image (no second copy of it is ever made).
    """
    names = [layer.name for layer in layers]
    picks, targets = [], []
    for i in indices:
        label = reader.labels(kind, [int(i)])[0]
        ys, xs = head.sample_pixels(label, per_image, rng, image_hw=reader.image_hw)
        ys, xs = np.asarray(ys, dtype=np.int64), np.asarray(xs, dtype=np.int64)
        if len(ys):
            picks.append((int(i), ys, xs))
            targets.append(torch.from_numpy(np.asarray(head.pixel_targets(label, ys, xs), dtype=np.float32)))
    if not picks:
        raise DganError(f"{reader.path}: the '{kind}' labels have no usable pixels")
    x = torch.empty(sum(len(ys) for _, ys, _ in picks), sum(layer.channels for layer in layers),
                    dtype=torch.float16)
    start = 0
    for i, ys, xs in picks:
        x[start:start + len(ys)] = torch.from_numpy(reader.pixel_features(i, ys, xs, names))
        start += len(ys)
    return x, torch.cat(targets)


def train_member(member: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, head, options: TrainOptions,
                 seed: int, bar=None) -> tuple[int, bool]:
    """Adam on shuffled batches; returns (iterations run, stopped early)."""
    device = torch.device(options.device)
    member.to(device).train()
    x, y = x.to(device), y.to(device)
    n = len(x)
    if n < 2:
        raise DganError("too few training pixels (BatchNorm needs at least 2)")
    batch = min(options.batch_size, n)
    per_epoch = max(1, n // batch)  # incomplete batches are dropped: BatchNorm needs > 1 sample
    total = options.iters if options.iters is not None else options.epochs * per_epoch
    optimiser = torch.optim.Adam(member.parameters(), lr=options.lr, fused=True)
    gen = torch.Generator().manual_seed(seed)
    smoothed, best, best_at, it = None, math.inf, 0, 0
    while it < total:
        order = torch.randperm(n, generator=gen)
        for start in range(0, per_epoch * batch, batch):
            idx = order[start:start + batch].to(device)
            loss = head.loss(member(x[idx].float()), y[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            it += 1
            value = float(loss.detach())
            smoothed = value if smoothed is None else 0.98 * smoothed + 0.02 * value
            if smoothed < best:
                best, best_at = smoothed, it
            if bar is not None:
                bar.advance(1)
            if it >= per_epoch and it - best_at > options.patience:
                return it, True
            if it >= total:
                break
    return it, False


@torch.no_grad()
def evaluate_member(member: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, head,
                    device: str) -> tuple[float, dict]:
    """Eval-mode loss and the head's metrics over a member's own training pixels."""
    member.eval()
    chunk = max(1, EVAL_VALUES // x.shape[1])
    outputs = torch.cat([member(x[i:i + chunk].to(device).float()).cpu() for i in range(0, len(x), chunk)])
    loss = float(head.loss(outputs, y))
    metrics = head.metrics(outputs, y) if hasattr(head, "metrics") else {}
    return loss, {k: float(v) for k, v in metrics.items()}


def train_ensemble(reader, head, layers: Sequence[LayerInfo], options: TrainOptions, kind: str | None = None,
                   members: Sequence[int] | None = None,
                   on_member: Callable[[int, torch.nn.Module, MemberReport], None] | None = None,
                   ) -> tuple[Ensemble, list[MemberReport]]:
    """Train the members of an `options.members` ensemble on the `kind` labels (default: the head's name).

    `members` picks which ones (default: all; the others keep their initial
    weights), and `on_member` sees each as soon as it is trained. A member's
    weights depend on its index and the options alone, so members trained
    apart (dgan_cli/distributed.py) equal members trained together.
    """
    kind = kind or head.name
    indices = reader.labelled(kind)
    if len(indices) == 0:
        raise DganError(f"{reader.path}: no sample carries a '{kind}' label")
    ensemble = Ensemble(sum(layer.channels for layer in layers), head.num_outputs, options.members,
                        options.hidden, seed=options.seed)
    chosen = list(range(options.members) if members is None else members)
    reports = []
    with progress("Training members", total=len(chosen)) as outer:
        for m in chosen:
            member = ensemble.members[m]
            rng = np.random.default_rng([options.seed, m])
            x, y = member_pixels(reader, head, kind, layers, indices, options.pixels_per_image, rng)
            budget = options.iters or options.epochs * max(1, len(x) // min(options.batch_size, len(x)))
            with progress(f"member {m + 1}/{options.members}", total=budget) as bar:
                iterations, early = train_member(member, x, y, head, options, seed=options.seed * 7919 + m,
                                                 bar=bar)
            loss, metrics = evaluate_member(member, x, y, head, options.device)
            member.cpu()
            reports.append(MemberReport(m, len(x), iterations, early, loss, metrics))
            del x, y  # free this member's pixels before the next member samples its own
            if on_member is not None:
                on_member(m, member, reports[-1])
            outer.advance(1)
    return ensemble.eval(), reports
