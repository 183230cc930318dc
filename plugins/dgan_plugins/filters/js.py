"""The `js` filter: drop the samples the interpreter ensembles disagree on most.

A sample's score for one head is its uncertainty map aggregated over pixels:
for segmentation the per-pixel Jensen-Shannon divergence of the members
(DatasetGAN), for other heads their own uncertainty map (keypoint heatmap or
depth variance). `aggregate` is "sum" (the paper) or "top10-mean" (mean of
the 10% most uncertain pixels, the reference code). With several heads, each
sample's per-head ranks (0 = most certain, 1 = least) are averaged, and the
`drop` fraction with the highest mean rank is removed (ties: the later sample
goes first). Unlike the reference code, the most certain samples are kept.
"""
from __future__ import annotations

import numpy as np

from dgan_cli import hookimpl
from dgan_cli.specs import FilterSpec


class JSFilter:
    name = "js"

    def __init__(self, aggregate: str = "sum"):
        from dgan_cli.interpreter.uncertainty import AGGREGATIONS

        if aggregate not in AGGREGATIONS:
            raise ValueError(f"aggregate must be one of {', '.join(AGGREGATIONS)}, got '{aggregate}'")
        self.aggregate = aggregate

    def score(self, uncertainty_map, label) -> float:
        from dgan_cli.interpreter.uncertainty import aggregate

        return aggregate(uncertainty_map, self.aggregate)

    def keep(self, scores, drop: float) -> np.ndarray:
        scores = np.asarray(scores, dtype=np.float64)
        scores = scores[:, None] if scores.ndim == 1 else scores
        n = len(scores)
        n_drop = int(round(float(drop) * n))
        if n == 0 or n_drop == 0:
            return np.ones(n, dtype=bool)
        ranks = np.empty_like(scores)
        for h in range(scores.shape[1]):  # NaN scores sort last: treated as the least certain
            ranks[np.argsort(scores[:, h], kind="stable"), h] = np.arange(n) / max(1, n - 1)
        order = np.lexsort((np.arange(n), ranks.mean(1)))  # by mean rank, then index: later goes first
        keep = np.ones(n, dtype=bool)
        keep[order[n - n_drop:]] = False
        return keep

    def config(self) -> dict:
        return {"aggregate": self.aggregate}


def build(**options):
    return JSFilter(**options)


@hookimpl
def dgan_filters():
    return [FilterSpec(name="js", build=build,
                       summary="Drop the samples whose interpreter ensembles disagree most (JS divergence)")]
