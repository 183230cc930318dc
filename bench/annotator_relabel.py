"""A copy of a toy cache whose segmentation labels are the toy annotator's labels of its own images.

    python bench/annotator_relabel.py INVERTED.h5 OUT.h5

Diagnostic, toy world only: on an inverted cache (`dgan invert`) it gives
HandsOff pairs that are exactly aligned with G(w), so an interpreter trained
on OUT.h5 shows what HandsOff would reach if its real labels fitted the
reconstructions: the rest of its gap to DatasetGAN is the inverted features
themselves (docs/results.md, "HandsOff: labels moved onto the
reconstructions").
"""
from __future__ import annotations

import argparse
import shutil

import h5py

from dgan_plugins.toy.annotator import load_annotator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache")
    parser.add_argument("out")
    args = parser.parse_args()
    model, _ = load_annotator()
    model.eval()
    shutil.copyfile(args.cache, args.out)
    with h5py.File(args.out, "r+") as f:
        f["labels/segmentation/values"][...] = model.predict(f["images"][:]).segmentation


if __name__ == "__main__":
    main()
