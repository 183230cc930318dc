"""The toy world: a procedural labelled-image renderer (`dgan toy render`), the
`toy` backbone, a small StyleGAN2 trained by dgan on the renderer's images, and
`toy`, the data source `dgan backbone train --data toy` trains it on.

Cheap to import: the command module, numpy and torch load only when used.
"""
from pathlib import Path

from dgan_cli.hookspecs import hookimpl
from dgan_cli.specs import BackboneSpec, CommandSpec, DataSourceSpec

# Reproduced by recipes/toy/backbone.toml (the G_ema of that run, dgan format).
TOY_WEIGHTS = Path(__file__).parent / "weights" / "toy64.pt"
# Training images of the toy GAN: 20,000 renders at 64px unless --toy-images / --resolution say otherwise.
TOY_IMAGES, TOY_RESOLUTION = 20000, 64
# The annotator stand-in (recipes/toy/annotations.toml, stage train-annotator).
ANNOTATOR_WEIGHTS = Path(__file__).parent / "weights" / "annotator.pt"


def load_toy(source, device="cpu"):
    from dgan_cli.errors import CheckpointError

    if source is not None:
        raise CheckpointError("the toy backbone ships its own weights; pass no checkpoint file")
    if not TOY_WEIGHTS.is_file():
        raise CheckpointError(f"the toy backbone's weights are missing ({TOY_WEIGHTS})",
                              hint="reinstall dgan, or train them with `dgan run recipes/toy/backbone.toml`")
    from dgan_plugins.stylegan2.backbone import load_backbone_file

    return load_backbone_file(TOY_WEIGHTS, device=device)


@hookimpl
def dgan_backbones():
    return [BackboneSpec(name="toy", load=load_toy,
                         summary="64px StyleGAN2 trained by dgan on the toy world (shipped with dgan)")]


@hookimpl
def dgan_commands():
    from dgan_plugins.toy.cli import app

    return [CommandSpec(name="toy", app=app, summary="The toy world: labelled images with known ground truth.")]


def open_toy_images(resolution=None, count=None):
    return ToyImages(TOY_IMAGES if count is None else count, resolution or TOY_RESOLUTION)


@hookimpl
def dgan_data_sources():
    return [DataSourceSpec(name="toy", open=open_toy_images,
                           summary="The toy renderer's images (seeds disjoint from the labelled splits); "
                                   "renders latents for --objective paired")]


class ToyImages:
    """The procedural toy world: index i is the image the renderer draws for seed
    GAN_SEED_START + i, a range disjoint from the labelled train/test splits.

    Rendered images are kept (when the pool fits in CACHE_BYTES) since every
    epoch revisits them and rendering costs about 10 ms per 64px image.
    """

    CACHE_BYTES = 1 << 30

    def __init__(self, count: int, resolution: int):
        import numpy as np

        from dgan_cli.errors import DganError
        from dgan_plugins.toy.dataset import GAN_SEED_START

        if count < 1:
            raise DganError(f"--toy-images must be at least 1, got {count}")
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

    def render_latents(self, latents):
        """uint8 NHWC images the world draws at these latents (the paired objective's targets)."""
        return self._render_latents(latents, self.resolution)["images"]

    def batch(self, indices):
        import numpy as np

        indices = np.asarray(indices)
        if self._cache is None:
            return self._render(indices, self.resolution)["images"]
        missing = np.unique(indices[~self._cached[indices]])
        if len(missing):
            self._cache[missing] = self._render(missing, self.resolution)["images"]
            self._cached[missing] = True
        return self._cache[indices]
