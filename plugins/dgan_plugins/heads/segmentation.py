"""The `segmentation` head: per-pixel classes, cross-entropy, majority vote, JS uncertainty.

Labels are int16 [H, W] class indices, -1 = ignore (unlabelled pixels are
never trained on). Training pixels: every class present in an image is
sampled at least once (class-balanced quotas with `balanced=True`), the rest
uniformly over labelled pixels. `class_weights` ("eyebrow:4,nose:2") scales a
class's cross-entropy: where every pixel of a small image is already a
training pixel, quotas change nothing and only a weight makes a thin class
count. The ensemble's label is the per-pixel
majority vote of the members' argmax (ties go to the lower class index); its
uncertainty map is the per-pixel Jensen-Shannon divergence of the members'
softmax distributions.
"""
from __future__ import annotations

import math

import numpy as np

from dgan_cli import hookimpl
from dgan_cli.errors import DganError
from dgan_cli.specs import HeadSpec
from dgan_plugins.heads.draw import draw_segmentation
from dgan_plugins.heads.evaluation import segmentation_evaluation

IGNORE = -1


class SegmentationHead:
    name = "segmentation"

    def __init__(self, label_names, balanced: bool = False, class_weights=None):
        self.label_names = [str(n) for n in label_names]
        if len(self.label_names) < 2:
            raise ValueError("segmentation needs at least 2 class names (background included)")
        self.num_outputs = len(self.label_names)
        self.balanced = bool(balanced)
        self.class_weights = parse_class_weights(class_weights, self.label_names)
        self._weights = None
        if self.class_weights:
            import torch

            self._weights = torch.tensor([self.class_weights.get(n, 1.0) for n in self.label_names])

    def label_schema(self, image_hw):
        from dgan_cli.cache import LabelSchema

        return LabelSchema(shape=tuple(image_hw), dtype="int16", fill=IGNORE, attrs={"names": self.label_names})

    def sample_pixels(self, label, n, rng, image_hw=None):
        label = np.asarray(label)
        ys, xs = np.nonzero(label != IGNORE)
        classes = label[ys, xs]
        if classes.size and (classes.min() < 0 or classes.max() >= self.num_outputs):
            bad = int(classes.max() if classes.max() >= self.num_outputs else classes.min())
            raise DganError(f"segmentation label id {bad} out of range (0..{self.num_outputs - 1}, -1 = ignore)")
        if len(ys) <= n:
            return ys, xs
        present = np.unique(classes)
        quota = max(1, n // len(present)) if self.balanced else 1
        chosen = [rng.choice(np.flatnonzero(classes == c), size=min(quota, int((classes == c).sum())),
                             replace=False) for c in present]
        chosen = np.concatenate(chosen)[:n]
        rest = np.setdiff1d(np.arange(len(ys)), chosen)
        extra = rng.choice(rest, size=n - len(chosen), replace=False)
        pick = np.sort(np.concatenate([chosen, extra]))
        return ys[pick], xs[pick]

    def pixel_targets(self, label, ys, xs):
        return np.asarray(label)[ys, xs].astype(np.float32)[:, None]

    def loss(self, outputs, targets):
        import torch.nn.functional as F

        weight = None if self._weights is None else self._weights.to(outputs)  # no copy when already there
        return F.cross_entropy(outputs, targets[:, 0].long(), weight=weight)

    def metrics(self, outputs, targets):
        return {"accuracy": float((outputs.argmax(1) == targets[:, 0].long()).float().mean())}

    def combine(self, outputs):
        import torch

        from dgan_cli.interpreter.uncertainty import js_divergence

        votes = outputs.max(1).indices  # [M, H, W]; max() is much faster than argmax() over a middle dim
        counts = torch.zeros(outputs.shape[1:], dtype=torch.int32, device=outputs.device)
        counts.scatter_add_(0, votes, torch.ones_like(votes, dtype=torch.int32))
        label = counts.max(0).indices.to(torch.int16)  # the first maximum: ties -> lower class index
        return label.cpu().numpy(), js_divergence(outputs).cpu().numpy().astype(np.float32)

    def config(self):
        config = {"balanced": self.balanced}
        if self.class_weights:
            config["class_weights"] = dict(self.class_weights)
        return config


def parse_class_weights(value, names) -> dict:
    """'eyebrow:4,nose:2' or {"eyebrow": 4} -> {name: weight > 0}; unnamed classes weigh 1."""
    if value is None or value == "" or value == {}:
        return {}
    if isinstance(value, str):
        pairs = []
        for item in value.split(","):
            name, sep, weight = item.partition(":")
            if not sep:
                raise ValueError(f"class_weights expects NAME:WEIGHT pairs such as eyebrow:4, got '{item}'")
            pairs.append((name.strip(), weight.strip()))
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        raise ValueError(f"class_weights expects NAME:WEIGHT pairs such as eyebrow:4, got {value!r}")
    weights = {}
    for name, weight in pairs:
        if name not in names:
            raise ValueError(f"class_weights: no class '{name}' (classes: {', '.join(names)})")
        try:
            w = float(weight)
        except (TypeError, ValueError):
            w = 0.0  # reported as not a positive number below
        if not (w > 0 and math.isfinite(w)):
            raise ValueError(f"class_weights: the weight of '{name}' must be a positive number, got '{weight}'")
        weights[name] = w
    return weights


def build(label_names=(), **options):
    return SegmentationHead(label_names, **options)


@hookimpl
def dgan_heads():
    return [HeadSpec(name="segmentation", build=build, draw=draw_segmentation, evaluation=segmentation_evaluation,
                     summary="Part/semantic segmentation: cross-entropy, majority vote, JS-divergence uncertainty")]
