"""A cache-writing job for the crash tests: deterministic rows, a pause after each batch."""
import sys
import time

import numpy as np

from dgan_cli.cache import CacheSpec, CacheWriter, LabelSchema
from dgan_cli.types import LayerInfo

LAYERS = (LayerInfo("b4.conv1", 6, 4), LayerInfo("b8.conv0", 3, 8))
SPEC = CacheSpec(image_shape=(16, 16, 3), layers=LAYERS, latents={"ws": (3, 4)},
                 provenance={"backbone": {"name": "fake", "sha256": "00ff"}, "seed": 7})


def batch(i: int) -> dict:
    rng = np.random.default_rng(i)
    return dict(images=rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8),
                seeds=[2 * i, 2 * i + 1],
                latents={"ws": rng.normal(size=(2, 3, 4))},
                features={l.name: rng.normal(size=(2, l.channels, l.resolution, l.resolution)) for l in LAYERS},
                labels={"segmentation": rng.integers(0, 3, (2, 16, 16))})


def run(path: str, batches: int, pause: float) -> None:
    writer = CacheWriter.open(path, SPEC)
    writer.declare_labels("segmentation", LabelSchema((16, 16), "int16", -1, {"classes": ["a", "b", "c"]}))
    for i in range(writer.count // 2, batches):
        writer.append(**batch(i))
        print(f"committed {writer.count}", flush=True)
        time.sleep(pause)
    writer.finish()


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]))
