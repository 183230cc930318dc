"""Training images: a folder of same-size PNG/JPG files, or a registered data source (`toy`).

Every source is indexed 0..len-1 and hands out uint8 NHWC batches. Which
indices a step uses depends only on (seed, step): the images are shuffled
once per epoch with a permutation seeded by (seed, epoch), so a resumed run
sees exactly the images the uninterrupted run would have seen.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from dgan_cli.errors import DganError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# PIL modes of label images: masks are palette or 1-bit, depth maps 16/32-bit integer or float.
NOT_PHOTOS = {"P": "palette", "PA": "palette", "1": "1-bit", "I;16": "16-bit", "I;16B": "16-bit",
              "I;16L": "16-bit", "I": "32-bit integer", "F": "float"}


class FolderImages:
    """The photos of `root`, decoded to RGB and held in memory.

    Which files: a dgan labelled folder (labels.json and images/) gives its
    images/ only; any other folder gives its own PNG/JPG files, and subfolders
    are not searched (masks, depth maps and other labels often live there).
    Palette, 16-bit and float images are refused: they are masks or depth
    maps, not photos. The whole folder is checked up front, so a bad file fails
    the command before any training time is spent, with the file named.
    """

    def __init__(self, root: str | Path, progress=None):
        from PIL import Image

        self.root = Path(root)
        if not self.root.is_dir():
            raise DganError(f"image folder not found: {self.root}")
        folder = self.root / "images" if (self.root / "labels.json").is_file() else self.root
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()) \
            if folder.is_dir() else []
        if not files:
            nested = next((p for p in sorted(self.root.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES), None)
            raise DganError(f"no PNG/JPG images in {folder}",
                            hint=f"subfolders are not searched; found {nested.parent}" if nested else None)
        arrays, first_size = [], None
        for path in files:
            try:
                with Image.open(path) as image:
                    if image.mode in NOT_PHOTOS:
                        raise DganError(f"{path}: a {NOT_PHOTOS[image.mode]} image (mode {image.mode}), not a photo",
                                        hint="masks and depth maps do not belong in --data; convert real "
                                             "photos to RGB")
                    array = np.asarray(image.convert("RGB"))
            # PIL reports damaged files as OSError, SyntaxError or ValueError depending on the format.
            except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
                raise DganError(f"unreadable image {path}: {error}") from None
            size = (array.shape[1], array.shape[0])
            if first_size is None:
                first_size = size
            elif size != first_size:
                raise DganError(
                    f"images differ in size: {files[0].name} is {first_size[0]}x{first_size[1]}, "
                    f"{path.relative_to(self.root)} is {size[0]}x{size[1]}",
                    hint="resize them all to one square power-of-two size first",
                )
            arrays.append(array)
            if progress is not None:
                progress(1)
        width, height = first_size
        if width != height or width < 4 or width & (width - 1):
            raise DganError(
                f"images in {self.root} are {width}x{height}; training needs square images "
                "with a power-of-two side of at least 4"
            )
        self.resolution = width
        self.images = np.stack(arrays)  # [N, H, W, 3] uint8

    def __len__(self) -> int:
        return len(self.images)

    def describe(self) -> str:
        return f"{len(self)} images in {self.root}"

    def batch(self, indices: Sequence[int]) -> np.ndarray:
        return self.images[np.asarray(indices)]


class EpochSampler:
    """Maps a step to the dataset indices of its batch (shuffled epochs, no state)."""

    def __init__(self, size: int, batch: int, seed: int):
        self.size, self.batch, self.seed = size, batch, seed
        self._permutations: dict[int, np.ndarray] = {}

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch not in self._permutations:
            if len(self._permutations) > 2:  # only the current and next epoch are ever needed
                self._permutations.pop(min(self._permutations))
            rng = np.random.default_rng([self.seed, epoch])
            self._permutations[epoch] = rng.permutation(self.size)
        return self._permutations[epoch]

    def indices(self, step: int) -> np.ndarray:
        positions = np.arange(step * self.batch, (step + 1) * self.batch)
        epochs, offsets = np.divmod(positions, self.size)
        return np.array([self._permutation(int(e))[o] for e, o in zip(epochs, offsets)])


def to_float_images(batch: np.ndarray, device) -> "torch.Tensor":
    """uint8 NHWC -> float32 NCHW in [-1, 1] on `device`."""
    import torch

    images = torch.from_numpy(np.ascontiguousarray(batch)).to(device)
    return images.permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1


def __getattr__(name: str):
    # bench/train.py imports ToyImages from here; it now lives with the toy plugin, imported only on use.
    if name == "ToyImages":
        from dgan_plugins.toy import ToyImages

        return ToyImages
    raise AttributeError(name)
