"""`dgan distill eval`: linear-probe a student and, with `--compare`, the paper's comparison rows.

The comparison students are trained here with one budget (steps x batch,
resolution, seed: the given student's unless overridden), on the `--train`
images as the real set (their labels are used by the probe only):
VICReg on real images only (alpha = 0), squeeze only (alpha = 1) and squeeze
and span (alpha = 0.5). Their checkpoints go to a work folder, so an
interrupted eval resumes; a row whose run is the given student's is not retrained.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

from dgan_cli import load_backbone
from dgan_cli.errors import DganError
from dgan_plugins.squeeze_span.checkpoint import config_of, load_trained_student
from dgan_plugins.squeeze_span.config import METHOD_NAMES, TrainConfig
from dgan_plugins.squeeze_span.images import load_class_labelled
from dgan_plugins.squeeze_span.probe import encode, linear_probe
from dgan_plugins.squeeze_span.student import Student
from dgan_plugins.squeeze_span.trainer import Distillation, real_fingerprint

COMPARISON_RATIOS = {"vicreg-real": 0.0, "squeeze": 1.0, "squeeze-span": 0.5}
PRETRAIN_DATA = {"vicreg-real": "Real", "squeeze": "Syn", "squeeze-span": "Real & Syn"}


@dataclasses.dataclass
class Budget:
    steps: int
    batch_size: int
    resolution: int
    probe_epochs: int


def evaluate(student_path: Path, train_dir: Path, test_dir: Path, *, compare: bool = False,
             backbone_source: str | None = None, steps: int | None = None, batch_size: int | None = None,
             work_dir: Path | None = None, probe_epochs: int = 90, device: str = "cpu") -> dict:
    """Probe results: {"budget", "data", "rows": [{name, method, pretrain_data, top1, ...}]}."""
    student, data = load_trained_student(student_path)
    config = config_of(data, student_path)
    resolution = int(data["arch"]["resolution"])
    train_x, train_y, classes = load_class_labelled(train_dir, resolution)
    test_x, test_y, test_classes = load_class_labelled(test_dir, resolution)
    if test_classes != classes:
        raise DganError(f"{test_dir}: class names {test_classes} differ from {train_dir}'s {classes}")
    budget = Budget(steps or config.steps, batch_size or config.batch_size, resolution, probe_epochs)

    def probe(encoder: torch.nn.Module) -> dict:
        features = (encode(encoder, train_x, resolution, device=device), encode(encoder, test_x, resolution,
                                                                                  device=device))
        return linear_probe(features[0], train_y, features[1], test_y, len(classes), epochs=probe_epochs,
                            seed=config.seed)

    rows = [_row("given student", data["method"], data["step"], config.batch_size, probe(student.encoder),
                 source=str(student_path))]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        untrained = Student(data["arch"]["stem"], dim=config.dim, projector_layers=config.projector_layers)
    rows.append(_row("random init (no training)", None, 0, 0, probe(untrained.encoder)))
    if compare:
        work_dir = work_dir or student_path.with_name(student_path.stem + ".compare")
        source = backbone_source or (data.get("teacher") or {}).get("backbone_source")
        if not source:
            raise DganError("--compare needs a generator: the student was trained without one",
                            hint="pass --backbone")
        backbone = load_backbone(source, device=device)
        # train at the given student's resolution even if another generator is passed
        run_resolution = config.resolution if config.resolution or backbone.resolution == resolution else resolution
        for method, ratio in COMPARISON_RATIOS.items():
            run_config = dataclasses.replace(config, syn_ratio=ratio, steps=budget.steps,
                                             batch_size=budget.batch_size, resolution=run_resolution)
            trained, trained_from, seconds = _comparison_student(
                run_config, student_path, data, work_dir / f"{method}.pt", backbone, source, train_x,
                str(train_dir), device)
            rows.append(_row(METHOD_NAMES[method], method, run_config.steps, run_config.batch_size,
                             probe(trained.encoder), source=trained_from, train_seconds=seconds))
    return {"budget": dataclasses.asdict(budget), "classes": classes,
            "data": {"train": str(train_dir), "test": str(test_dir), "train_images": int(train_x.shape[0]),
                     "test_images": int(test_x.shape[0])},
            "rows": rows}


def _row(name: str, method: str | None, steps: int, batch_size: int, result: dict, **extra) -> dict:
    return {"name": name, "method": method, "pretrain_data": PRETRAIN_DATA.get(method, "-"), "steps": steps,
            "batch_size": batch_size, "top1": result["top1"], "train_top1": result["train_top1"], **extra}


def _comparison_student(config: TrainConfig, student_path: Path, data: dict, out: Path, backbone,
                        backbone_source: str, real: torch.Tensor, real_source: str,
                        device: str) -> tuple[Student, str, float]:
    """The student of one comparison run: the given one if it is that very run, else trained (or resumed)."""
    same_real = (data.get("real") or {}).get("sha256") == (real_fingerprint(real) or {}).get("sha256")
    same_teacher = (data.get("teacher") or {}).get("backbone") == backbone.identity()
    if data["config"] == config.as_dict() and (config.real_batch == 0 or same_real) and \
            (config.syn_batch == 0 or same_teacher):
        return load_trained_student(student_path)[0], str(student_path), 0.0
    run = Distillation(config, out, backbone=backbone, backbone_source=backbone_source, real=real,
                       real_source=real_source, device=device)
    run.resume()
    started = time.perf_counter()
    run.run()
    return load_trained_student(out)[0], str(out), round(time.perf_counter() - started, 1)
