"""What `dgan eval` trains and scores for the built-in heads (their `HeadSpec.evaluation`).

The tasks themselves live with the downstream networks in dgan_plugins.evaluate.tasks;
these factories pick each head's settings from the training set and eval's options.
"""
from __future__ import annotations

import numpy as np

from dgan_cli.errors import DganError


def segmentation_evaluation(train_labels, names, **options):
    from dgan_plugins.evaluate.tasks import SegmentationTask

    return SegmentationTask(names)


def keypoints_evaluation(train_labels, names, image_hw, sigma=None, pck_norm="image", **options):
    """Heatmap sigma: `--sigma`, else 2.5% of the image side (at least 1 px)."""
    from dgan_plugins.evaluate.tasks import KeypointTask

    return KeypointTask(names, sigma if sigma is not None else max(1.0, 0.025 * max(image_hw)), pck_norm)


def depth_evaluation(train_labels, names, **options):
    from dgan_plugins.evaluate.tasks import DepthTask

    if not np.isfinite(train_labels).any():
        raise DganError("no valid depth pixels to train on")
    return DepthTask.fitted(train_labels)
