"""HandsOff test fixtures: a tiny random StyleGAN2 (as a dgan checkpoint) and a labelled folder of its images."""
from __future__ import annotations

import pytest
from ho_world import LABEL_NAMES, colour_labels, own_images, single_thread, tiny_backbone


@pytest.fixture(autouse=True)
def one_torch_thread():
    with single_thread():
        yield


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """{"backbone": loaded tiny backbone, "ckpt": its dgan checkpoint, "folder": labelled folder of 6 own images}."""
    from dgan_cli import load_backbone
    from dgan_cli.labelled_folder import format_ids, write_folder
    from dgan_plugins.stylegan2.checkpoint import save_checkpoint

    root = tmp_path_factory.mktemp("handsoff")
    ckpt = save_checkpoint(root / "tiny.pt", tiny_backbone().generator)
    backbone = load_backbone(str(ckpt))
    with single_thread():
        images = own_images(backbone, range(100, 106))
    folder = write_folder(root / "real", format_ids(range(6)), images, colour_labels(images), LABEL_NAMES)
    return {"backbone": backbone, "ckpt": ckpt, "folder": folder, "images": images, "root": root}
