"""Real images for training (`--real`) and class-labelled images for the linear probe.

`--real DIR` is either a dgan labelled folder (labels are ignored) or a plain
folder of image files (.png .jpg .jpeg .bmp .webp, not recursive). Every image
is centre-cropped to a square and resized to the student's resolution.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dgan_cli.errors import DganError
from dgan_cli.labelled_folder import LabelledFolder
from dgan_cli.untrusted import read_image
from dgan_plugins.squeeze_span.batches import to_resolution

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def load_real_images(folder: Path, resolution: int) -> torch.Tensor:
    """uint8 [N, 3, R, R] from a labelled or plain image folder; DganError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DganError(f"{folder}: no such image folder")
    if (folder / "labels.json").exists():
        return _as_student_images(LabelledFolder(folder).read_all()[1], resolution)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DganError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)} files or a labelled folder)")
    return torch.cat([_as_student_images(_read_rgb(p)[None], resolution) for p in files])


def load_class_labelled(folder: Path, resolution: int) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(uint8 images [N, 3, R, R], int64 class labels [N], class names) of a labelled folder."""
    _, images, labels, names = LabelledFolder(Path(folder)).read_all()
    if "class" not in labels:
        raise DganError(f"{folder}: no image-level class labels (classes.json)",
                        hint="the linear probe needs a labelled folder with a 'class' label kind")
    return _as_student_images(images, resolution), torch.as_tensor(labels["class"]), list(names["class"]["names"])


def _read_rgb(path: Path) -> np.ndarray:
    return np.asarray(read_image(path).convert("RGB"))


def _as_student_images(images: np.ndarray, resolution: int) -> torch.Tensor:
    """uint8 NHWC of one size -> uint8 NCHW square crops at `resolution`."""
    height, width = images.shape[1:3]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    # A copy: decoded images are read-only arrays, and torch warns about wrapping one.
    x = torch.from_numpy(np.array(images[:, top:top + side, left:left + side]))
    x = x.permute(0, 3, 1, 2).float()
    return to_resolution(x, resolution).round().clamp(0, 255).to(torch.uint8)
