"""The distillation loop: SGD on student + squeeze module, checkpoints, exact resume."""
from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path

import torch

from dgan_cli import __version__
from dgan_cli.console import progress
from dgan_cli.errors import DganError
from dgan_plugins.squeeze_span.batches import StepBatches, resolve_layers
from dgan_plugins.squeeze_span.checkpoint import config_of, load_weights, read_checkpoint, save_checkpoint
from dgan_plugins.squeeze_span.config import TrainConfig
from dgan_plugins.squeeze_span.losses import LossWeights, combined_loss, paired_loss
from dgan_plugins.squeeze_span.squeeze import SqueezeModule
from dgan_plugins.squeeze_span.student import Student, auto_stem


def real_fingerprint(real: torch.Tensor | None, source: str = "") -> dict | None:
    """Count and content hash of the real images (a resume must see the same ones)."""
    if real is None:
        return None
    digest = hashlib.sha256(real.contiguous().numpy().tobytes()).hexdigest()
    return {"count": int(real.shape[0]), "sha256": digest, "source": source}


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear scaling by batch size / 256, then cosine decay over the run (paper Sec. 5.1)."""
    peak = config.lr * config.batch_size / 256
    return peak * 0.5 * (1 + math.cos(math.pi * step / config.steps))


class Distillation:
    """One run's models, optimiser and inputs; `run` trains to `config.steps` and writes `out`."""

    def __init__(self, config: TrainConfig, out: Path, backbone=None, backbone_source: str = "",
                 real: torch.Tensor | None = None, real_source: str = "", device: str = "cpu",
                 checkpoint_every: int = 50):
        config.validate()
        if config.syn_batch and backbone is None:
            raise DganError(f"method '{config.method}' needs a generator (--backbone)")
        if config.real_batch and real is None:
            raise DganError(f"method '{config.method}' needs real images (--real DIR)")
        self.config, self.out, self.device = config, Path(out), torch.device(device)
        self.checkpoint_every = max(1, checkpoint_every)
        self.resolution = config.resolution or (backbone.resolution if backbone is not None else 0)
        if not self.resolution:
            raise DganError("a run without a generator needs --resolution")
        if real is not None and tuple(real.shape[1:]) != (3, self.resolution, self.resolution):
            raise DganError(f"real images must be [N, 3, {self.resolution}, {self.resolution}], "
                            f"got {list(real.shape)}")
        layers = resolve_layers(backbone, config.layers) if config.syn_batch else []
        self.teacher = {"backbone": backbone.identity() if config.syn_batch else None,
                        "backbone_source": backbone_source if config.syn_batch else "",
                        "layers": [info.name for info in layers],
                        "layer_channels": [info.channels for info in layers]}
        self.real_info = real_fingerprint(real if config.real_batch else None, real_source)
        self.stem = auto_stem(self.resolution) if config.stem == "auto" else config.stem
        self.batches = StepBatches(config, self.resolution, backbone, self.teacher["layers"],
                                   real if config.real_batch else None, device)
        self._build_models()
        self.step, self.history = 0, []

    def _build_models(self) -> None:
        config = self.config
        with torch.random.fork_rng(devices=[]):  # seeded init without touching the caller's RNG
            torch.manual_seed(config.seed)
            self.student = Student(self.stem, dim=config.dim, projector_layers=config.projector_layers)
            self.squeeze = SqueezeModule(self.teacher["layer_channels"], dim=config.dim,
                                         hidden=config.squeeze_hidden, depth=config.squeeze_depth) \
                if config.syn_batch else None
        self.student.to(self.device).train()
        params = list(self.student.parameters())
        if self.squeeze is not None:
            self.squeeze.to(self.device).train()
            params += list(self.squeeze.parameters())
        self.optimizer = torch.optim.SGD(params, lr=learning_rate(config, 0), momentum=config.momentum,
                                         weight_decay=config.weight_decay)

    # -- checkpoints ---------------------------------------------------------
    def arch(self) -> dict:
        return {"name": "resnet18", "stem": self.stem, "dim": self.config.dim,
                "projector_layers": self.config.projector_layers, "resolution": self.resolution}

    def state(self) -> dict:
        return {"method": self.config.method, "config": self.config.as_dict(), "arch": self.arch(),
                "step": self.step, "complete": self.step >= self.config.steps,
                "student": _cpu_state(self.student),
                "squeeze": _cpu_state(self.squeeze) if self.squeeze is not None else None,
                "optimizer": self.optimizer.state_dict(), "teacher": self.teacher, "real": self.real_info,
                "history": self.history, "dgan_version": __version__}

    def resume(self) -> bool:
        """Continue from `out` if it holds this same run; False when there is nothing to resume."""
        if not self.out.exists():
            return False
        data = read_checkpoint(self.out)
        mismatch = self._mismatch(data)
        if mismatch:
            raise DganError(f"{self.out} holds a different run ({mismatch})",
                            hint="pass another --out, or delete the file to start over")
        load_weights(self.student, data.get("student"), self.out, "student")
        if self.squeeze is not None:
            load_weights(self.squeeze, data.get("squeeze"), self.out, "squeeze module")
        self.optimizer.load_state_dict(data["optimizer"])
        self.step, self.history = int(data["step"]), list(data["history"])
        return True

    def _mismatch(self, data: dict) -> str:
        theirs = config_of(data, self.out).as_dict()
        for key, value in self.config.as_dict().items():
            if theirs.get(key) != value:
                return f"{key}: {theirs.get(key)!r} there, {value!r} now"
        if (data.get("teacher") or {}).get("backbone") != self.teacher["backbone"]:
            return "another generator"
        if (data.get("teacher") or {}).get("layers") != self.teacher["layers"]:
            return "other generator layers"
        if (data.get("real") or {}).get("sha256") != (self.real_info or {}).get("sha256"):
            return "other real images"
        return ""

    # -- training ------------------------------------------------------------
    def train_step(self) -> dict:
        config = self.config
        weights = LossWeights(config.distance_weight, config.variance_weight, config.covariance_weight)
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(config, self.step)
        squeeze_terms = span_terms = None
        record = {"step": self.step + 1, "lr": self.optimizer.param_groups[0]["lr"]}
        if config.syn_batch:
            inputs, features = self.batches.synthetic(self.step)
            student_z, teacher_z = self.student(inputs), self.squeeze(features)
            squeeze_terms = paired_loss(student_z, teacher_z, weights)
            record.update(_terms("syn", squeeze_terms), syn_std=_mean_std(student_z), teacher_std=_mean_std(teacher_z))
        if config.real_batch:
            view_a, view_b = self.batches.real_views(self.step)
            real_a, real_b = self.student(view_a), self.student(view_b)
            span_terms = paired_loss(real_a, real_b, weights)
            record.update(_terms("real", span_terms), real_std=_mean_std(real_a))
        loss = combined_loss(squeeze_terms, span_terms, config.syn_ratio)
        if not torch.isfinite(loss):
            raise DganError(f"the loss became {loss.item()} at step {self.step + 1}", hint="lower --lr")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        record["loss"] = loss.item()
        self.history.append(record)
        return record

    def run(self) -> dict:
        """Train from the current step to the end, checkpointing along the way; a summary."""
        started_at, started = self.step, time.perf_counter()
        with progress(f"Distilling ({self.config.method})", total=self.config.steps) as bar:
            bar.advance(self.step)
            while self.step < self.config.steps:
                self.train_step()
                bar.advance(1)
                if self.step % self.checkpoint_every == 0 or self.step == self.config.steps:
                    save_checkpoint(self.out, self.state())
        return {"out": str(self.out), "method": self.config.method, "steps": self.config.steps,
                "resumed_from": started_at, "seconds": round(time.perf_counter() - started, 2),
                "last": self.history[-1] if self.history else {}}


def _terms(prefix: str, terms: dict) -> dict:
    return {f"{prefix}_{name}": value.item() for name, value in terms.items()}


def _mean_std(z: torch.Tensor) -> float:
    """Mean over dimensions of the batch standard deviation: ~0 means collapse."""
    return z.detach().std(dim=0).mean().item()


def _cpu_state(module: torch.nn.Module) -> dict:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
