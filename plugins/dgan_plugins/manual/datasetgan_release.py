"""`--format datasetgan-release`: a DatasetGAN release training folder, into a new cache.

The folder holds `image_{i}.jpg` and `image_mask{i}.npy` (i = 0, 1, ... no
padding) and, beside them or given, `latent_stylegan1.npy` (z [N, 512], row i
is image i) and `avg_latent_stylegan1.npy` (the truncation centre). The cache
is built from those exact latents (truncation psi 0.7 on the generator's
cutoff rows, const noise), and every stored image must be re-rendered above a
PSNR threshold, else the import stops before writing, naming the image.
Masks get the release's clean-up (classes 1..49 under 30 pixels become 0)
at their own size, then a nearest resize to the generator's resolution.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from dgan_cli.errors import DganError
from dgan_plugins.manual.names import LabelNames, read_label_names

FORMAT = "datasetgan-release"
TRUNCATION_PSI = 0.7  # hard-coded in the release
SMALL_CLASS_PIXELS, SMALL_CLASS_MAX = 30, 49  # prepare_data's clean-up rule
# Stored images were rendered with random noise (and JPEG-compressed, face resized): measured
# margins in docs/stylegan1.md.
DEFAULT_MIN_PSNR = 20.0
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def class_names(labels: Path | None, experiment: Path | None) -> tuple[LabelNames, dict]:
    """Segmentation class names from a labels file, else `class-NN` from the experiment JSON's count."""
    exp = read_experiment(experiment) if experiment is not None else {}
    if labels is not None:
        names = read_label_names(labels)
        if exp and len(names.classes) != exp["number_class"]:
            raise DganError(f"{labels}: {len(names.classes)} classes, but {experiment} has "
                            f"number_class {exp['number_class']}")
        return names, exp
    if not exp:
        raise DganError("--format datasetgan-release needs --labels or --experiment (for the class names)")
    width = len(str(exp["number_class"] - 1))
    classes = [f"class-{i:0{width}d}" for i in range(exp["number_class"])]
    return LabelNames(Path(experiment), {"segmentation": {"classes": classes}}), exp


def read_experiment(path: Path) -> dict:
    """number_class, max_training and dim ([H, W, feature dims]) of an `experiments/*.json`."""
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as exc:
        raise DganError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise DganError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise DganError(f"{path}: expected a DatasetGAN experiment JSON object")
    out = {}
    for key in ("number_class", "max_training"):
        value = raw.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise DganError(f"{path}: '{key}' must be a positive integer")
        out[key] = value
    dim = raw.get("dim")
    if not (isinstance(dim, list) and len(dim) == 3 and all(isinstance(v, int) and v > 0 for v in dim)):
        raise DganError(f"{path}: 'dim' must be [height, width, feature dims]")
    out["dim"] = dim
    return out


def find_pairs(directory: Path, count: int | None) -> list[tuple[Path, Path]]:
    """(image, mask) of i = 0 .. count-1 (default: as many as there are masks), all required."""
    if not directory.is_dir():
        raise DganError(f"{directory}: no such folder")
    masks = {int(m.group(1)): p for p in directory.iterdir() if (m := re.fullmatch(r"image_mask(\d+)\.npy", p.name))}
    images = {int(m.group(1)): p for p in directory.iterdir()
              if (m := re.fullmatch(r"image_(\d+)(\.\w+)", p.name)) and m.group(2).lower() in IMAGE_SUFFIXES}
    count = len(masks) if count is None else count
    if count == 0:
        raise DganError(f"{directory}: no image_mask<i>.npy files (not a DatasetGAN release training folder)")
    pairs = []
    for i in range(count):
        if i not in masks:
            raise DganError(f"{directory}: image_mask{i}.npy is missing ({count} annotated images expected)")
        if i not in images:
            raise DganError(f"{directory}: image_{i}.jpg is missing (the mask image_mask{i}.npy has no image)")
        pairs.append((images[i], masks[i]))
    return pairs


def read_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except OSError as exc:
        raise DganError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise DganError(f"{path}: not a plain numeric .npy array ({exc})") from None


def read_latents(path: Path, count: int, z_dim: int) -> np.ndarray:
    z = read_array(path)
    if z.ndim != 2 or z.shape[1] != z_dim or not np.issubdtype(z.dtype, np.floating):
        raise DganError(f"{path}: latents of shape {list(z.shape)} ({z.dtype}); expected z [N, {z_dim}] floats")
    if len(z) < count:
        raise DganError(f"{path}: {len(z)} latents for {count} annotated images")
    if not np.isfinite(z[:count]).all():
        raise DganError(f"{path}: latents contain NaN or infinite values")
    return z[:count]


def check_avg_latent(path: Path, backbone) -> None:
    """The backbone must truncate towards the release's average latent, or nothing re-renders."""
    avg = read_array(path)
    mine = backbone.generator.avg_latent.cpu().numpy()
    rows = avg.reshape(-1, avg.shape[-1])[: backbone.num_ws] if avg.ndim else avg
    if rows.ndim != 2 or rows.shape[1] != backbone.w_dim or not np.allclose(rows.astype(np.float32), mine,
                                                                            rtol=0, atol=1e-6):
        raise DganError(f"{path}: the backbone's average latent is not this one",
                        hint=f"dgan backbone convert CKPT OUT.pt --option avg_latent={path}, then --backbone OUT.pt")


def read_mask(path: Path, num_classes: int, size: int) -> np.ndarray:
    """int16 [size, size]: squeezed, small classes cleared at the mask's own size, nearest-resized."""
    mask = np.squeeze(read_array(path))
    if mask.ndim != 2 or mask.shape[0] != mask.shape[1]:
        raise DganError(f"{path}: mask of shape {list(mask.shape)}; expected a square [H, W] class map")
    if not np.isfinite(mask).all() or (mask != np.round(mask)).any():
        raise DganError(f"{path}: mask values must be integer class indices")
    mask = mask.astype(np.int64)
    bad = mask[(mask < 0) | (mask >= num_classes)]
    if bad.size:
        raise DganError(f"{path}: class {int(bad[0])} outside 0..{num_classes - 1}")
    counts = np.bincount(mask.ravel(), minlength=num_classes)
    small = [c for c in range(1, min(SMALL_CLASS_MAX, num_classes - 1) + 1) if 0 < counts[c] < SMALL_CLASS_PIXELS]
    mask[np.isin(mask, small)] = 0
    # Nearest neighbour as cv2.INTER_NEAREST: source index floor(j * src / dst).
    index = np.arange(size) * mask.shape[0] // size
    return mask[np.ix_(index, index)].astype(np.int16)


def read_image(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            image = np.asarray(im.convert("RGB"))
    except OSError as exc:
        raise DganError(f"{path}: not a readable image ({exc})") from None
    if image.shape[0] != image.shape[1]:
        raise DganError(f"{path}: {image.shape[1]}x{image.shape[0]} image; only square release images are supported")
    return image


def rerender_psnr(rendered, stored: np.ndarray) -> float:
    """PSNR (dB) of a render [1, 3, R, R] against a stored uint8 image, resized and quantised as the release."""
    import torch
    import torch.nn.functional as F

    size = stored.shape[0]
    if rendered.shape[-1] != size:
        rendered = F.interpolate(rendered, size=(size, size), mode="bilinear", align_corners=False)
    mine = (rendered[0] * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    mse = np.mean((mine.astype(np.float64) - stored.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))
