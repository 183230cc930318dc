"""The export is a plain torchvision ResNet-18 state dict: loaded here with torchvision alone."""
from __future__ import annotations

import json

import pytest
import torch
import torchvision

from dgan_plugins.squeeze_span.checkpoint import load_trained_student


def test_export_loads_into_plain_torchvision_resnet18(run_cli, tmp_path, trained_student):
    out = tmp_path / "resnet18.pt"
    result = run_cli("distill", "export", "--student", trained_student, "--out", out)
    assert result.code == 0, result.err
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["stem"] == "cifar" and manifest["num_classes"] == 512 and manifest["input"]["resolution"] == 8
    assert set(manifest["replace_modules"]) == {"conv1", "maxpool"}

    state = torch.load(out, weights_only=True)
    with pytest.raises(RuntimeError, match="conv1.weight"):  # the CIFAR stem must be swapped in first
        torchvision.models.resnet18(num_classes=512).load_state_dict(state)
    # what a user without dgan writes (docs/squeeze-span.md)
    model = torchvision.models.resnet18(num_classes=512)
    model.conv1 = torch.nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = torch.nn.Identity()
    model.load_state_dict(state)  # strict: every key and shape matches
    model.eval()

    student, _ = load_trained_student(trained_student)
    images = torch.rand(3, 3, 8, 8) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(model(images), student.encoder(images), atol=1e-5)

