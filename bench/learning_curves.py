"""Downstream learning curves (test metric against step) of `dgan eval --curve-every N` runs, as one plot.

    python bench/learning_curves.py LABEL=EVAL.json... --plot docs/x.png [--metric miou] [--title T]

Each EVAL.json is written by `dgan eval ... --curve-every N --json EVAL.json`;
its `curve` holds the test metrics every N steps of that run's schedule (the
cosine decay spans the whole run, so a point is not the result of a shorter
run). The table printed beside the plot gives each run's final value.
"""
from __future__ import annotations

import argparse
import json

from dgan_cli.plot import Series, line_chart


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="LABEL=EVAL.json")
    parser.add_argument("--plot", required=True)
    parser.add_argument("--metric", default="miou")
    parser.add_argument("--title", default="downstream learning curves (real test images)")
    args = parser.parse_args()
    series = []
    for item in args.runs:
        label, _, path = item.partition("=")
        if not path:
            parser.error(f"expected LABEL=EVAL.json, got {item!r}")
        with open(path) as f:
            result = json.load(f)
        if "curve" not in result:
            parser.error(f"{path} has no learning curve (run dgan eval with --curve-every N)")
        curve = result["curve"]
        series.append(Series(label, [p["step"] for p in curve], [p[args.metric] for p in curve]))
        print(f"{label}: {args.metric} {curve[-1][args.metric]:.3f} at step {curve[-1]['step']}")
    line_chart(series, args.plot, title=args.title, x_label="step (8 images each)", y_label=args.metric)


if __name__ == "__main__":
    main()
