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



def test_export_is_the_starting_encoder_of_dgan_eval(run_cli, tmp_path, trained_student):
    from dgan_plugins.evaluate.networks import build_network, load_resnet18_state

    out = tmp_path / "resnet18.pt"
    assert run_cli("distill", "export", "--student", trained_student, "--out", out).code == 0
    student, _ = load_trained_student(trained_student)
    dense = build_network("resnet18", 9, encoder=load_resnet18_state(out))
    assert torch.equal(dense.stem[0].weight, student.encoder.conv1.weight.detach())
    assert torch.equal(dense.stages[3][1].conv2.weight, student.encoder.layer4[1].conv2.weight.detach())

    for name, seed in (("train", 0), ("test", 100_000)):
        assert run_cli("-q", "toy", "render", "--n", "2", "--seed", seed, "--resolution", "16",
                       "--out", tmp_path / name).code == 0
    result = run_cli("eval", "--train", tmp_path / "train", "--test", tmp_path / "test", "--head", "segmentation",
                     "--net", "resnet18", "--encoder", out, "--steps", "2", "--batch", "2", "--device", "cpu",
                     "--json", tmp_path / "eval.json")
    assert result.code == 0, result.err
    config = json.loads((tmp_path / "eval.json").read_text())["config"]
    assert config["net"] == "resnet18" and config["encoder"] == str(out)
