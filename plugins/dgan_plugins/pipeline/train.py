"""`dgan train`: fit a head's pixel-MLP ensemble (the style interpreter) on a cache's labels.

Any cache whose samples carry labels of the head's kind works: annotated GAN
samples (`dgan annotate-import`) or inverted real images. The head is built
by name through the plugin registry, so third-party heads train the same way.

Over many processes (torchrun, or `--shard I/N`) each part trains its share
of the members into a shard file, `<out stem>.shards/<I>-of-<N>.pt`, saved
after every member so a killed part resumes with the next one; the shards
are joined into the one interpreter file that a single process writes.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import List, Optional

import typer

from dgan_cli.console import print_table, write_json
from dgan_cli.errors import DganError


def parse_options(pairs: List[str], flag: str) -> dict:
    """KEY=VALUE pairs -> dict; values are read as JSON when they parse (numbers, true/false), else text."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DganError(f"{flag} expects KEY=VALUE, got '{pair}'")
        try:
            options[key.strip()] = json.loads(value)
        except ValueError:
            options[key.strip()] = value
    return options


def parse_hidden(text: Optional[str]) -> Optional[tuple]:
    if text is None:
        return None
    try:
        widths = tuple(int(v) for v in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 2 or min(widths) < 1:
        raise DganError(f"--hidden expects two positive widths such as 128,32, got '{text}'")
    return widths


def build_head(name: str, label_names, options: dict, registry=None):
    """A head by registered name; bad options become one line."""
    from dgan_cli.registry import default_registry

    spec = (registry or default_registry()).get("head", name)
    try:
        return spec.build(list(label_names), **options)
    except (TypeError, ValueError) as exc:
        raise DganError(f"head '{name}': {exc}", hint="check --head-option") from exc


def select_layers(reader, text: Optional[str]) -> list:
    layers = reader.layers
    if not layers:
        raise DganError(f"{reader.path}: the cache holds no generator features to train on")
    if text is None or text.strip() == "all":
        return layers
    by_name = {layer.name: layer for layer in layers}
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in by_name]
    if unknown or not names:
        raise DganError(f"--layers: unknown layer '{unknown[0] if unknown else text}'",
                        hint=f"the cache has: {', '.join(by_name)}")
    return [by_name[n] for n in names]


def check_positive(**values) -> None:
    for flag, (value, least) in values.items():
        if value is not None and value < least:
            raise DganError(f"--{flag.replace('_', '-')} must be at least {least}, got {value}")


SHARD_FORMAT = "dgan-interpreter-shard"


def training_job(reader, head: str, head_config: dict, layers, options) -> str:
    """What every shard of one training must share, as text: the labels trained on and the settings."""
    digest = hashlib.sha256()
    labelled = reader.labelled(head)
    for i in labelled:
        digest.update(reader.ids[i].encode())
        digest.update(reader.labels(head, [int(i)]).tobytes())
    settings = {k: v for k, v in options.as_dict().items() if k != "device"}  # ranks differ in device
    return json.dumps({"cache": str(Path(reader.path).resolve()), "labels_sha256": digest.hexdigest(),
                       "head": head, "head_options": head_config, "layers": [l.name for l in layers],
                       "options": settings}, sort_keys=True)


def save_shard(path: Path, job: str, trained: dict) -> None:
    """Atomically: a killed part leaves the shard as of its last finished member."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save({"format": SHARD_FORMAT, "job": job, "members": {m: state for m, (state, _) in trained.items()},
                    "reports": {m: report for m, (_, report) in trained.items()}}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_shard(path: Path, job: str) -> dict:
    """{member: (state_dict, report)} of a shard of this training; a shard of another one is refused."""
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for foreign or truncated files
        raise DganError(f"{path}: not a readable interpreter shard ({type(exc).__name__})",
                        hint="delete it to train its members again") from exc
    if not isinstance(payload, dict) or payload.get("format") != SHARD_FORMAT:
        raise DganError(f"{path}: not a dgan interpreter shard", hint="delete it")
    if payload["job"] != job:
        raise DganError(f"{path}: a shard of another training (other cache, labels, head or settings)",
                        hint=f"delete {path.parent} or use the original settings")
    return {int(m): (state, payload["reports"][m]) for m, state in payload["members"].items()}


def train_command(
    cache: Path = typer.Option(..., "--cache", help="A complete cache whose samples carry labels of the head's kind."),
    head: str = typer.Option(..., "--head", help="Head (label type) by registered name, e.g. segmentation."),
    out: Path = typer.Option(..., "--out", help="Interpreter checkpoint to write (.pt)."),
    members: int = typer.Option(10, "--members", help="Ensemble size (10 in the paper)."),
    pixels_per_image: int = typer.Option(4096, "--pixels-per-image", help="Training pixels each member samples per image."),
    epochs: int = typer.Option(4, "--epochs", help="Passes over each member's pixels (upper bound; early stop)."),
    iters: Optional[int] = typer.Option(None, "--iters", help="Exact number of batches per member (overrides --epochs)."),
    batch_size: int = typer.Option(64, "--batch-size", help="Pixels per batch."),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate."),
    patience: int = typer.Option(500, "--patience", help="Early stop after this many batches without a better smoothed loss."),
    hidden: Optional[str] = typer.Option(None, "--hidden", help="Hidden widths, e.g. 128,32 (default: 128,32; 256,128 from 30 outputs)."),
    head_option: List[str] = typer.Option([], "--head-option", help="Head option KEY=VALUE (repeatable), e.g. sigma=2.0."),
    layers: Optional[str] = typer.Option(None, "--layers", help="Comma-separated feature layers (default: all in the cache)."),
    seed: int = typer.Option(0, "--seed", help="Seed of initialisation, pixel sampling and batch order."),
    backbone: Optional[str] = typer.Option(None, "--backbone", help="Refuse the cache unless this generator made it."),
    device: str = typer.Option("cpu", "--device", envvar="DGAN_DEVICE", help="cpu, cuda[:N] or auto."),
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: train only part I (0-based) of N of the "
                                        "members; the same command without --shard joins the parts (docs/scale.md)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON."),
) -> None:
    """Train the style interpreter (a pixel-MLP ensemble) for one head on a labelled cache."""
    from dgan_cli import distributed, load_backbone
    from dgan_cli.cache import CacheReader
    from dgan_cli.interpreter import Interpreter, MemberReport, TrainOptions, train_ensemble
    from dgan_cli.interpreter.ensemble import Ensemble
    from dgan_cli.registry import default_registry
    from dgan_plugins.pipeline.sample import open_device

    check_positive(members=(members, 1), pixels_per_image=(pixels_per_image, 2), epochs=(epochs, 1),
                   iters=(iters, 1), batch_size=(batch_size, 2), patience=(patience, 0))
    if not lr > 0:
        raise DganError(f"--lr must be positive, got {lr}")
    head_options = parse_options(head_option, "--head-option")
    default_registry().get("head", head)  # an unknown head name fails before any file is read
    started = time.perf_counter()
    with CacheReader(cache) as reader, distributed.joined(shard, device) as part:
        options = TrainOptions(members=members, pixels_per_image=pixels_per_image, batch_size=batch_size,
                               epochs=epochs, iters=iters, lr=lr, patience=patience, seed=seed,
                               hidden=parse_hidden(hidden), device=open_device(part.device))
        stored = reader.label_schema(head)
        model = build_head(head, stored.attrs.get("names", []), head_options)
        expected = model.label_schema(reader.image_hw)
        if (tuple(expected.shape), expected.dtype) != (tuple(stored.shape), stored.dtype):
            raise DganError(f"{cache}: '{head}' labels stored as {stored.dtype} {list(stored.shape)}, the head "
                            f"expects {expected.dtype} {list(expected.shape)}")
        if backbone is not None:
            reader.check_backbone(load_backbone(backbone).identity())
        chosen = select_layers(reader, layers)
        labelled = [reader.ids[i] for i in reader.labelled(head)]
        job = training_job(reader, head, model.config(), chosen, options)
        trained = {}  # member -> (weights, report as a dict)
        ensemble = Ensemble(sum(layer.channels for layer in chosen), model.num_outputs, members, options.hidden)

        def save(path: Path) -> None:
            for m, (state, _) in trained.items():
                ensemble.members[m].load_state_dict(state)
            training = {"options": options.as_dict(), "cache": str(cache), "samples": labelled,
                        "members": [trained[m][1] for m in sorted(trained)]}
            Interpreter(model, head, list(stored.attrs.get("names", [])), chosen, reader.image_hw,
                        reader.backbone or {}, ensemble.eval(), training).save(path)

        def write(path: Path, share: range, part_of: Optional[tuple]) -> None:
            if part_of is not None and path.exists():
                trained.update(load_shard(path, job))

            def keep(m, member, report) -> None:
                trained[m] = ({k: v.detach().cpu().clone() for k, v in member.state_dict().items()}, vars(report))
                if part_of is not None:
                    save_shard(path, job, trained)

            train_ensemble(reader, model, chosen, options, members=[m for m in share if m not in trained],
                           on_member=keep)
            if part_of is None:
                save(path)
            elif not trained:  # a part with no members still leaves its (empty) shard
                save_shard(path, job, trained)

        def join(shards: list) -> None:
            for index, path in enumerate(shards):
                have = load_shard(path, job)
                share = distributed.Part(index, len(shards)).share(members)
                if sorted(have) != list(share):
                    raise DganError(f"{path}: shard {index} of {len(shards)} is unfinished "
                                    f"({len(have)} of {len(share)} members)",
                                    hint=f"run its part again (--shard {index}/{len(shards)}, or the same torchrun)")
                trained.update(have)
            save(out)

        outcome = distributed.run(part, out, members, 1, write, join)
    if not part.finishes:  # a shard: the results are the joined output's
        distributed.report_shard(part, out, outcome)
        return
    reports = [MemberReport(**trained[m][1]) for m in sorted(trained)]
    metric_names = sorted({k for r in reports for k in r.metrics})
    print_table(f"dgan train: {head} on {len(labelled)} labelled samples",
                ["member", "pixels", "iterations", "early stop", "final loss", *metric_names],
                [[r.member, r.pixels, r.iterations, "yes" if r.stopped_early else "no", r.final_loss,
                  *[r.metrics.get(k, "-") for k in metric_names]] for r in reports])
    write_json(json_path, {"interpreter": str(out), "head": head, "head_options": model.config(),
                           "labelled_samples": len(labelled), "layers": [l.name for l in chosen],
                           "feature_dims": ensemble.in_dim, "hidden": list(ensemble.hidden),
                           "members": [vars(r) for r in reports],
                           "seconds": round(time.perf_counter() - started, 3), **outcome.as_dict()})
