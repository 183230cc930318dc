"""`dgan toy annotate`: generator samples labelled by the annotator stand-in, as a person would hand them in.

The samples are those `dgan sample` makes for the same backbone, seeds and
truncation (same ids, same bytes), so the folder imports into the cache
`dgan sample` writes with `dgan annotate-import` unchanged.
"""
from __future__ import annotations

from pathlib import Path

from dgan_plugins.pipeline.sample import NOISE_MODE, sample_ids
from dgan_plugins.toy.annotation_folder import write_annotation_folder
from dgan_plugins.toy.annotator import Annotator
from dgan_plugins.toy.gan_images import generate_images


def annotate_samples(backbone, backbone_source: str, annotator: Annotator, annotator_info: dict, *, seeds: range,
                     truncation: float, out: Path, tolerance: float, batch: int, overwrite: bool) -> dict:
    """Sample, label and write; `backbone_source` is the --backbone argument (`toy` or a file)."""
    images = generate_images(backbone, seeds, truncation, batch)
    prediction = annotator.predict(images)
    identity = backbone.identity()
    about = {"made_by": "dgan toy annotate (machine-made stand-in for a human annotator)",
             "backbone": {"source": backbone_source, "name": identity.get("name"), "sha256": identity.get("sha256")},
             "seeds": [seeds.start, seeds.stop - 1], "truncation_psi": truncation, "noise_mode": NOISE_MODE,
             "annotator": annotator_info}
    ids = sample_ids(seeds)
    fidelity = write_annotation_folder(out, list(seeds), ids, images, prediction, tolerance=tolerance, about=about,
                                       readme=lambda summary: readme_text(out, about, summary, len(ids)),
                                       overwrite=overwrite)
    visible = prediction.keypoints[..., 2] > 0
    return {"samples": len(ids), "out": str(out), **about, **fidelity,
            "keypoints_visible": int(visible.sum()), "keypoints_occluded": int((~visible).sum())}


def readme_text(out: Path, about: dict, fidelity: dict, n: int) -> str:
    first, last = about["seeds"]
    backbone = about["backbone"]
    trunc = about["truncation_psi"]
    tests = about["annotator"].get("test") or {}
    scores = (f"mIoU {tests['miou']:.3f}, PCK@0.1 {tests['pck@0.1']:.3f}, depth AbsRel {tests['depth_absrel']:.4f} "
              f"on {tests['images']} rendered test images" if tests else "not scored")
    cache = f"ann{n}.h5"
    return f"""# Machine-made annotations of {n} toy GAN samples

**These labels were made by a machine, not a person.** `dgan toy annotate`
ran a network trained fully supervised on rendered toy images (the
*annotator stand-in*; {scores}) on the generator's samples and wrote what a
human annotator would hand in. Expect the errors of that network, not a
person's.

- backbone: `{backbone['source']}`, sha256 `{backbone['sha256']}`; the labels
  belong to these weights only: regenerate them when the weights change
- samples: seeds {first}..{last} (ids = zero-padded seeds), truncation psi {trunc}, noise mode
  `{about['noise_mode']}`: exactly the images `dgan sample` makes
- annotator: `{about['annotator'].get('path')}` (sha256 `{about['annotator'].get('sha256')}`)
- LabelMe polygons: {fidelity['polygons']} polygons, {fidelity['polygon_vertices']} vertices, simplified at
  {fidelity['tolerance_px']} px; read back through dgan's LabelMe reader they reproduce the predicted masks
  with mIoU {fidelity['polygon_miou']:.4f} (pixel agreement {fidelity['polygon_pixel_agreement']:.4f})

Layout: `labelme/<id>.png` + `<id>.json` (a polygon per connected region of
each part, a point per keypoint, flag `occluded` when not visible),
`masks/<id>.png` (indexed), `depth/<id>.npy` (+ 16-bit PNG),
`keypoints.json` (COCO), `images/<id>.png`, `labels.json` (the LABELS file),
`samples.json` (ids, seeds, backbone, annotator).

Import into the cache of the same samples:

```
dgan sample --backbone {backbone['source']} -n {n} --seed {first} --truncation {trunc} --cache {cache} --out samples{n}
dgan annotate-import {out}/labelme --cache {cache} --format labelme --labels {out}/labels.json
dgan annotate-import {out} --cache {cache} --format depth --labels {out}/labels.json
```

`--format png-masks` (reads `{out}/masks/`) imports the same segmentation from
the indexed PNGs, and `--format coco-keypoints` (`{out}/keypoints.json`) the
keypoints.
"""
