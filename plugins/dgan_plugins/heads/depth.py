"""The `depth` head: per-pixel depth regression, ensemble mean, ensemble variance as uncertainty.

Labels are float32 [H, W], NaN = unlabelled (never trained on). Losses:

- `l1`: |prediction - depth|; members predict depth directly.
- `scale-invariant` (Eigen et al. 2014): members predict log depth; with
  d = prediction - log(depth) over a batch of pixels the loss is
  mean(d^2) - lambda * mean(d)^2 (`si_lambda`, 0.5 by default; 1 would leave
  the global scale free). Needs positive depths.

`combine` returns the mean of the members' depths and their variance.
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
    num_outputs = 1

    def __init__(self, label_names=("depth",), loss: str = "l1", si_lambda: float = 0.5):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got '{loss}'")
        self.label_names = [str(n) for n in label_names] or ["depth"]
        self.loss_name, self.si_lambda = loss, float(si_lambda)

    def label_schema(self, image_hw):
        from dgan_cli.cache import LabelSchema

        return LabelSchema(shape=tuple(image_hw), dtype="float32", fill=float("nan"),
                           attrs={"names": self.label_names})

    def sample_pixels(self, label, n, rng, image_hw=None):
        label = np.asarray(label)
        usable = np.isfinite(label)
        if self.loss_name == "scale-invariant":
            if (label[usable] <= 0).any():
                raise DganError("depth labels must be positive for the scale-invariant loss")
        ys, xs = np.nonzero(usable)
        if len(ys) <= n:
            return ys, xs
        pick = np.sort(rng.choice(len(ys), size=n, replace=False))
        return ys[pick], xs[pick]

    def pixel_targets(self, label, ys, xs):
        return np.asarray(label)[ys, xs].astype(np.float32)[:, None]

    def loss(self, outputs, targets):
        if self.loss_name == "l1":
            return (outputs - targets).abs().mean()
        d = outputs - targets.log()
        return (d ** 2).mean() - self.si_lambda * d.mean() ** 2

    def depth(self, outputs):
        """Member outputs -> depth in label units."""
        return outputs.exp() if self.loss_name == "scale-invariant" else outputs

    def metrics(self, outputs, targets):
        return {"abs_error": float((self.depth(outputs) - targets).abs().mean())}

    def combine(self, outputs):
        depths = self.depth(outputs.float()[:, 0])  # [M, H, W]
        mean = depths.mean(0)
        spread = depths - mean  # in place below: var() would allocate several [M, H, W] temporaries
        spread.square_()
        return mean.cpu().numpy().astype(np.float32), spread.mean(0).cpu().numpy().astype(np.float32)

    def config(self):
        return {"loss": self.loss_name, "si_lambda": self.si_lambda}


def build(label_names=(), **options):
    return DepthHead(label_names or ("depth",), **options)


@hookimpl
def dgan_heads():
    return [HeadSpec(name="depth", build=build, draw=draw_depth, evaluation=depth_evaluation,
                     summary="Depth: per-pixel regression (L1 or scale-invariant), ensemble mean and variance")]
