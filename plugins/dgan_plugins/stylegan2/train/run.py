"""A whole training run: open the data, build or resume the trainer, loop,
log, snapshot. `train_backbone` is the Python entry point behind
`dgan backbone train`.
"""
from __future__ import annotations

import math
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

from dgan_cli.console import progress
from dgan_cli.errors import DganError
from dgan_plugins.stylegan2.train import checkpoint as ckpt
from dgan_plugins.stylegan2.train.config import (RESUME_MAY_CHANGE, TrainConfig, new_config, read_config,
                                                 resumed_config, write_config)
from dgan_plugins.stylegan2.train.data import EpochSampler, FolderImages, to_float_images
from dgan_plugins.stylegan2.train.samples import grid_latents, render_grid, save_grid
from dgan_plugins.stylegan2.train.trainer import Trainer

GRID_COLUMNS = 8
GRID_IMAGES = 64


def train_backbone(out: str | Path, options: dict[str, Any], resume: bool = False) -> dict:
    """Train (or, with `resume`, continue) the run in `out`; returns a summary.

    `options` maps TrainConfig field names (plus `toy_images`) to values, None
    meaning "not given". See config.py for defaults and what a resume may change.
    """
    run = ckpt.RunFolder(out)
    state = None
    if resume and not (run.root.exists() and any(run.root.iterdir())):
        resume = False  # nothing there yet: --resume starts the run, so a recipe can always pass it
    if resume:
        config = resumed_config(read_config(run.config), options)
        latest = ckpt.latest_checkpoint(run)
        if latest is not None:  # else it stopped before its first snapshot: start over
            state = ckpt.load_checkpoint(latest)
            _check_same_run(config, state, latest)
        source = _open_source(config.data, config.resolution, config.data_images)
        if len(source) != config.data_images or source.resolution != config.resolution:
            raise DganError(f"cannot resume: the run started with {config.data_images} images of "
                            f"{config.resolution}px, {config.data} now holds {len(source)} of "
                            f"{source.resolution}px")
    else:
        if run.holds_run():
            raise DganError(f"{run.root} already holds a training run",
                            hint="add --resume to continue it, or choose another --out")
        if options.get("data") is None:
            raise DganError("--data is required for a new run: an image folder, or 'toy'")
        source = _open_source(options["data"], options.get("resolution"), options.get("toy_images"))
        config = new_config(options, source.resolution, len(source))

    device = _device(config.device)
    trainer = Trainer(config, device, render_latents=_paired_targets(config, source))
    run.create()
    if state is not None:
        trainer.load_state_dict(state)
    if resume:
        ckpt.truncate_metrics(run, trainer.step_count)
    write_config(run.config, config)
    return _loop(run, config, trainer, source, device)


def _loop(run: ckpt.RunFolder, config: TrainConfig, trainer: Trainer, source, device) -> dict:
    sampler = EpochSampler(len(source), config.batch, config.seed)
    grid_z = grid_latents(config.seed, GRID_IMAGES, config.z_dim)
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    last_record: dict = {}
    last_snapshot = trainer.step_count if ckpt.latest_checkpoint(run) is not None else -1
    interval_start, interval_steps = time.perf_counter(), 0
    with _deterministic(device), _stop_on_interrupt() as stop, \
            progress("Training", total=config.steps) as bar:
        bar.advance(min(trainer.step_count, config.steps))
        while trainer.step_count < config.steps and not stop.requested:
            real = None
            if config.adversarial:
                real = to_float_images(source.batch(sampler.indices(trainer.step_count)), device)
            for name, value in trainer.step(real).items():
                sums[name] = sums[name] + value if name in sums else value
                counts[name] = counts.get(name, 0) + 1
            interval_steps += 1
            done = trainer.step_count
            if done % config.log_every == 0 or done == config.steps:
                seconds = (time.perf_counter() - interval_start) / interval_steps
                last_record = _log(run, trainer, sums, counts, seconds)
                sums, counts = {}, {}
                interval_start, interval_steps = time.perf_counter(), 0
            if done % config.snapshot_every == 0:
                _snapshot(run, config, trainer, grid_z)
                last_snapshot = done
            bar.advance(1)
        if last_snapshot != trainer.step_count:
            _snapshot(run, config, trainer, grid_z)
    if stop.requested:
        raise KeyboardInterrupt  # the CLI reports it; the checkpoint above is the resume point
    return {
        "run": str(run.root), "data": source.describe(), "step": trainer.step_count,
        "images_seen": trainer.images_seen,
        "device": str(device), "generator": str(run.generator), "checkpoint": str(run.latest),
        "last_metrics": last_record,
    }


def _log(run, trainer: Trainer, sums: dict, counts: dict, seconds: float) -> dict:
    means = {name: (sums[name] / counts[name]).item() if name in sums else None
             for name in ("loss_G", "loss_D", "r1", "pl", "recon", "recon_pool")}
    bad = [name for name, value in means.items() if value is not None and not math.isfinite(value)]
    if bad:
        raise DganError(f"training diverged at step {trainer.step_count} ({bad[0]} is {means[bad[0]]}); "
                        f"the last checkpoint in {run.checkpoints} is kept")
    record = {"step": trainer.step_count, "images_seen": trainer.images_seen, "objective": trainer.config.objective,
              **means,
              "sec_per_step": round(seconds, 4)}
    ckpt.append_metrics(run, record)
    return record


def _snapshot(run: ckpt.RunFolder, config: TrainConfig, trainer: Trainer, grid_z: torch.Tensor) -> None:
    """Checkpoint first (the resume point), then the exported G_ema, then the sample grid."""
    from dgan_plugins.stylegan2.checkpoint import save_checkpoint

    step = trainer.step_count
    ckpt.publish_checkpoint(run, {**trainer.state_dict(), "config": config.as_dict()}, config.keep_checkpoints)
    save_checkpoint(run.generator, trainer.G_ema, extra={"training": {
        "trained_by": "dgan backbone train", "step": step, "images_seen": trainer.images_seen,
        "config": config.as_dict()}})
    save_grid(render_grid(trainer.G_ema, grid_z, config.batch), run.sample(step), GRID_COLUMNS)


def _open_source(data: str, resolution: int | None, count: int | None):
    """A registered data source by name (`toy`), else an image folder."""
    from dgan_cli.registry import default_registry

    registry = default_registry()
    if data in registry.names("data_source"):
        return registry.get("data_source", data).open(resolution=resolution, count=count)
    with progress("Reading images") as bar:
        source = FolderImages(data, progress=bar.advance)
    if resolution is not None and resolution != source.resolution:
        raise DganError(f"--resolution {resolution} does not match the images in {data} "
                        f"({source.resolution}x{source.resolution})")
    return source


def _paired_targets(config: TrainConfig, source):
    """The source's latent renderer when the objective needs one; refused for sources without it."""
    if not config.paired:
        return None
    render = getattr(source, "render_latents", None)
    if render is None:
        raise DganError(f"--objective {config.objective} needs a data source that renders images from latents "
                        f"('toy'); {source.describe()} cannot", hint="use --objective gan for an image folder")
    if source.latent_dim != config.z_dim:
        raise DganError(f"--objective {config.objective}: the toy world's latent has {source.latent_dim} "
                        f"components, so --z-dim must be {source.latent_dim}, not {config.z_dim}")
    return render


def _check_same_run(config: TrainConfig, state: dict, path: Path) -> None:
    """config.json and the checkpoint must describe the same training (a copied file would not)."""
    recorded = state.get("config", {})
    for name, value in config.as_dict().items():
        if name not in RESUME_MAY_CHANGE and recorded.get(name) != value:
            raise DganError(f"{path} was written by a run with different settings ({name}: "
                            f"{recorded.get(name)!r} vs {value!r} in config.json)")


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise DganError("--device cuda was asked for, but torch sees no CUDA device", hint="use --device cpu")
    return torch.device(name)


@contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """Same seed, same bytes on CPU; left as it was afterwards."""
    before = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


class _StopFlag:
    requested = False


@contextmanager
def _stop_on_interrupt() -> Iterator[_StopFlag]:
    """First Ctrl-C (or SIGTERM, e.g. a scheduler's preemption): finish the step
    and checkpoint. A second one acts as it would without us. Signals the
    process ignores (a background job's SIGINT) stay ignored."""
    flag = _StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = {}

    def request_stop(signum, frame):
        flag.requested = True
        signal.signal(signum, previous[signum])

    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if handler is not signal.SIG_IGN:
            previous[signum] = signal.SIG_DFL if handler is None else handler
            signal.signal(signum, request_stop)
    try:
        yield flag
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
