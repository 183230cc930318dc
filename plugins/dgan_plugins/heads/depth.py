"""The `depth` head: per-pixel depth regression, ensemble mean, ensemble variance as uncertainty.

Labels are float32 [H, W], NaN = unlabelled (never trained on). Losses:

- `l1`: |prediction - depth|; members predict depth directly.
- `scale-invariant` (Eigen et al. 2014): members predict log depth; with
  d = prediction - log(depth) over a batch of pixels the loss is
  mean(d^2) - lambda * mean(d)^2 (`si_lambda`, 0.5 by default; 1 would leave
  the global scale free). Needs positive depths.

`combine` returns the mean of the members' depths and their variance.

`coverage=true` also learns where a depth exists: a second per-pixel output,
a logit of "labelled", trained with binary cross-entropy on every pixel
(labelled or not). Where the members' mean probability is below 0.5 the
synthetic label stays unlabelled (NaN), as the training labels leave a
backdrop or the sky; without it the members extrapolate depths there that no
one labelled (the toy world's HandsOff set: -0.2 to 57 units behind heads
at about 4).
"""
from __future__ import annotations

import numpy as np

from dgan_cli import hookimpl
from dgan_cli.errors import DganError
from dgan_cli.specs import HeadSpec
from dgan_plugins.heads.draw import draw_depth
from dgan_plugins.heads.evaluation import depth_evaluation

LOSSES = ("l1", "scale-invariant")


class DepthHead:
    name = "depth"

    def __init__(self, label_names=("depth",), loss: str = "l1", si_lambda: float = 0.5, coverage: bool = False):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got '{loss}'")
        if not isinstance(coverage, bool):
            raise ValueError(f"coverage must be true or false, got '{coverage}'")
        self.label_names = [str(n) for n in label_names] or ["depth"]
        self.loss_name, self.si_lambda, self.coverage = loss, float(si_lambda), coverage
        self.num_outputs = 2 if coverage else 1

    def label_schema(self, image_hw):
        from dgan_cli.cache import LabelSchema

        return LabelSchema(shape=tuple(image_hw), dtype="float32", fill=float("nan"),
                           attrs={"names": self.label_names})

    def sample_pixels(self, label, n, rng, image_hw=None):
        label = np.asarray(label)
        labelled = np.isfinite(label)
        if self.loss_name == "scale-invariant":
            if (label[labelled] <= 0).any():
                raise DganError("depth labels must be positive for the scale-invariant loss")
        # with coverage the unlabelled pixels are training pixels too (their target is "unlabelled")
        ys, xs = np.nonzero(np.ones_like(labelled) if self.coverage else labelled)
        if len(ys) <= n:
            return ys, xs
        pick = np.sort(rng.choice(len(ys), size=n, replace=False))
        return ys[pick], xs[pick]

    def pixel_targets(self, label, ys, xs):
        return np.asarray(label)[ys, xs].astype(np.float32)[:, None]

    def loss(self, outputs, targets):
        import torch
        from torch.nn import functional as F

        labelled = torch.isfinite(targets[:, 0])
        loss = self._depth_loss(outputs[labelled, :1], targets[labelled]) if labelled.any() else outputs.sum() * 0
        if self.coverage:
            loss = loss + F.binary_cross_entropy_with_logits(outputs[:, 1], labelled.to(outputs.dtype))
        return loss

    def _depth_loss(self, outputs, targets):
        if self.loss_name == "l1":
            return (outputs - targets).abs().mean()
        d = outputs - targets.log()
        return (d ** 2).mean() - self.si_lambda * d.mean() ** 2

    def depth(self, outputs):
        """Member outputs -> depth in label units."""
        return outputs.exp() if self.loss_name == "scale-invariant" else outputs

    def metrics(self, outputs, targets):
        import torch

        labelled = torch.isfinite(targets[:, 0])
        found = {"abs_error": float((self.depth(outputs[labelled, :1]) - targets[labelled]).abs().mean())}
        if self.coverage:
            found["coverage_accuracy"] = float(((outputs[:, 1] > 0) == labelled).float().mean())
        return found

    def combine(self, outputs):
        outputs = outputs.float()
        depths = self.depth(outputs[:, 0])  # [M, H, W]
        mean = depths.mean(0)
        spread = depths - mean  # in place below: var() would allocate several [M, H, W] temporaries
        spread.square_()
        variance = spread.mean(0)
        if self.coverage:
            unlabelled = outputs[:, 1].sigmoid().mean(0) < 0.5
            mean[unlabelled] = float("nan")
            variance[unlabelled] = float("nan")  # the filter and --ignore-above score labelled pixels only
        return mean.cpu().numpy().astype(np.float32), variance.cpu().numpy().astype(np.float32)

    def config(self):
        return {"loss": self.loss_name, "si_lambda": self.si_lambda, "coverage": self.coverage}


def build(label_names=(), **options):
    return DepthHead(label_names or ("depth",), **options)


@hookimpl
def dgan_heads():
    return [HeadSpec(name="depth", build=build, draw=draw_depth, evaluation=depth_evaluation,
                     summary="Depth: per-pixel regression (L1 or scale-invariant), ensemble mean and variance")]
