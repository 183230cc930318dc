"""Agreement of a cache's segmentation or depth labels with the toy annotator's labels of its images.

    python bench/label_agreement.py CACHE.h5...

Toy world only, no test image involved: the annotator stand-in labels the
cache's images and its labels are scored against the cache's (mIoU and IoU
per class). What it measures depends on the cache:
- `dgan invert` cache: how well the real labels fit the reconstructions G(w).
  HandsOff pairs the features at w with those labels; where G(w) is off,
  they describe pixels the features do not (PSNR is printed beside it);
- `dgan synth` set (SYNTH/dataset.h5): how close the interpreter's labels
  are to what the annotator would have drawn on the same synthetic images;
- an annotated cache: 1.0 by construction (its labels are the annotator's).

Depth labels: AbsRel against the annotator's depth over the pixels both
label (the annotator labels what it does not call background), and how the
labelled regions differ: the share of the annotator's foreground the labels
leave unlabelled, and the share of the labelled pixels that lie on the
annotator's backdrop.
"""
from __future__ import annotations

import argparse

import h5py
import numpy as np

from dgan_plugins.evaluate.metrics import SegmentationScore
from dgan_plugins.toy.annotator import load_annotator


def depth_agreement(path: str, model) -> dict:
    with h5py.File(path, "r") as f:
        images = f["images"][:]
        labels = f["labels/depth/values"][:].astype(np.float64)
    pred = model.predict(images)
    foreground = pred.segmentation != 0
    labelled = np.isfinite(labels)
    both = foreground & labelled
    absrel = np.abs(labels[both] - pred.depth[both]) / pred.depth[both]
    return {"absrel": float(absrel.mean()), "foreground_unlabelled": float((foreground & ~labelled).sum() / foreground.sum()),
            "labelled_on_backdrop": float((labelled & ~foreground).sum() / max(1, labelled.sum())),
            "labelled_share": float(labelled.mean())}


def agreement(path: str, model) -> dict:
    with h5py.File(path, "r") as f:
        images = f["images"][:]
        target = f["labels/segmentation/values"][:].astype(np.int64)
        psnr = float(np.mean(f["scores/psnr"][:])) if "scores/psnr" in f else None
    classes = list(model.config["classes"])
    pred = model.predict(images).segmentation
    score = SegmentationScore(len(classes))
    score.update(pred, target)
    result = score.result(classes)
    result["psnr"] = psnr
    result["label_share"] = {c: float((target == i).mean()) for i, c in enumerate(classes)}
    result["annotator_share"] = {c: float((pred == i).mean()) for i, c in enumerate(classes)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("caches", nargs="+")
    args = parser.parse_args()
    model, _ = load_annotator()
    model.eval()
    for path in args.caches:
        with h5py.File(path, "r") as f:
            kinds = set(f["labels"])
        if "depth" in kinds:
            d = depth_agreement(path, model)
            print(f"{path}: depth AbsRel {d['absrel']:.4f} against the annotator where both label; "
                  f"{100 * d['labelled_share']:.1f}% of the pixels labelled, of which "
                  f"{100 * d['labelled_on_backdrop']:.1f}% on its backdrop; "
                  f"{100 * d['foreground_unlabelled']:.1f}% of its foreground left unlabelled")
        if "segmentation" not in kinds:
            continue
        r = agreement(path, model)
        classes = " ".join(f"{k} {v:.2f}" for k, v in r["per_class_iou"].items() if v is not None)
        psnr = f"PSNR {r['psnr']:.1f} dB, " if r["psnr"] is not None else ""
        print(f"{path}: {psnr}agreement mIoU {r['miou']:.3f} ({classes})")
        shares = " ".join(f"{c} {100 * r['label_share'][c]:.2f}/{100 * r['annotator_share'][c]:.2f}"
                          for c in r["label_share"])
        print(f"  pixel share % (labels/annotator): {shares}")


if __name__ == "__main__":
    main()
