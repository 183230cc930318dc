"""Fixtures for the squeeze-and-span tests: a tiny generator file, toy-world folders, a trained student."""
from __future__ import annotations

from pathlib import Path

import pytest
from sns_helpers import TINY_TRAIN, cli, tiny_generator


@pytest.fixture(scope="session")
def backbone_file(tmp_path_factory) -> Path:
    from dgan_plugins.stylegan2.checkpoint import save_checkpoint

    return save_checkpoint(tmp_path_factory.mktemp("sns-backbone") / "tiny.pt", tiny_generator())


@pytest.fixture(scope="session")
def toy_folders(tmp_path_factory) -> tuple[Path, Path]:
    """(train, test) labelled folders of 16px toy renders with their image-level classes."""
    from dgan_cli.labelled_folder import format_ids, write_folder
    from dgan_plugins.toy.render import OBJECT_CLASSES, render_batch

    root = tmp_path_factory.mktemp("sns-toy")
    folders = []
    for name, seeds in (("train", range(0, 24)), ("test", range(1000, 1012))):
        out = render_batch(list(seeds), resolution=16)
        folders.append(write_folder(root / name, format_ids(seeds), out["images"], {"class": out["class"]},
                                    {"class": {"names": list(OBJECT_CLASSES)}}))
    return folders[0], folders[1]


@pytest.fixture(scope="session")
def trained_student(tmp_path_factory, backbone_file, toy_folders) -> Path:
    """A finished squeeze-and-span student (2 steps) trained with the toy train folder as real images."""
    out = tmp_path_factory.mktemp("sns-student") / "student.pt"
    assert cli("distill", "train", "--backbone", backbone_file, "--real", toy_folders[0], "--out", out,
               *TINY_TRAIN) == 0
    return out
