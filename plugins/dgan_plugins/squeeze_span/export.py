"""`dgan distill export`: the student's encoder as a plain torchvision ResNet-18 state dict.

The file loads into `torchvision.models.resnet18(num_classes=512)`; with the
CIFAR stem, first replace `conv1` by a 3x3 stride-1 conv (padding 1, no bias)
and `maxpool` by `nn.Identity()` (docs/squeeze-span.md). `fc` is stored as the
512x512 identity, so the loaded model outputs the distilled representation;
swap `fc` for a task head downstream. A JSON manifest beside it says how the
model was built and how to feed it.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from dgan_cli.atomic import atomic_output
from dgan_cli.console import write_json
from dgan_plugins.squeeze_span.augment import INPUT_MEAN, INPUT_STD
from dgan_plugins.squeeze_span.checkpoint import load_trained_student
from dgan_plugins.squeeze_span.student import ENCODER_DIM, Student

EXPORT_FORMAT = "torchvision-resnet18-state-dict"


def torchvision_state_dict(student: Student) -> dict[str, torch.Tensor]:
    """The encoder's tensors under torchvision's names, plus an identity `fc`."""
    state = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in student.encoder.state_dict().items()}
    state["fc.weight"] = torch.eye(ENCODER_DIM)
    state["fc.bias"] = torch.zeros(ENCODER_DIM)
    return state


def stem_changes(stem: str) -> dict:
    """Which torchvision modules differ from `resnet18()` and what replaces them."""
    if stem != "cifar":
        return {}
    return {"conv1": "torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)",
            "maxpool": "torch.nn.Identity()"}


def export_student(checkpoint: Path, out: Path, manifest_path: Path | None = None) -> dict:
    """Write the state dict to `out` (atomically) and its manifest to `manifest_path` (default out.json)."""
    student, data = load_trained_student(checkpoint)
    state = torchvision_state_dict(student)
    with atomic_output(out) as tmp, open(tmp, "wb") as fh:
        torch.save(state, fh)
    arch = data["arch"]
    manifest = {
        "format": EXPORT_FORMAT, "file": out.name, "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "torchvision_model": "resnet18", "num_classes": ENCODER_DIM, "fc": "identity (outputs the representation)",
        "stem": arch["stem"], "replace_modules": stem_changes(arch["stem"]),
        "input": {"resolution": arch["resolution"], "value_range": [0.0, 1.0], "mean": list(INPUT_MEAN),
                  "std": list(INPUT_STD)},
        "source": {"checkpoint": str(checkpoint), "method": data["method"], "steps": data["step"],
                   "backbone": (data.get("teacher") or {}).get("backbone"),
                   "dgan_version": data.get("dgan_version")},
    }
    write_json(manifest_path or out.with_suffix(".json"), manifest)
    return manifest
