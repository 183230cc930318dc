"""`dgan distill eval` rows, and bad input as one line with exit code 2."""
from __future__ import annotations

import json

import pytest
import torch
import torchvision

from sns_helpers import TINY_TRAIN, one_error_line


def test_eval_probes_the_student_and_the_comparison_rows(run_cli, tmp_path, trained_student, toy_folders):
    train, test = toy_folders
    result = run_cli("distill", "eval", "--student", trained_student, "--train", train, "--test", test,
                     "--compare", "--work", tmp_path / "work", "--probe-epochs", "3", "--json", tmp_path / "r.json")
    assert result.code == 0, result.err
    report = json.loads((tmp_path / "r.json").read_text())
    rows = {row["name"]: row for row in report["rows"]}
    assert list(rows) == ["given student", "random init (no training)", "VICReg on real images only",
                          "squeeze only (synthetic)", "squeeze and span"]
    assert [rows[n]["pretrain_data"] for n in list(rows)[2:]] == ["Real", "Syn", "Real & Syn"]
    assert all(0.0 <= row["top1"] <= 100.0 for row in rows.values())
    assert report["budget"] == {"steps": 2, "batch_size": 8, "resolution": 8, "probe_epochs": 3}
    assert report["data"]["train_images"] == 24 and report["data"]["test_images"] == 12
    # the given student is exactly the squeeze-and-span run of this budget: reused, not retrained
    assert rows["squeeze and span"]["source"] == str(trained_student)
    assert rows["squeeze and span"]["top1"] == rows["given student"]["top1"]
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["squeeze.pt", "vicreg-real.pt"]
    assert "Linear probe, 4 classes" in result.out


@pytest.mark.parametrize("case", ["empty", "unreadable", "missing"])
def test_bad_real_folder_is_one_line(run_cli, tmp_path, backbone_file, case):
    real = tmp_path / "real"
    if case != "missing":
        real.mkdir()
    if case == "unreadable":
        (real / "broken.png").write_bytes(b"not a png")
    line = one_error_line(run_cli("distill", "train", "--backbone", backbone_file, "--real", real,
                                  "--out", tmp_path / "s.pt", *TINY_TRAIN))
    assert str(real) in line
    assert {"empty": "no images", "unreadable": "not a readable image", "missing": "no such"}[case] in line
    assert not (tmp_path / "s.pt").exists()


def _foreign_checkpoints(tmp_path, trained_student) -> dict:
    data = torch.load(trained_student, weights_only=True)
    resnet34 = {f"encoder.{k}": v for k, v in torchvision.models.resnet34().state_dict().items()}
    paths = {"resnet34 weights": tmp_path / "r34.pt", "plain state dict": tmp_path / "plain.pt",
             "garbage": tmp_path / "garbage.pt"}
    torch.save({**data, "student": {**data["student"], **resnet34}}, paths["resnet34 weights"])
    torch.save(torchvision.models.resnet18().state_dict(), paths["plain state dict"])
    paths["garbage"].write_bytes(b"\x00" * 64)
    return paths


def test_student_checkpoint_of_another_kind_is_one_line(run_cli, tmp_path, trained_student, toy_folders):
    expected = {"resnet34 weights": "do not fit", "plain state dict": "not a dgan distill student checkpoint",
                "garbage": "not a readable torch checkpoint"}
    for name, path in _foreign_checkpoints(tmp_path, trained_student).items():
        export = one_error_line(run_cli("distill", "export", "--student", path, "--out", tmp_path / "e.pt"))
        probe = one_error_line(run_cli("distill", "eval", "--student", path, "--train", toy_folders[0],
                                       "--test", toy_folders[1]))
        assert expected[name] in export and expected[name] in probe, (name, export, probe)
    assert not (tmp_path / "e.pt").exists()


def test_folder_without_class_labels_is_one_line(run_cli, tmp_path, trained_student, toy_folders):
    from dgan_cli.labelled_folder import write_folder

    unlabelled = write_folder(tmp_path / "nolabels", ["a", "b"], torch.zeros(2, 8, 8, 3, dtype=torch.uint8).numpy(),
                              {}, {})
    line = one_error_line(run_cli("distill", "eval", "--student", trained_student, "--train", unlabelled,
                                  "--test", toy_folders[1]))
    assert "no image-level class labels" in line
