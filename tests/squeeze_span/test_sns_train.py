"""Training: collapse is prevented, and an interrupted run resumes to the same bytes."""
from __future__ import annotations

import torch

from dgan_cli.console import set_quiet
from dgan_plugins.squeeze_span.config import TrainConfig
from dgan_plugins.squeeze_span.losses import LossWeights, paired_loss
from dgan_plugins.squeeze_span.squeeze import SqueezeModule
from dgan_plugins.squeeze_span.trainer import Distillation
from sns_helpers import one_error_line, tiny_backbone

RESUME_ARGS = ["--resolution", "8", "--batch-size", "4", "--dim", "16", "--steps", "3", "--checkpoint-every", "2"]


def _fit_pair(weights: LossWeights) -> tuple[float, float]:
    """Jointly fit a squeeze module (teacher) and a small student on noise; final per-dimension stds."""
    torch.manual_seed(0)
    squeeze = SqueezeModule([6, 4], dim=8, hidden=16)
    student = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
    optimizer = torch.optim.SGD([*squeeze.parameters(), *student.parameters()], lr=0.01, momentum=0.9)
    generator = torch.Generator().manual_seed(1)
    for _ in range(60):
        features = [torch.randn(32, 6, 2, 2, generator=generator), torch.randn(32, 4, 4, 4, generator=generator)]
        student_z, teacher_z = student(torch.randn(32, 10, generator=generator)), squeeze(features)
        loss = paired_loss(student_z, teacher_z, weights)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return student_z.std(dim=0).mean().item(), teacher_z.std(dim=0).mean().item()


def test_variance_and_covariance_terms_prevent_the_trivial_solution():
    # distance alone: both networks agree by shrinking to a constant (the paper's ablation row c)
    assert max(_fit_pair(LossWeights(distance=25.0, variance=0.0, covariance=0.0))) < 0.1
    assert min(_fit_pair(LossWeights())) > 0.3


def test_short_distillation_keeps_the_representation_spread(tmp_path):
    set_quiet(True)
    config = TrainConfig(steps=5, resolution=8, batch_size=8, syn_ratio=1.0, dim=16, squeeze_hidden=16, lr=0.2)
    run = Distillation(config, tmp_path / "s.pt", backbone=tiny_backbone())
    run.run()
    set_quiet(False)
    first, last = run.history[0], run.history[-1]
    assert min(last["syn_std"], last["teacher_std"]) > 0.3, last
    assert last["syn_std"] > first["syn_std"] + 0.1  # pushed towards 1 by the variance term


def _checkpoint(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def _assert_same_state(a: dict, b: dict) -> None:
    for part in ("student", "squeeze"):
        assert a[part].keys() == b[part].keys()
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    momentum_a = [s["momentum_buffer"] for s in a["optimizer"]["state"].values()]
    momentum_b = [s["momentum_buffer"] for s in b["optimizer"]["state"].values()]
    assert len(momentum_a) == len(momentum_b) and all(torch.equal(x, y) for x, y in zip(momentum_a, momentum_b))
    assert a["history"] == b["history"] and a["step"] == b["step"] and a["complete"] and b["complete"]


def test_interrupted_run_resumes_exactly(run_cli, tmp_path, backbone_file, toy_folders, monkeypatch):
    common = ["distill", "train", "--backbone", backbone_file, "--real", toy_folders[0], *RESUME_ARGS]
    assert run_cli(*common, "--out", tmp_path / "straight.pt").code == 0

    real_step = Distillation.train_step

    def crash_at_step_3(self):
        if self.step == 2:  # the checkpoint of step 2 is on disk
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(Distillation, "train_step", crash_at_step_3)
    assert run_cli(*common, "--out", tmp_path / "resumed.pt").code == 130
    partial = _checkpoint(tmp_path / "resumed.pt")
    assert partial["step"] == 2 and not partial["complete"]
    monkeypatch.setattr(Distillation, "train_step", real_step)
    assert run_cli(*common, "--out", tmp_path / "resumed.pt").code == 0
    _assert_same_state(_checkpoint(tmp_path / "straight.pt"), _checkpoint(tmp_path / "resumed.pt"))

    # the same --out with other options is another run: refused, file untouched
    before = (tmp_path / "resumed.pt").read_bytes()
    line = one_error_line(run_cli(*common, "--out", tmp_path / "resumed.pt", "--lr", "0.1"))
    assert "different run" in line and "lr" in line
    assert (tmp_path / "resumed.pt").read_bytes() == before
