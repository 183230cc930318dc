"""The run folder: where checkpoints, samples and logs live, written atomically.

    RUN/config.json                  settings (see config.py)
    RUN/checkpoints/step-XXXXXX.pt   full training state (G, G_ema, D, optimisers...)
    RUN/latest.pt                    hard link to (or copy of) the newest checkpoint
    RUN/generator.pt                 G_ema in dgan's backbone checkpoint format
    RUN/samples/step-XXXXXX.png      fixed-latent grid from G_ema
    RUN/metrics.jsonl                one JSON object per logged step

Every file appears by rename from a temporary name in the same folder, so an
interrupted write never leaves a file that reads as valid.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from dgan_cli.atomic import atomic_output

from dgan_cli.errors import CheckpointError

CHECKPOINT_FORMAT = "dgan-train-checkpoint/1"


class RunFolder:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.config = self.root / "config.json"
        self.metrics = self.root / "metrics.jsonl"
        self.latest = self.root / "latest.pt"
        self.generator = self.root / "generator.pt"
        self.checkpoints = self.root / "checkpoints"
        self.samples = self.root / "samples"

    def create(self) -> None:
        for folder in (self.root, self.checkpoints, self.samples):
            folder.mkdir(parents=True, exist_ok=True)

    def holds_run(self) -> bool:
        return self.config.exists() or self.latest.exists() or any(self.checkpoints.glob("step-*.pt"))

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"step-{step:06d}.pt"

    def sample(self, step: int) -> Path:
        return self.samples / f"step-{step:06d}.png"


def atomic_torch_save(obj: Any, target: Path) -> None:
    import torch

    with atomic_output(target) as tmp, open(tmp, "wb") as fh:
        torch.save(obj, fh)  # a file object: the archive's inner name must not be the temp name


def publish_checkpoint(run: RunFolder, state: dict, keep: int) -> Path:
    """Write step-XXXXXX.pt, point latest.pt at it, drop checkpoints beyond `keep`."""
    path = run.checkpoint(state["step"])
    atomic_torch_save({"format": CHECKPOINT_FORMAT, **state}, path)
    with atomic_output(run.latest) as tmp:
        tmp.unlink()
        try:
            os.link(path, tmp)  # no second copy on disk
        except OSError:
            shutil.copyfile(path, tmp)
    if keep > 0:
        for old in sorted(run.checkpoints.glob("step-*.pt"))[:-keep]:
            old.unlink()
    return path


def latest_checkpoint(run: RunFolder) -> Path | None:
    """latest.pt, else the newest step-XXXXXX.pt, else None (no snapshot yet)."""
    if run.latest.exists():
        return run.latest
    steps = sorted(run.checkpoints.glob("step-*.pt"))
    return steps[-1] if steps else None


def load_checkpoint(path: Path) -> dict:
    """A training checkpoint, read as data only (no pickled code is executed)."""
    import pickle

    import torch

    if not path.is_file():
        raise CheckpointError(f"no training checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise CheckpointError(f"unreadable training checkpoint {path}: {str(error).splitlines()[0]}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a dgan training checkpoint")
    return state


def append_metrics(run: RunFolder, record: dict) -> None:
    with open(run.metrics, "a") as handle:
        handle.write(json.dumps(record) + "\n")


def truncate_metrics(run: RunFolder, after_step: int) -> None:
    """Drop log lines written after the checkpoint a resume starts from."""
    if not run.metrics.exists():
        return
    kept = []
    for line in run.metrics.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= after_step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):  # a line cut short by a crash
            continue
    with atomic_output(run.metrics) as tmp:
        tmp.write_text("".join(line + "\n" for line in kept))
