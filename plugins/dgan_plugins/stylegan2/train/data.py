"""Training images: a folder of same-size PNG/JPG files, or the toy renderer.

Both sources are indexed 0..len-1 and hand out uint8 NHWC batches. Which
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


class FolderImages:
    """Every image under `root` (recursive), decoded to RGB and held in memory.

    The whole folder is checked up front, so a bad file fails the command
    before any training time is spent, with the file named in the message.
    """

    def __init__(self, root: str | Path, progress=None):
        from PIL import Image

        self.root = Path(root)
        if not self.root.is_dir():
            raise DganError(f"image folder not found: {self.root}")
        files = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise DganError(f"no PNG/JPG images in {self.root}")
        arrays, first_size = [], None
        for path in files:
            try:
                with Image.open(path) as image:
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


class ToyImages:
    """The procedural toy world: index i is the image the renderer draws for seed
    GAN_SEED_START + i, a range disjoint from the labelled train/test splits.

    Rendered images are kept (when the pool fits in CACHE_BYTES) since every
    epoch revisits them and rendering costs about 10 ms per 64px image.
    """

    CACHE_BYTES = 1 << 30

    def __init__(self, count: int, resolution: int):
        if count < 1:
            raise DganError(f"--toy-images must be at least 1, got {count}")
        from dgan_plugins.toy.dataset import GAN_SEED_START
        from dgan_plugins.toy.render import LATENT_DIM, render_batch, render_latents

        self._render = lambda idx, res: render_batch([GAN_SEED_START + int(i) for i in idx], res)
        self._render_latents = render_latents
        self.latent_dim = LATENT_DIM
        self.first_seed = GAN_SEED_START
        self.count = count
        self.resolution = resolution
        self._cache = None
        if count * resolution * resolution * 3 <= self.CACHE_BYTES:
            self._cache = np.zeros((count, resolution, resolution, 3), dtype=np.uint8)
            self._cached = np.zeros(count, dtype=bool)

    def __len__(self) -> int:
        return self.count

    def describe(self) -> str:
        return f"toy renderer, seeds {self.first_seed}..{self.first_seed + self.count - 1} at {self.resolution}px"

    def render_latents(self, latents: np.ndarray) -> np.ndarray:
        """uint8 NHWC images the world draws at these latents (the paired objective's targets)."""
        return self._render_latents(latents, self.resolution)["images"]

    def batch(self, indices: Sequence[int]) -> np.ndarray:
        indices = np.asarray(indices)
        if self._cache is None:
            return self._render(indices, self.resolution)["images"]
        missing = np.unique(indices[~self._cached[indices]])
        if len(missing):
            self._cache[missing] = self._render(missing, self.resolution)["images"]
            self._cached[missing] = True
        return self._cache[indices]


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
