"""The `handsoff` label source: a labelled folder of real images -> an inverted dgan cache.

`HandsOffSource(**options).write(backbone, folder, cache)` is what `dgan
invert` runs; other front ends (recipes, notebooks) build it through the
registry: `default_registry().get("label_source", "handsoff").build(...)`.
"""
from __future__ import annotations

from pathlib import Path

from dgan_cli.checksum import file_sha256
from dgan_cli.errors import DganError

MAX_LABEL_SHIFT = 8  # pixels; a part further off than that is not the same part


class HandsOffSource:
    """Inversion settings; defaults are the reference's (500 steps, peak lr 0.1, 10 LPIPS + 1 MSE + 1 latent)."""

    def __init__(self, loss: str = "lpips-vgg", steps: int = 500, lr: float = 0.1, rampup: float = 0.05,
                 rampdown: float = 0.25, perceptual_weight: float = 10.0, pixel_weight: float = 1.0,
                 latent_weight: float = 1.0, space: str = "wplus", resize: str = "crop", encoder=None,
                 encoder_iterations: int | None = None, batch: int = 4, device: str = "cpu",
                 label_shift: int = 0):
        from dgan_plugins.handsoff.align import POLICIES
        from dgan_plugins.handsoff.inversion import InversionConfig
        from dgan_plugins.handsoff.losses import check_loss

        self.loss_kind = check_loss(loss)
        self.config = InversionConfig(steps=steps, peak_lr=lr, rampup=rampup, rampdown=rampdown,
                                      latent_weight=latent_weight, space=space)
        self.weights = (perceptual_weight, pixel_weight)
        if resize not in POLICIES:
            raise DganError(f"--resize must be one of {', '.join(POLICIES)}, got '{resize}'")
        if batch < 1:
            raise DganError(f"--batch must be at least 1, got {batch}")
        if not 0 <= label_shift <= MAX_LABEL_SHIFT:
            raise DganError(f"--label-shift must be 0 to {MAX_LABEL_SHIFT} pixels, got {label_shift}")
        self.label_shift = label_shift
        if encoder_iterations is not None and encoder_iterations < 1:
            raise DganError(f"--encoder-iterations must be at least 1, got {encoder_iterations}")
        self.resize, self.batch, self.device = resize, batch, device
        self.encoder = None if encoder is None else Path(encoder)
        self.encoder_iterations = encoder_iterations

    def write(self, backbone, folder, cache, layers: str | None = None, kinds: str | None = None,
              fmt: str = "folder", annotations=None, label_names=None, format_options=None,
              shard: str | None = None):
        """Invert `folder` into `cache` (resuming an unfinished one); returns the job's provenance, a
        `dgan_cli.distributed.Outcome`, and whether this process finished the cache (False for a shard).

        `backbone` is a loaded backbone or a checkpoint path / registered name. `fmt`
        "folder" reads a dgan labelled folder; any other name is a registered
        annotation format reading `annotations` (format_set.py). Under torchrun, or
        with `shard` "I/N", this process inverts its share of the images only
        (dgan_cli/distributed.py).
        """
        from dgan_cli import distributed, load_backbone
        from dgan_plugins.handsoff.encoder import load_encoder
        from dgan_cli.cache.sharded import write_job
        from dgan_plugins.handsoff.inverted_cache import cache_spec, invert_rows
        from dgan_plugins.handsoff.label_shift import SHIFT_PENALTY, WINDOW
        from dgan_plugins.handsoff.losses import ReconstructionLoss, scoring_lpips
        from dgan_plugins.handsoff.realset import label_schemas, read_real_set
        from dgan_plugins.pipeline.sample import open_device, pick_layers

        with distributed.joined(shard, self.device) as part:
            device = open_device(part.device)
            model = load_backbone(backbone, device=device) if isinstance(backbone, (str, Path)) else backbone
            chosen = pick_layers(model, layers)
            if fmt == "folder":
                real = read_real_set(folder, model.resolution, self.resize, kinds)
            else:
                from dgan_plugins.handsoff.format_set import read_format_set

                real = read_format_set(folder, fmt, model.resolution, self.resize, kinds, annotations, label_names,
                                       format_options)
            encoder, w_avg, iterations = None, None, 0
            if self.encoder is not None:
                encoder, data = load_encoder(self.encoder, model.identity(), device=device)
                w_avg, iterations = data["w_avg"], self.encoder_iterations or int(data["config"]["iterations"])
            loss = ReconstructionLoss(self.loss_kind, *self.weights, device=device)
            lpips_model, lpips_name = scoring_lpips(loss, device)
            job = {"name": "invert", "source": str(Path(folder).resolve()), "inputs_sha256": real.digest(),
                   "resize": self.resize, "label_kinds": sorted(real.labels), "inversion": self.config.as_dict(),
                   "loss": loss.config(), "lpips_score": lpips_name, "noise_mode": "const",
                   "encoder": None if encoder is None else {"sha256": file_sha256(self.encoder),
                                                            "iterations": iterations}}
            if self.label_shift:  # absent at 0, so caches written before the option still resume
                job["label_shift"] = {"radius": self.label_shift, "window": WINDOW, "penalty": SHIFT_PENALTY}
            schemas = label_schemas(real, model.resolution)

            def fill(writer, items: range) -> None:
                invert_rows(model, real, writer, items, schemas, loss, self.config, encoder=encoder,
                            encoder_iterations=iterations, w_avg=w_avg, lpips_model=lpips_model, batch=self.batch,
                            label_shift=self.label_shift)

            outcome = write_job(part, Path(cache), cache_spec(model, chosen, job), len(real.ids), self.batch, fill,
                                hint="choose another --cache path or delete it")
        if not part.finishes:
            distributed.report_shard(part, Path(cache), outcome)
        return job, outcome, part.finishes
