"""`dgan show`: a contact sheet of images with their labels, from a cache or a labelled folder.

Each sample is one cell: its panels side by side, its id underneath. Panels:
the real image (inverted caches holding `labels/real_image`), the image, then one
per label kind present in the source, drawn by that kind's head (`HeadSpec.draw`;
the built-in heads' drawings are in dgan_plugins/heads/draw.py), or by the
label's shape when the head gives none (show_panels.py). A sample lacking a
kind the others have shows a grey panel there, and only then.

Sheet size, with P panels of h x w pixels at scale s, C columns and R rows:
    width  = C * (P * w * s + (P - 1) * GAP) + (C + 1) * GAP
    height = R * (h * s + CAPTION) + (R + 1) * GAP
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from dgan_cli.errors import DganError
from dgan_cli.untrusted import read_json

GAP, CAPTION = 4, 14
BACKGROUND, MISSING = (24, 24, 24), (64, 64, 64)
KIND_ORDER = ("segmentation", "keypoints", "depth")
REAL_KIND = "real_image"  # the label kind under which `dgan invert` keeps the real images


@dataclass
class Sample:
    sample_id: str
    image: np.ndarray                      # uint8 [H, W, 3]
    labels: dict = field(default_factory=dict)
    real: Optional[np.ndarray] = None      # the real image an inverted sample reconstructs
    caption: str = ""
    uncertainty: dict = field(default_factory=dict)  # kind -> the synth score `<kind>-uncertainty`


@dataclass
class Gallery:
    samples: list[Sample]
    names: dict                            # kind -> labels.json-style entry
    kinds: list[str]
    has_real: bool = False


# -- sources ----------------------------------------------------------------------
def load_gallery(source: Path, n: int, label_names: Optional[dict] = None) -> Gallery:
    """Up to n samples from a cache file, a labelled folder, or a synth output folder."""
    if source.is_dir():
        if (source / "labels.json").exists() or (source / "images").is_dir():
            gallery = _from_folder(source, n)
        elif (source / "dataset.h5").is_file():  # a `dgan synth` output: its kept samples
            gallery = _from_cache(source / "dataset.h5", n)
        else:
            caches = sorted(source.glob("*.h5"))
            if len(caches) != 1:
                raise DganError(f"{source}: neither a labelled folder (labels.json), a synth output "
                                "(dataset.h5) nor a folder with one .h5 cache")
            gallery = _from_cache(caches[0], n)
    elif source.exists():
        gallery = _from_cache(source, n)
    else:
        raise DganError(f"{source}: no such cache or folder")
    for kind, entry in (label_names or {}).items():
        gallery.names[kind] = {**gallery.names.get(kind, {}), **entry}
    return gallery


def _from_cache(path: Path, n: int) -> Gallery:
    """Labelled samples first (a cache after annotate-import shows its annotations), in index order."""
    from dgan_cli.cache import CacheReader

    with CacheReader(path) as reader:
        # An inverted (HandsOff) cache keeps the real images as the `real_image` label kind.
        has_real = REAL_KIND in reader.label_kinds
        kinds = _ordered([k for k in reader.label_kinds if k != REAL_KIND])
        present = {k: set(reader.labelled(k).tolist()) for k in kinds}
        labelled = set().union(*present.values())
        chosen = (sorted(labelled) + [i for i in range(reader.n) if i not in labelled])[:n]
        names = {k: _names_from_schema(reader.label_schema(k).attrs) for k in kinds}
        ids = reader.ids
        scores = {k: reader.scores(f"{k}-uncertainty") for k in kinds if f"{k}-uncertainty" in reader.score_names}
        samples = []
        for i in chosen:
            labels = {k: reader.labels(k, [i])[0] for k in kinds if i in present[k]}
            real = reader.labels(REAL_KIND, [i])[0] if has_real else None
            samples.append(Sample(ids[i], reader.images([i])[0], labels, real, caption=ids[i],
                                  uncertainty={k: float(v[i]) for k, v in scores.items()}))
    return Gallery(samples, names, kinds, has_real=has_real)


def _from_folder(path: Path, n: int) -> Gallery:
    from dgan_cli.labelled_folder import read_folder

    ids, images, labels, label_names = read_folder(path)
    labels.update(_plugin_folder_labels(path, ids[:n]))
    kinds = _ordered([k for k in labels if k != "class"])
    classes = labels.get("class")
    class_names = (label_names.get("class") or {}).get("names", [])
    samples = []
    for i, sample_id in enumerate(ids[:n]):
        caption = sample_id
        if classes is not None and 0 <= int(classes[i]) < len(class_names):
            caption = f"{sample_id} {class_names[int(classes[i])]}"
        samples.append(Sample(sample_id, images[i], {k: labels[k][i] for k in kinds}, caption=caption))
    return Gallery(samples, {k: dict(v) for k, v in label_names.items()}, kinds)


def _plugin_folder_labels(path: Path, ids: list[str]) -> dict:
    """Kinds a plugin head exported into the folder: its `<kind>/` subfolder, read by its `read_folder_labels`."""
    from dgan_cli.labelled_folder import KINDS
    from dgan_cli.registry import default_registry

    registry = default_registry()
    return {spec.name: spec.read_folder_labels(path, ids) for spec in registry.specs("head")
            if spec.name not in KINDS and spec.read_folder_labels is not None and (path / spec.name).is_dir()}


def _ordered(kinds) -> list[str]:
    return sorted(kinds, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER), k))


def _names_from_schema(attrs: dict) -> dict:
    entry = dict(attrs)
    if "names" in entry:
        entry.setdefault("classes", entry["names"])
    return entry


def sample_panels(sample: Sample, gallery: Gallery, scale: int) -> list:
    """Each kind's panel is drawn by its head's `draw` (built-in heads included), else by shape."""
    from PIL import Image

    from dgan_cli.registry import default_registry
    from dgan_plugins.pipeline.show_panels import default_panel, plugin_panel

    registry = default_registry()
    h, w = sample.image.shape[:2]
    panels = []
    if gallery.has_real:
        panels.append(_scale_up(sample.real, scale) if sample.real is not None else None)
    panels.append(_scale_up(sample.image, scale))
    for kind in gallery.kinds:
        label, entry = sample.labels.get(kind), gallery.names.get(kind, {})
        spec = registry.get("head", kind) if kind in registry.names("head") else None
        if label is None:
            panels.append(None)
        elif spec is not None and spec.draw is not None:
            panels.append(plugin_panel(spec, sample.image, label, entry, scale, sample.uncertainty.get(kind)))
        else:
            panels.append(default_panel(kind, label, (h, w), scale))
    return [Image.new("RGB", (w * scale, h * scale), MISSING) if p is None else Image.fromarray(p) for p in panels]


def _scale_up(image: np.ndarray, scale: int) -> np.ndarray:
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def contact_sheet(gallery: Gallery, columns: int, scale: int):
    """The sheet as a PIL image (gallery must hold at least one sample)."""
    from PIL import Image, ImageDraw

    h, w = gallery.samples[0].image.shape[:2]
    count = 1 + len(gallery.kinds) + int(gallery.has_real)
    columns = min(columns, len(gallery.samples))
    rows = math.ceil(len(gallery.samples) / columns)
    cell_w, cell_h = count * w * scale + (count - 1) * GAP, h * scale + CAPTION
    sheet = Image.new("RGB", (columns * cell_w + (columns + 1) * GAP, rows * cell_h + (rows + 1) * GAP), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    for n, sample in enumerate(gallery.samples):
        x0 = GAP + (n % columns) * (cell_w + GAP)
        y0 = GAP + (n // columns) * (cell_h + GAP)
        for p, panel in enumerate(sample_panels(sample, gallery, scale)):
            sheet.paste(panel, (x0 + p * (w * scale + GAP), y0))
        draw.text((x0, y0 + h * scale + 1), sample.caption, fill=(230, 230, 230))
    return sheet


def show_command(
    source: Path = typer.Argument(..., help="A cache (.h5), a synth output folder, or a labelled folder."),
    out: Path = typer.Option(..., "--out", help="PNG file to write."),
    n: int = typer.Option(16, "--n", "-n", help="Samples to show (labelled ones first)."),
    columns: int = typer.Option(4, "--columns", help="Samples per row."),
    scale: Optional[int] = typer.Option(None, "--scale", help="Pixel zoom (default: panels at least 128 px)."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="labels.json: names, palette, skeleton to use."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write what was shown as JSON."),
) -> None:
    """Contact sheet of images with label overlays (parts, keypoints, depth)."""
    from dgan_cli.console import out_console, write_json

    for option, value in (("--n", n), ("--columns", columns), ("--scale", scale if scale is not None else 1)):
        if value < 1:
            raise DganError(f"{option} must be at least 1, got {value}")
    if out.suffix.lower() != ".png":
        raise DganError(f"--out must be a .png file, got '{out.name}'")
    gallery = load_gallery(source, n, _read_labels(labels) if labels else None)
    if not gallery.samples:
        raise DganError(f"{source}: holds no samples")
    size = max(gallery.samples[0].image.shape[:2])
    scale = scale or max(1, math.ceil(128 / size))
    sheet = contact_sheet(gallery, columns, scale)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(out, format="PNG")
    except OSError as exc:
        raise DganError(f"{out}: cannot write ({exc.strerror or exc})") from None
    panels = (["real"] if gallery.has_real else []) + ["image"] + gallery.kinds
    out_console.print(f"{out}: {len(gallery.samples)} samples, panels: {', '.join(panels)}, "
                      f"{sheet.width}x{sheet.height} px")
    write_json(json_path, {"out": str(out), "source": str(source), "ids": [s.sample_id for s in gallery.samples],
                           "panels": panels, "size": [sheet.width, sheet.height], "scale": scale})


def _read_labels(path: Path) -> dict:
    data = read_json(path, "labels JSON file")
    if not isinstance(data, dict):
        raise DganError(f"{path}: expected a JSON object of label kinds")
    return data
