"""Fidelity and FID of toy-generator snapshots against the images they had seen, as a plot.

    python bench/backbone_curve.py SNAPSHOT.pt... --plot docs/toy-backbone-curve.png --json curve.json [-n 300]

Each snapshot is a `generator.pt` written by `dgan backbone train` (its
`training` entry holds the images seen). For each, `dgan toy fidelity`'s
report (shipped annotator and classifier, truncation 0.7 and 1.0) gives the
toy-classifier FID against the `test` split and, over the small parts (eye,
eyebrow, nose, mouth), the lowest pixel ratio and presence ratio, and the
lowest image-class share ratio (a species drawn as another).
"""
from __future__ import annotations

import argparse
import json

from dgan_cli import load_backbone
from dgan_cli.plot import Series, line_chart
from dgan_plugins.stylegan2.checkpoint import read_checkpoint
from dgan_plugins.toy.annotator import load_annotator
from dgan_plugins.toy.classifier import load_classifier
from dgan_plugins.toy.fidelity import fidelity_report

SMALL_PARTS = ("eye", "eyebrow", "nose", "mouth")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshots", nargs="+")
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--plot", required=True)
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    annotator, _ = load_annotator()
    classifier, _ = load_classifier()
    rows = []
    for path in args.snapshots:
        seen = read_checkpoint(path)["training"]["images_seen"]
        backbone = load_backbone(path)
        row = {"snapshot": path, "images_seen": seen}
        for psi in (0.7, 1.0):
            report = fidelity_report(backbone, annotator, classifier, n=args.n, seed=0, truncation=psi, batch=32)
            small = [report["classes"][name] for name in SMALL_PARTS]
            row[f"psi{psi}"] = {"fid": report["fid"], "fid_floor": report["fid_floor"],
                                "min_small_pixel_ratio": min(c["pixel_ratio"] for c in small),
                                "min_small_presence_ratio": min(c["presence_ratio"] for c in small),
                                "min_class_share_ratio": min(c["share_ratio"] for c in report["object_classes"].values()),
                                "classes": report["classes"], "object_classes": report["object_classes"]}
        rows.append(row)
        print(json.dumps({k: row[k] for k in ("images_seen",)} | {
            psi: {k: round(v, 3) for k, v in row[psi].items() if k not in ("classes", "object_classes")} for psi in ("psi0.7", "psi1.0")}),
            flush=True)
    rows.sort(key=lambda r: r["images_seen"])
    with open(args.json, "w") as f:
        json.dump({"n": args.n, "small_parts": SMALL_PARTS, "rows": rows}, f, indent=2)
    kimg = [r["images_seen"] / 1000 for r in rows]
    line_chart([Series("FID / 10, psi 1.0", kimg, [r["psi1.0"]["fid"] / 10 for r in rows]),
                Series("FID / 10, psi 0.7", kimg, [r["psi0.7"]["fid"] / 10 for r in rows]),
                Series("min pixel ratio, psi 1.0", kimg, [r["psi1.0"]["min_small_pixel_ratio"] for r in rows]),
                Series("min presence, psi 1.0", kimg, [r["psi1.0"]["min_small_presence_ratio"] for r in rows]),
                Series("min pixel ratio, psi 0.7", kimg, [r["psi0.7"]["min_small_pixel_ratio"] for r in rows]),
                Series("min presence, psi 0.7", kimg, [r["psi0.7"]["min_small_presence_ratio"] for r in rows]),
                Series("min class share, psi 1.0", kimg, [r["psi1.0"]["min_class_share_ratio"] for r in rows])],
               args.plot, title="toy generator (world v2): small parts and FID vs images seen",
               x_label="thousands of images seen", y_label="ratio (1 = as real) / FID / 10")


if __name__ == "__main__":
    main()
