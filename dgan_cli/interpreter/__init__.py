"""The style interpreter: per-pixel MLP ensembles shared by every head.

- `ensemble`: the members (Linear-ReLU-BN x2, Linear) and their init;
- `training`: training from a cache with pixels sampled per image by the head;
- `fast`: whole-image inference with the first layer at native resolution
  (and the naive reference path);
- `checkpoint`: the `Interpreter` bundle (ensemble + head + provenance), saved
  as a weights-only torch file;
- `uncertainty`: JS divergence and image-score aggregation.

Importing this package imports torch: command bodies import it, plugin
modules do not at import time.
"""
from dgan_cli.interpreter.checkpoint import Interpreter
from dgan_cli.interpreter.ensemble import Ensemble, default_hidden
from dgan_cli.interpreter.fast import FastEnsemble, naive_outputs
from dgan_cli.interpreter.training import MemberReport, TrainOptions, train_ensemble
from dgan_cli.interpreter.uncertainty import AGGREGATIONS, aggregate, js_divergence

__all__ = ["AGGREGATIONS", "Ensemble", "FastEnsemble", "Interpreter", "MemberReport", "TrainOptions",
           "aggregate", "default_hidden", "js_divergence", "naive_outputs", "train_ensemble"]
