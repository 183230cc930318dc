"""HandsOff test helpers: a tiny random StyleGAN2, its own images, labels that follow the pixels."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch

TINY = dict(z_dim=16, c_dim=0, w_dim=16, img_resolution=16, img_channels=3,
            mapping_kwargs=dict(num_layers=2), synthesis_kwargs=dict(channel_base=256, channel_max=16))
CLASSES = ["red", "green", "blue"]
KEYPOINTS = ["a", "b"]


@contextmanager
def single_thread():
    """Tiny tensors gain nothing from threads, and on a busy machine two threads thrash."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def tiny_backbone(seed: int = 0):
    from dgan_plugins.stylegan2.backbone import StyleGAN2Backbone
    from dgan_plugins.stylegan2.networks import Generator

    torch.manual_seed(seed)
    return StyleGAN2Backbone(Generator(**TINY).eval().requires_grad_(False))


def own_images(backbone, seeds, truncation_psi: float = 1.0) -> np.ndarray:
    """uint8 [N, R, R, 3] images the backbone makes for these seeds."""
    from dgan_plugins.pipeline.sample import to_uint8

    with torch.no_grad():
        ws = backbone.sample(list(seeds), truncation_psi=truncation_psi)["ws"]
        return to_uint8(backbone.synthesize(ws, layers=[])[0])


def colour_labels(images: np.ndarray) -> dict:
    """Labels that follow the pixels: segmentation = dominant channel, depth = brightness, 2 keypoints."""
    n, h, w, _ = images.shape
    keypoints = np.tile(np.array([[2.5, 3.5, 1], [w - 1.5, h - 4.5, 1]], np.float32), (n, 1, 1))
    return {"segmentation": images.argmax(axis=3).astype(np.uint8),
            "depth": images.astype(np.float32).mean(axis=3) / 255.0,
            "keypoints": keypoints}


LABEL_NAMES = {"segmentation": {"classes": CLASSES}, "keypoints": {"names": KEYPOINTS},
               "depth": {"unit": "brightness", "far": 1.0}}
