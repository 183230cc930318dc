"""Writing an inverted cache: real images -> inverted latents, G(w) features and real labels.

The cache is an ordinary dgan cache that `dgan train` reads unchanged:
`images` are the reconstructions G(w) (the pictures the stored features
describe), `latents/ws` the inverted w+, `labels/<kind>` the real labels
aligned to the generator's grid (label maps moved onto G(w) with
`--label-shift`), `labels/real_image` the aligned real image,
and `scores/{lpips,psnr,msssim}` the reconstruction quality of each image.
An interrupted run resumes from the last committed batch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from dgan_cli.console import progress
from dgan_cli.errors import CacheFormatError

SCORES = ("lpips", "psnr", "msssim")


def _init_latents(backbone, targets, w_avg, encoder, iterations: int):
    import torch

    from dgan_plugins.handsoff.encoder import encode
    from dgan_plugins.handsoff.inversion import render

    if encoder is None:
        return w_avg.view(1, 1, -1).expand(len(targets), backbone.num_ws, backbone.w_dim).clone()
    with torch.no_grad():
        return encode(encoder, lambda ws: render(backbone, ws), targets, w_avg, iterations)[-1]


def _quality(real: np.ndarray, recon: np.ndarray, lpips_model, device) -> dict:
    """Per-image LPIPS (NaN without a model), PSNR and MS-SSIM of uint8 image pairs."""
    import torch

    from dgan_plugins.handsoff.losses import psnr
    from dgan_plugins.handsoff.msssim import ms_ssim
    from dgan_plugins.handsoff.perceptual import lpips_distance

    def tensor(a):
        return torch.from_numpy(a).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1

    x, y = tensor(real), tensor(recon)
    with torch.no_grad():
        lp = (lpips_distance(lpips_model, x, y).cpu().numpy() if lpips_model is not None
              else np.full(len(real), np.nan))
        ms = ms_ssim((x + 1) / 2, (y + 1) / 2).cpu().numpy()
    return {"lpips": lp.astype(np.float32), "psnr": psnr(real, recon), "msssim": ms.astype(np.float32)}


def _check_resumed_ids(writer, ids) -> None:
    done = writer.count
    stored = [s.decode() if isinstance(s, bytes) else s for s in writer.h5["ids"][:done]]
    if stored != list(ids[:done]):
        raise CacheFormatError(f"{writer.path}: its samples are not the images of this folder it should hold",
                               hint="delete it or use the original folder")


def cache_spec(backbone, layers, job: dict):
    """The layout of an inverted cache; `job` holds everything a resume must repeat."""
    from dgan_cli.cache import CacheSpec

    size = backbone.resolution
    return CacheSpec(image_shape=(size, size, 3), layers=tuple(layers),
                     latents={"ws": (backbone.num_ws, backbone.w_dim)}, scores=SCORES,
                     provenance={"backbone": backbone.identity(), "job": job})


def invert_rows(backbone, real, writer, items: range, schemas: dict, loss, config, *, encoder=None,
                encoder_iterations: int = 1, w_avg=None, lpips_model=None, batch: int = 4,
                label_shift: int = 0) -> None:
    """Invert the images `items` of `real` not yet committed in `writer` and append them, `batch` at a time.

    `label_shift` R > 0 moves the real label maps up to R pixels onto each
    reconstruction (label_shift.py).
    """
    import torch

    from dgan_plugins.handsoff.inversion import NOISE_MODE, invert_batch, mean_w
    from dgan_plugins.handsoff.label_shift import shift_labels
    from dgan_plugins.handsoff.realset import REAL_IMAGE_KIND
    from dgan_plugins.pipeline.sample import to_uint8

    names = [layer.name for layer in writer.spec.layers]
    device = next(backbone.generator.parameters()).device
    w_avg = mean_w(backbone) if w_avg is None else w_avg.to(device)
    _check_resumed_ids(writer, real.ids[items.start:items.stop])
    for kind, schema in schemas.items():
        writer.declare_labels(kind, schema)
    done = writer.count
    with progress("Inverting", total=len(items) * max(config.steps, 1)) as bar:
        bar.advance(done * max(config.steps, 1))
        for start in range(items.start + done, items.stop, batch):
            stop = min(start + batch, items.stop)
            chunk = real.images[start:stop]
            targets = torch.from_numpy(chunk).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1
            init = _init_latents(backbone, targets, w_avg, encoder, encoder_iterations)
            ws, _ = invert_batch(backbone, targets, init, loss, config,
                                 on_step=lambda n=stop - start: bar.advance(n))
            with torch.no_grad():
                images, features = backbone.synthesize(ws, layers=names, noise_mode=NOISE_MODE)
            recon = to_uint8(images)
            labels = {k: real.labels[k][start:stop].astype(schemas[k].dtype) for k in real.labels}
            labels = shift_labels(labels, chunk, recon, label_shift)
            labels[REAL_IMAGE_KIND] = chunk
            writer.append(images=recon, ids=real.ids[start:stop], latents={"ws": ws.cpu().numpy()},
                          features={k: features[k].to(torch.float16).cpu().numpy() for k in names},
                          scores=_quality(chunk, recon, lpips_model, device), labels=labels)
            if config.steps == 0:
                bar.advance(stop - start)


def quality_summary(cache: Path) -> tuple[list[dict], dict]:
    """Per-image rows {id, lpips, psnr, msssim} of an inverted cache, and their means."""
    from dgan_cli.cache import CacheReader

    with CacheReader(cache) as reader:
        ids = reader.ids
        values = {name: reader.scores(name) for name in SCORES}
    rows = [{"id": item, **{k: _finite(values[k][i]) for k in SCORES}} for i, item in enumerate(ids)]
    means = {k: _finite(np.nanmean(values[k])) if np.isfinite(values[k]).any() else None for k in SCORES}
    return rows, means


def _finite(value) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
