"""`dgan toy ...`: the toy world's commands.

render            labelled images, as a folder or an HDF5 cache
train-classifier  the classifier whose features FID uses (classifier.py)
fid               FID of a generator against rendered images (quality.py)
train-annotator   the annotator stand-in (annotator.py, annotator_train.py)
annotate          generator samples labelled by it, ready for `dgan annotate-import` (annotate.py)
fidelity          whether a generator draws every part as often and as large as the world (fidelity.py)
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Optional

import typer

from dgan_cli.errors import DganError
from dgan_plugins.toy import ANNOTATOR_WEIGHTS

app = typer.Typer(no_args_is_help=True, help="The toy world: labelled images whose ground truth is known.")

MIN_RESOLUTION, MAX_RESOLUTION = 16, 256
MAX_SEED = 2 ** 63 - 1
HDF5_SUFFIXES = (".h5", ".hdf5")


@app.command("render")
def render_command(
    n: Optional[int] = typer.Option(None, "--n", help="Number of images (with --seed)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="First seed; image i uses seed + i. Default 0."),
    split: Optional[str] = typer.Option(None, "--split",
                                        help="A documented split instead of --n/--seed: train16, test, full."),
    resolution: int = typer.Option(64, "--resolution", help="Image side in pixels (16..256)."),
    out: Path = typer.Option(..., "--out", help="Output folder, or an .h5 file."),
    fmt: Optional[str] = typer.Option(None, "--format", help="folder or hdf5 (default: hdf5 for .h5 paths)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the summary as JSON."),
) -> None:
    """Render images with part masks, keypoints, depth and class labels."""
    from dgan_cli.console import print_table, progress, write_json
    from dgan_plugins.toy import dataset

    seeds = _seeds(n, seed, split)
    _check_resolution(resolution)
    fmt = _format(fmt, out)
    _check_writable(out)
    provenance = {"seeds": [seeds.start, len(seeds)], "split": split, "resolution": resolution}
    sink = dataset.open_output(out, fmt, resolution, overwrite=overwrite, provenance=provenance)
    with progress("Rendering toy images", total=len(seeds)) as bar:
        summary = dataset.write(sink, seeds, resolution, advance=bar.advance)
    summary.update({"out": str(out), "format": fmt, "first_seed": seeds.start, "split": split,
                    "resolution": resolution})
    counts = summary["class_counts"]
    rate = summary["images_per_s"]
    print_table(f"dgan toy render -> {out}", ["images", "rendered", "seconds", "images/s", *counts],
                [[summary["n"], summary["rendered"], summary["seconds"], rate if rate is not None else "-",
                  *counts.values()]])
    write_json(json_path, summary)


def _seeds(n: Optional[int], seed: Optional[int], split: Optional[str]) -> range:
    from dgan_plugins.toy.dataset import SPLITS, split_seeds

    if split is not None:
        if n is not None or seed is not None:
            raise DganError("--split already fixes the seeds: give either --split or --n/--seed")
        if split not in SPLITS:
            raise DganError(f"unknown --split '{split}'; choose one of {', '.join(SPLITS)}")
        return split_seeds(split)
    if n is None:
        raise DganError("give --n (and optionally --seed), or --split")
    seed = 0 if seed is None else seed
    if n < 1:
        raise DganError(f"--n must be at least 1, got {n}")
    if seed < 0 or seed + n - 1 > MAX_SEED:
        raise DganError(f"seeds must lie within 0..{MAX_SEED}, got {seed}..{seed + n - 1}")
    return range(seed, seed + n)


def _format(fmt: Optional[str], out: Path) -> str:
    if fmt is None:
        return "hdf5" if out.suffix.lower() in HDF5_SUFFIXES else "folder"
    if fmt not in ("folder", "hdf5"):
        raise DganError(f"unknown --format '{fmt}'; choose folder or hdf5")
    return fmt


def _check_writable(out: Path) -> None:
    """Fail before rendering when the output's folder cannot be created or written."""
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise DganError(f"cannot write {out}: {parent} is not a writable folder")


@app.command("train-classifier")
def train_classifier_command(
    out: Path = typer.Option(..., "--out", help="Checkpoint to write (.pt)."),
    images: int = typer.Option(8000, "--images", help="Rendered training images: seeds 300000 on."),
    steps: int = typer.Option(2000, "--steps", help="Optimisation steps."),
    batch: int = typer.Option(64, "--batch", help="Images per step."),
    resolution: int = typer.Option(64, "--resolution", help="Image side in pixels (the generator's)."),
    test_images: int = typer.Option(500, "--test-images", help="Images of the `test` split to score on (at most 500)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the initialisation and the batch order."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the summary as JSON."),
) -> None:
    """Train the toy-world classifier whose features `dgan toy fid` uses."""
    from dgan_cli.console import print_table, progress, write_json
    from dgan_plugins.toy import classifier as clf
    from dgan_plugins.toy.dataset import split_seeds

    _check_counts(images=images, steps=steps, batch=batch, test_images=test_images)
    _check_resolution(resolution)
    _check_writable(out)
    started = time.perf_counter()
    with progress("Rendering training images", total=images) as bar:
        x, y = clf.render_labelled(range(clf.TRAIN_SEED_START, clf.TRAIN_SEED_START + images), resolution,
                                   bar.advance)
    with progress("Training the classifier", total=steps) as bar:
        model = clf.train_classifier(x, y, steps=steps, batch=batch, seed=seed,
                                     on_step=lambda s, loss: bar.advance(1, description=f"loss {loss:.3f}"))
    test = split_seeds("test")[:test_images]
    with progress("Scoring on the test split", total=len(test)) as bar:
        tx, ty = clf.render_labelled(test, resolution, bar.advance)
    _, predicted = clf.embed(model, tx)
    summary = {"out": str(out), "images": images, "first_seed": clf.TRAIN_SEED_START, "steps": steps,
               "batch": batch, "seed": seed, "resolution": resolution, "feature_dim": model.feature_dim,
               "test_accuracy": float((predicted == ty).mean()), "test_images": len(test),
               "seconds": round(time.perf_counter() - started, 1)}
    clf.save_classifier(out, model, resolution, {k: v for k, v in summary.items() if k != "out"})
    print_table(f"dgan toy train-classifier -> {out}", ["", ""],
                [["training images", f"{images} (seeds {clf.TRAIN_SEED_START}..)"], ["steps x batch",
                 f"{steps} x {batch}"], ["feature dims", model.feature_dim],
                 ["test accuracy", summary["test_accuracy"]], ["seconds", summary["seconds"]]])
    write_json(json_path, summary)


@app.command("fid")
def fid_command(
    backbone: str = typer.Option(..., "--backbone", help="Checkpoint file or registered backbone name (toy)."),
    n: int = typer.Option(2000, "-n", "--n", help="Images per set (generated, real, second real)."),
    seed: int = typer.Option(0, "--seed", help="First generator seed."),
    truncation: float = typer.Option(1.0, "--truncation", help="Truncation psi of the generated images."),
    real_seed: int = typer.Option(1_000_000, "--real-seed",
                                  help="First seed of the real set (default: the toy GAN's training images)."),
    classifier: Optional[Path] = typer.Option(None, "--classifier", help="Classifier checkpoint (default: shipped)."),
    batch: int = typer.Option(32, "--batch", help="Generator images per forward pass."),
    device: str = typer.Option("cpu", "--device", envvar="DGAN_DEVICE", help="cpu, cuda[:N] or auto (the generator's device)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON."),
) -> None:
    """FID of generated vs rendered images in the toy classifier's features, and its real-vs-real floor."""
    from dgan_cli.console import print_table, write_json
    from dgan_plugins.pipeline.sample import check_seeds
    from dgan_plugins.toy.classifier import load_classifier
    from dgan_plugins.toy.quality import fid_report

    if n < 2:
        raise DganError(f"-n must be at least 2 (FID needs a covariance), got {n}")
    check_seeds(seed, n)
    if real_seed < 0 or real_seed + 2 * n - 1 > MAX_SEED:
        raise DganError(f"--real-seed: the real sets need seeds {real_seed}..{real_seed + 2 * n - 1}, "
                        f"within 0..{MAX_SEED}")
    _check_counts(batch=batch)
    model, info = load_classifier(classifier)
    gan = _open_generator(backbone, device, classifier=info)
    started = time.perf_counter()
    report = fid_report(gan, model, n=n, seed=seed, truncation=truncation, real_seed=real_seed, batch=batch)
    report.update(classifier=str(classifier or "shipped"), seconds=round(time.perf_counter() - started, 1))
    print_table(f"dgan toy fid: {backbone}", ["", ""], [
        ["FID (generated vs real)", report["fid"]], ["FID floor (real vs real)", report["fid_real_vs_real"]],
        ["images per set", n], ["classifier accuracy on real", report["classifier_accuracy_real"]],
        *[[f"generated classed as {name}", f"{frac:.1%}"] for name, frac in
          report["generated_class_fractions"].items()],
        ["truncation psi", truncation], ["seconds", report["seconds"]]])
    write_json(json_path, report)


@app.command("train-annotator")
def train_annotator_command(
    out: Path = typer.Option(..., "--out", help="Checkpoint to write (.pt)."),
    images: int = typer.Option(5000, "--images", help="Rendered training images."),
    first_seed: int = typer.Option(200_000, "--first-seed", help="First seed (default: the `full` split)."),
    steps: int = typer.Option(3000, "--steps", help="Optimisation steps."),
    batch: int = typer.Option(16, "--batch", help="Images per step."),
    width: int = typer.Option(16, "--width", help="UNet width (channels of its first level)."),
    resolution: int = typer.Option(64, "--resolution", help="Image side in pixels (the generator's)."),
    test_images: int = typer.Option(500, "--test-images", help="Images of the `test` split to score on (at most 500)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the initialisation and the batch order."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the summary as JSON."),
) -> None:
    """Train the annotator stand-in (parts, keypoints with visibility, depth) on rendered images."""
    from dgan_cli.console import print_table, progress, write_json
    from dgan_cli.checksum import file_sha256
    from dgan_plugins.toy import annotator_train as at
    from dgan_plugins.toy.annotator import save_annotator
    from dgan_plugins.toy.dataset import split_seeds

    _check_counts(images=images, steps=steps, batch=batch, width=width, test_images=test_images)
    _check_resolution(resolution)
    if first_seed < 0 or first_seed + images - 1 > MAX_SEED:
        raise DganError(f"--first-seed: seeds must lie within 0..{MAX_SEED}")
    _check_writable(out)
    started = time.perf_counter()
    with progress("Rendering training images", total=images) as bar:
        data = at.render_training_set(range(first_seed, first_seed + images), resolution, bar.advance)
    model = at.new_annotator(data, width, resolution, seed)
    with progress("Training the annotator", total=steps) as bar:
        at.train_annotator(model, data, steps=steps, batch=batch, seed=seed,
                           on_step=lambda s, losses: bar.advance(1, description=f"loss {sum(losses.values()):.3f}"))
    test = split_seeds("test")[:test_images]
    with progress("Scoring on the test split", total=len(test)) as bar:
        scores = at.score_annotator(model, at.render_training_set(test, resolution, bar.advance))
    summary = {"images": images, "first_seed": first_seed, "steps": steps, "batch": batch, "width": width,
               "resolution": resolution, "seed": seed, "test": scores,
               "seconds": round(time.perf_counter() - started, 1)}
    save_annotator(out, model, summary)
    summary.update(out=str(out), sha256=file_sha256(out))
    print_table(f"dgan toy train-annotator -> {out}", ["", ""], [
        ["training images", f"{images} (seeds {first_seed}..)"], ["steps x batch", f"{steps} x {batch}"],
        ["test mIoU", scores["miou"]], ["test PCK@0.1", scores["pck@0.1"]],
        ["test visibility accuracy", scores["visibility_accuracy"]], ["test depth AbsRel", scores["depth_absrel"]],
        ["seconds", summary["seconds"]]])
    write_json(json_path, summary)


@app.command("annotate")
def annotate_command(
    backbone: str = typer.Option(..., "--backbone", help="Checkpoint file or registered backbone name (toy)."),
    annotator: Optional[Path] = typer.Option(None, "--annotator",
                                             help="Checkpoint of `dgan toy train-annotator` (default: shipped)."),
    out: Path = typer.Option(..., "--out", help="Annotation folder to write."),
    n: int = typer.Option(16, "-n", "--n", help="Number of samples (seeds SEED .. SEED+n-1)."),
    seed: int = typer.Option(0, "--seed", help="First seed."),
    truncation: float = typer.Option(0.7, "--truncation", help="Truncation psi (as `dgan sample`)."),
    tolerance: float = typer.Option(0.3, "--tolerance", help="Polygon simplification in pixels (0 = none)."),
    # dgan sample's default: the toy GAN's images can differ by a grey level between batch sizes
    batch: int = typer.Option(4, "--batch", help="Generator images per forward pass (as `dgan sample --batch`)."),
    device: str = typer.Option("cpu", "--device", envvar="DGAN_DEVICE", help="cpu, cuda[:N] or auto (the generator's device)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing folder."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the summary as JSON."),
) -> None:
    """Label generator samples with the annotator stand-in, in formats `dgan annotate-import` reads."""
    from dgan_cli.checksum import file_sha256
    from dgan_cli.console import print_table, write_json
    from dgan_plugins.pipeline.sample import check_seeds
    from dgan_plugins.toy.annotate import annotate_samples
    from dgan_plugins.toy.annotator import load_annotator

    check_seeds(seed, n)
    _check_counts(batch=batch)
    if not (math.isfinite(truncation) and math.isfinite(tolerance) and tolerance >= 0):
        raise DganError("--truncation must be finite and --tolerance a finite number >= 0")
    if out.exists() and not overwrite:
        raise DganError(f"{out} already exists", hint="choose another --out, or pass --overwrite")
    _check_writable(out)
    model, info = load_annotator(annotator)
    gan = _open_generator(backbone, device, annotator=info)
    started = time.perf_counter()
    annotator_path = annotator or ANNOTATOR_WEIGHTS
    annotator_info = {"path": _shown_path(annotator_path), "sha256": file_sha256(annotator_path),
                      "test": info.get("training", {}).get("test")}
    summary = annotate_samples(gan, backbone, model, annotator_info, seeds=range(seed, seed + n),
                               truncation=truncation, out=out, tolerance=tolerance, batch=batch, overwrite=overwrite)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print_table(f"dgan toy annotate -> {out}", ["", ""], [
        ["samples", f"{n} (seeds {seed}..{seed + n - 1})"], ["polygons", summary["polygons"]],
        ["polygon vertices", summary["polygon_vertices"]],
        ["polygon mIoU vs predicted masks", summary["polygon_miou"]],
        ["keypoints visible / occluded", f"{summary['keypoints_visible']} / {summary['keypoints_occluded']}"],
        ["seconds", summary["seconds"]]])
    write_json(json_path, summary)


@app.command("fidelity")
def fidelity_command(
    backbone: str = typer.Option(..., "--backbone", help="Checkpoint file or registered backbone name (toy)."),
    n: int = typer.Option(1000, "-n", "--n", help="Generator samples (seeds SEED .. SEED+n-1)."),
    seed: int = typer.Option(0, "--seed", help="First generator seed."),
    truncation: float = typer.Option(0.7, "--truncation", help="Truncation psi of the samples."),
    test_images: int = typer.Option(500, "--test-images", help="Images of the `test` split to compare with (<= 500)."),
    annotator: Optional[Path] = typer.Option(None, "--annotator", help="Annotator checkpoint (default: shipped)."),
    classifier: Optional[Path] = typer.Option(None, "--classifier", help="Classifier checkpoint (default: shipped)."),
    batch: int = typer.Option(32, "--batch", help="Generator images per forward pass."),
    device: str = typer.Option("cpu", "--device", envvar="DGAN_DEVICE", help="cpu, cuda[:N] or auto (the generator's device)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the results as JSON."),
) -> None:
    """Per part class, how often and how large the generator draws it against the test split; and FID."""
    from dgan_cli.console import print_table, write_json
    from dgan_plugins.pipeline.sample import check_seeds
    from dgan_plugins.toy.annotator import load_annotator
    from dgan_plugins.toy.classifier import load_classifier
    from dgan_plugins.toy.fidelity import fidelity_report

    if n < 2:
        raise DganError(f"-n must be at least 2 (FID needs a covariance), got {n}")
    check_seeds(seed, n)
    _check_counts(batch=batch, test_images=test_images)
    if not math.isfinite(truncation):
        raise DganError("--truncation must be a finite number")
    annotator_model, annotator_info = load_annotator(annotator)
    classifier_model, classifier_info = load_classifier(classifier)
    gan = _open_generator(backbone, device, annotator=annotator_info, classifier=classifier_info)
    started = time.perf_counter()
    report = fidelity_report(gan, annotator_model, classifier_model, n=n, seed=seed, truncation=truncation,
                             batch=batch, test_images=min(test_images, 500))
    report.update(backbone_source=backbone, seconds=round(time.perf_counter() - started, 1))

    def show(value):
        return "-" if value is None else f"{value:.2f}"

    rows = [[name, show(c["pixel_ratio"]), show(c["presence_ratio"]), f"{c['generated_pixel_share']:.2%}",
             f"{c['real_pixel_share']:.2%}"] for name, c in report["classes"].items()]
    print_table(f"dgan toy fidelity: {backbone}, {n} samples at psi {truncation}",
                ["class", "pixel ratio", "presence ratio", "generated pixels", "real pixels"], rows)
    print_table("", ["image class", "share ratio", "generated", "real"],
                [[name, show(c["share_ratio"]), f"{c['generated_share']:.1%}", f"{c['real_share']:.1%}"]
                 for name, c in report["object_classes"].items()])
    print_table("", ["", ""], [["annotator mIoU on real test", f"{report['annotator_miou']:.3f}"],
                               ["FID vs test (floor)", f"{report['fid']:.2f} ({report['fid_floor']:.2f})"],
                               ["seconds", report["seconds"]]])
    write_json(json_path, report)


def _open_generator(backbone: str, device: str, **networks: dict):
    """The backbone, refused in one line unless it draws at the size each of `networks` (name: info) was trained on."""
    from dgan_cli import load_backbone
    from dgan_plugins.pipeline.sample import open_device

    gan = load_backbone(backbone, device=open_device(device))
    for name, info in networks.items():
        if gan.resolution != info["config"]["resolution"]:
            raise DganError(f"the {name} sees {info['config']['resolution']} px images, the backbone makes "
                            f"{gan.resolution} px ones", hint=f"train a {name} at that size with "
                            f"`dgan toy train-{name} --resolution {gan.resolution}`")
    return gan


def _shown_path(path: Path) -> str:
    """A shipped file by its place in the package, so that records do not name this machine's folders."""
    try:
        return str(Path(path).resolve().relative_to(Path(__file__).resolve().parents[2]))
    except ValueError:
        return str(path)


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        if value < 1:
            raise DganError(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def _check_resolution(resolution: int) -> None:
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise DganError(f"--resolution must be within {MIN_RESOLUTION}..{MAX_RESOLUTION}, got {resolution}")
