"""`dgan toy fid`: how close a generator's images are to the toy world, in the toy classifier's features.

Three image sets of n images each: generated (seeds SEED.., truncation psi),
real (rendered, seeds REAL_SEED..; by default the first images the toy GAN is
trained on) and a second, disjoint real set (the next n seeds). FID of
generated vs real is the score; FID of real vs real is its floor, the value a
perfect generator would get at this n (FID is biased upwards at small n).
The classifier's accuracy on the real images says how far to trust its
features; the class histogram it assigns to the generated images is a cheap
mode-coverage check (the real world has 25% of each class).
"""
from __future__ import annotations

import numpy as np

from dgan_cli.console import progress
from dgan_plugins.toy.classifier import ToyClassifier, class_counts, embed, render_labelled
from dgan_plugins.toy.fid import FeatureStats, frechet_distance
from dgan_plugins.toy.gan_images import generate_images
from dgan_plugins.toy.render import OBJECT_CLASSES


def fid_report(backbone, classifier: ToyClassifier, *, n: int, seed: int, truncation: float, real_seed: int,
               batch: int) -> dict:
    resolution = backbone.resolution
    real, real_classes = _render(range(real_seed, real_seed + n), resolution, "Rendering the real set")
    floor, _ = _render(range(real_seed + n, real_seed + 2 * n), resolution, "Rendering the second real set")
    fake = generate_images(backbone, range(seed, seed + n), truncation, batch)
    with progress("Classifier features", total=3 * n) as bar:
        real_features, real_predicted = embed(classifier, real, advance=bar.advance)
        floor_features, _ = embed(classifier, floor, advance=bar.advance)
        fake_features, fake_predicted = embed(classifier, fake, advance=bar.advance)
    real_stats = FeatureStats.of(real_features)
    counts = class_counts(fake_predicted)
    return {"fid": frechet_distance(FeatureStats.of(fake_features), real_stats),
            "fid_real_vs_real": frechet_distance(FeatureStats.of(floor_features), real_stats),
            "n": n, "feature_dim": int(real_features.shape[1]),
            "classifier_accuracy_real": float((real_predicted == real_classes).mean()),
            "generated_class_counts": dict(zip(OBJECT_CLASSES, counts.tolist())),
            "generated_class_fractions": dict(zip(OBJECT_CLASSES, (counts / n).tolist())),
            "generated_seeds": [seed, seed + n - 1], "real_seeds": [real_seed, real_seed + n - 1],
            "second_real_seeds": [real_seed + n, real_seed + 2 * n - 1], "truncation_psi": truncation,
            "backbone": {k: backbone.identity().get(k) for k in ("name", "sha256")}, "resolution": resolution}


def _render(seeds: range, resolution: int, description: str) -> tuple[np.ndarray, np.ndarray]:
    with progress(description, total=len(seeds)) as bar:
        return render_labelled(seeds, resolution, bar.advance)
