"""`dgan toy fidelity`: does a generator draw every labelled part as often and as large as the world?

One labeller measures both sides: the annotator stand-in labels N generator
samples and the `test` split's rendered images, so its own errors cancel in
the ratios. Per part class:

- pixel_ratio: share of pixels of the class in generated images / in real ones;
- presence_ratio: share of images that contain the class (at least
  PRESENT_PIXELS pixels at 64 px, scaled with the area) / the same in real ones.

Per image class (human, cat, ...), the share of generated images the toy
classifier assigns to it / the same share of the test images: a generator
that turns one species into another shows here before it shows in the parts
only that species has.

Also the annotator's mIoU against the test split's ground truth (how far to
trust those labels), the real shares from the ground truth itself, and the
toy-classifier FID of the samples against the same test images, with the
floor of a rendered set of the same size (the `full` split's first images).
"""
from __future__ import annotations

import numpy as np

from dgan_cli.console import progress
from dgan_plugins.toy.annotator_train import score_annotator
from dgan_plugins.toy.classifier import class_counts, embed, render_labelled
from dgan_plugins.toy.dataset import split_seeds
from dgan_plugins.toy.fid import FeatureStats, frechet_distance
from dgan_plugins.toy.gan_images import generate_images
from dgan_plugins.toy.render import OBJECT_CLASSES, PART_CLASSES, render_batch

PRESENT_PIXELS = 4  # at 64 px; fewer is labelling noise, not a drawn part
RENDER_CHUNK = 256


def class_shares(segmentation: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(pixel share, share of images containing it) of each class in uint8 masks [N, H, W]."""
    n, h, w = segmentation.shape
    counts = np.stack([np.bincount(m.ravel(), minlength=num_classes)[:num_classes] for m in segmentation])
    least = max(1, round(PRESENT_PIXELS * h * w / 64 ** 2))
    return counts.sum(0) / (n * h * w), (counts >= least).mean(0)


def fidelity_report(backbone, annotator, classifier, *, n: int, seed: int, truncation: float, batch: int,
                    test_images: int = 500) -> dict:
    resolution = backbone.resolution
    test = _render(split_seeds("test")[:test_images], resolution, "Rendering the test split")
    fake = generate_images(backbone, range(seed, seed + n), truncation, batch)
    annotator_scores = score_annotator(annotator, test)
    real_pixels, real_present = class_shares(annotator.predict(test["images"]).segmentation, len(PART_CLASSES))
    fake_pixels, fake_present = class_shares(annotator.predict(fake).segmentation, len(PART_CLASSES))
    truth_pixels, truth_present = class_shares(test["segmentation"], len(PART_CLASSES))
    classes = {}
    for k, name in enumerate(PART_CLASSES):
        classes[name] = {
            "pixel_ratio": _ratio(fake_pixels[k], real_pixels[k]),
            "presence_ratio": _ratio(fake_present[k], real_present[k]),
            "generated_pixel_share": float(fake_pixels[k]), "real_pixel_share": float(real_pixels[k]),
            "generated_presence": float(fake_present[k]), "real_presence": float(real_present[k]),
            "truth_pixel_share": float(truth_pixels[k]), "truth_presence": float(truth_present[k])}
    floor_images, _ = render_labelled(split_seeds("full")[:min(n, 5000)], resolution)
    with progress("Classifier features", total=len(test["images"]) + n + len(floor_images)) as bar:
        real_features, real_kind = embed(classifier, test["images"], advance=bar.advance)
        fake_features, fake_kind = embed(classifier, fake, advance=bar.advance)
        floor_features, _ = embed(classifier, floor_images, advance=bar.advance)
    real_stats = FeatureStats.of(real_features)
    real_share, fake_share = (class_counts(k) / len(k) for k in (real_kind, fake_kind))
    object_classes = {name: {"share_ratio": _ratio(fake_share[k], real_share[k]),
                             "generated_share": float(fake_share[k]), "real_share": float(real_share[k])}
                      for k, name in enumerate(OBJECT_CLASSES)}
    return {"classes": classes, "object_classes": object_classes, "annotator_miou": annotator_scores["miou"],
            "annotator_per_class_iou": annotator_scores["per_class_iou"],
            "fid": frechet_distance(FeatureStats.of(fake_features), real_stats),
            "fid_floor": frechet_distance(FeatureStats.of(floor_features), real_stats),
            "n": n, "seeds": [seed, seed + n - 1], "truncation_psi": truncation, "test_images": len(test["images"]),
            "present_pixels": PRESENT_PIXELS, "resolution": resolution,
            "backbone": {k: backbone.identity().get(k) for k in ("name", "sha256")}}


def _ratio(generated: float, real: float) -> float | None:
    """generated / real; None where the real world never shows the class (no ratio exists)."""
    return float(generated / real) if real > 0 else None


def _render(seeds, resolution: int, description: str) -> dict:
    with progress(description, total=len(seeds)) as bar:
        parts = []
        for lo in range(0, len(seeds), RENDER_CHUNK):
            parts.append(render_batch(seeds[lo:lo + RENDER_CHUNK], resolution))
            bar.advance(len(parts[-1]["images"]))
    return {k: np.concatenate([p[k] for p in parts]) for k in ("images", "segmentation", "keypoints", "depth")}
