"""Which pixels `dgan synth --ignore-above HEAD=T` would leave unlabelled, for a few thresholds T.

    python bench/uncertain_pixels.py INTERPRETER.pt [--n 200] [--seed 1000000] [--thresholds 0.05,0.1,0.2]

Toy world only, no test image involved: the interpreter labels n synthetic
samples (seeds SEED.., truncation 0.7, as `dgan synth`), and for each T it
prints the share of pixels left unlabelled and what they are:
- segmentation: the toy annotator labels the same images; the share of the
  pixels that disagree with it that T removes, against the share of every
  annotator class it removes (a threshold that strips a class is too low);
- depth: the share of mixed-depth pixels (5 < d < 11 toy units: between a
  head, about 3.9, and the far plane, 12) that T removes, against the share
  of the foreground (d < 5).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch

from dgan_cli import load_backbone
from dgan_cli.interpreter import Interpreter
from dgan_plugins.pipeline.sample import NOISE_MODE, to_uint8


def labelled_samples(interp, n: int, seed: int):
    backbone = load_backbone("toy", device=torch.device("cpu"))
    runner = interp.fast(torch.device("cpu"))
    wanted = {layer.name for layer in interp.layers}
    names = [layer.name for layer in backbone.layers if layer.name in wanted]
    labels, maps, images = [], [], []
    for start in range(seed, seed + n, 8):
        chunk = list(range(start, min(start + 8, seed + n)))
        with torch.no_grad():
            latents = backbone.sample(chunk, truncation_psi=0.7)
            rgb, features = backbone.synthesize(latents["ws"], layers=names, noise_mode=NOISE_MODE)
            outputs = runner(features, tile_rows=None)
        for b in range(len(chunk)):
            label, umap = interp.head.combine(outputs[b])
            labels.append(label)
            maps.append(umap)
        images.append(to_uint8(rgb))
    return np.stack(labels), np.stack(maps), np.concatenate(images)


def segmentation_report(labels, maps, images, thresholds) -> None:
    from dgan_plugins.toy.annotator import load_annotator

    model, _ = load_annotator()
    model.eval()
    classes = list(model.config["classes"])
    annotator = model.predict(images).segmentation
    wrong = labels.astype(np.int64) != annotator
    print(f"agreement with the annotator: {1 - wrong.mean():.4f} of the pixels")
    for t in thresholds:
        drop = maps > t
        per_class = " ".join(f"{c} {100 * drop[annotator == i].mean():.0f}%" for i, c in enumerate(classes))
        print(f"T={t}: unlabelled {100 * drop.mean():.2f}%, disagreeing pixels removed "
              f"{100 * (drop & wrong).sum() / max(1, wrong.sum()):.0f}% | removed per class: {per_class}")


def depth_report(labels, maps, thresholds) -> None:
    mixed, foreground = (labels > 5) & (labels < 11), labels < 5
    print(f"mixed-depth pixels: {100 * mixed.mean():.2f}%")
    for t in thresholds:
        drop = maps > t
        print(f"T={t}: unlabelled {100 * drop.mean():.2f}%, mixed removed "
              f"{100 * (drop & mixed).sum() / max(1, mixed.sum()):.0f}%, foreground removed "
              f"{100 * (drop & foreground).sum() / max(1, foreground.sum()):.0f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("interpreter")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1000000)
    parser.add_argument("--thresholds", default="0.02,0.05,0.1,0.2,0.5")
    args = parser.parse_args()
    torch.set_num_threads(1)
    interp = Interpreter.load(args.interpreter)
    thresholds = [float(t) for t in args.thresholds.split(",")]
    labels, maps, images = labelled_samples(interp, args.n, args.seed)
    print(f"{args.n} samples; uncertainty quantiles 50/90/95/99%: {np.round(np.quantile(maps, [.5, .9, .95, .99]), 4)}")
    if interp.head_name == "segmentation":
        segmentation_report(labels, maps, images, thresholds)
    elif interp.head_name == "depth":
        depth_report(labels, maps, thresholds)
    else:
        raise SystemExit(f"{args.interpreter}: head '{interp.head_name}' has no per-pixel labels")


if __name__ == "__main__":
    main()
