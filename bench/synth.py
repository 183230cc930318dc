"""What labelling costs on top of the generator, and what the fast interpreter path saves.

    python bench/synth.py [--threads N] [--repeats 3] [--json PATH] [--train-1024] [--device cpu|cuda]

For the toy backbone (64px, `dgan_cli.load_backbone("toy")`) and a
random-weight 256px config-f StyleGAN2 (channel_base 32768, channel_max 512,
14 ws), each head with the paper's ensemble (10 members, hidden 128/32):

- ratio A: time(mapping + synthesis with features + the head's ensemble +
  combine + filter score) / time(mapping + synthesis, no features kept), for
  each head (segmentation, keypoints, depth) and all three together; beside
  it the same ratio in multiply-adds (generator counted by torch's
  FlopCounterMode, interpreter analytically: the floor of the design);
- ratio B: time(naive path: upsample every layer, concatenate, per-pixel
  MLPs) / time(fast path) for the segmentation ensemble, with the fraction of
  pixels whose labels agree, the largest output difference and the
  multiply-add ratio;
- peak memory of both paths: RSS high-water mark above the level before the
  call, each in a fresh process (Linux), and their largest live tensors,
  counted from shapes;
- cache bytes per training image at 1024px (fp16, native resolution) vs an
  upsampled fp16 layout;
- with --train-1024: peak RSS of the real `dgan train` (segmentation) in a
  subprocess, on a cache that `dgan sample` and `dgan annotate-import` made
  from 16 samples of a random-weight 1024px config-f generator (takes
  minutes and ~4.5 GB of temporary disk).

Timings: one process; a warm-up, then --repeats interleaved rounds (every
measured function once per round, so a change in the machine's load falls on
all alike); medians of wall-clock and of process CPU time. The CPU clock
counts only this process's work, which on a shared machine is the steadier
figure with --threads 1. The results table is printed last.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from dgan_cli.console import print_table, write_json
from dgan_cli.interpreter import Ensemble, Interpreter, naive_outputs
from dgan_cli.registry import default_registry

MEMBERS, HIDDEN = 10, (128, 32)
HEADS = {"segmentation": [f"part{i}" for i in range(9)], "keypoints": [f"kp{i}" for i in range(7)],
         "depth": ["depth"]}
CONFIG_F = {"z_dim": 512, "w_dim": 512, "mapping": 8, "channel_base": 32768, "channel_max": 512}
TRAIN_SAMPLES = 16
CLOCKS = ("wall", "cpu")


def random_generator(resolution: int, seed: int = 0):
    from dgan_plugins.stylegan2.networks import Generator

    torch.manual_seed(seed)
    cfg = CONFIG_F
    return Generator(z_dim=cfg["z_dim"], c_dim=0, w_dim=cfg["w_dim"], img_resolution=resolution, img_channels=3,
                     mapping_kwargs={"num_layers": cfg["mapping"]},
                     synthesis_kwargs={"channel_base": cfg["channel_base"], "channel_max": cfg["channel_max"]}).eval()


def build(resolution: int, device: str):
    from dgan_cli import load_backbone
    from dgan_plugins.stylegan2.backbone import StyleGAN2Backbone

    if resolution == 64:
        return load_backbone("toy", device=device), "toy backbone (64px)"
    return StyleGAN2Backbone(random_generator(resolution).to(device)), f"random {resolution}px config-f StyleGAN2"


def interpreters(backbone, device: str) -> list[Interpreter]:
    """One 10-member interpreter per built-in head, random weights (timing does not depend on them)."""
    layers = list(backbone.layers)
    out = []
    for h, (kind, names) in enumerate(HEADS.items()):
        head = default_registry().get("head", kind).build(names)
        ensemble = Ensemble(sum(l.channels for l in layers), head.num_outputs, MEMBERS, HIDDEN, seed=h)
        with torch.no_grad():  # larger weights than the init, so labels are not near ties everywhere
            for member in ensemble.members:
                for mod in member:
                    if isinstance(mod, torch.nn.Linear):
                        mod.weight.mul_(10)
        hw = (backbone.resolution, backbone.resolution)
        out.append(Interpreter(head, kind, names, layers, hw, backbone.identity(), ensemble.eval().to(device)))
    return out


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timings(fns: dict, repeats: int, device: str) -> dict:
    """{name: {"wall": s, "cpu": s}}: medians over interleaved rounds, after one warm-up call each."""
    for fn in fns.values():
        fn()
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync(device)
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            sync(device)
            samples[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {name: {clock: statistics.median(s[i] for s in runs) for i, clock in enumerate(CLOCKS)}
            for name, runs in samples.items()}


def generator_macs(backbone, seeds) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        backbone.synthesize(backbone.sample(seeds, 0.7)["ws"], layers=[])
    return counter.get_total_flops() // 2


def interpreter_macs(layers, hw, outputs: int, path: str) -> int:
    """Multiply-adds of one image through one ensemble (bilinear upsampling: 4 per output value)."""
    h1, h2 = HIDDEN
    pixels = hw[0] * hw[1]
    rest = MEMBERS * (h2 * h1 + outputs * h2) * pixels
    if path == "naive":
        upsampled = sum(l.channels for l in layers if l.resolution != hw[0])
        return 4 * upsampled * pixels + MEMBERS * h1 * sum(l.channels for l in layers) * pixels + rest
    by_res = {}
    for layer in layers:
        by_res[layer.resolution] = by_res.get(layer.resolution, 0) + layer.channels
    first = sum(MEMBERS * h1 * c * r * r for r, c in by_res.items())
    upsample = sum(4 * MEMBERS * h1 * pixels for r in by_res if r != hw[0])
    return first + upsample + rest


def rss_kib(key: str = "VmRSS", pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


def peak_rss_mib(fn) -> float:
    """RSS high-water mark above the level before `fn` (Linux), MiB."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return float("nan")
    before = rss_kib()
    fn()
    return (rss_kib("VmHWM") - before) / 1024


def child_peak_rss_mib(resolution: int, path: str, args) -> float:
    """Peak RSS growth of one pass of a path, measured in a fresh process (no memory reused from others)."""
    out = subprocess.run([sys.executable, __file__, "--memory-child", path, "--resolution", str(resolution),
                          "--device", args.device, "--batch", str(args.batch), "--threads", str(args.threads)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"]


def memory_child(path: str, resolution: int, device: str, batch: int) -> None:
    backbone, _ = build(resolution, device)
    seg = interpreters(backbone, device)[0]
    with torch.no_grad():
        _, feats = backbone.synthesize(backbone.sample(list(range(batch)), 0.7)["ws"])
    hw = (backbone.resolution, backbone.resolution)
    run = seg.fast(device) if path == "fast" else (lambda f: naive_outputs(seg.ensemble, f, seg.layers, hw))
    print(json.dumps({"peak_rss_mib": peak_rss_mib(lambda: run(feats))}))


def tensor_peaks_mib(layers, hw, batch: int, runner) -> dict:
    """Largest simultaneously live float32 tensors, from their shapes. Naive: the upsampled concatenation
    and its pixel-major copy. Fast: one image's native first-layer maps below image size, one band
    (its activations, blended rows and gathered taps) and the output."""
    hidden, pixels = MEMBERS * HIDDEN[0], hw[0] * hw[1]
    output = batch * MEMBERS * runner.num_outputs * pixels
    below = sorted({l.resolution for l in layers} - {hw[0]})
    band = runner.band_rows() * hidden * (hw[1] + sum(below) + (runner.widen.taps.numel() if below else 0))
    fast = hidden * sum(r * r for r in below) + band + output
    naive = 2 * batch * sum(l.channels for l in layers) * pixels + output
    return {"fast": fast * 4 / 2 ** 20, "naive": naive * 4 / 2 ** 20}


def bench_backbone(name: str, backbone, args) -> dict:
    device, seeds = args.device, list(range(args.batch))
    interps = interpreters(backbone, device)
    runners = [i.fast(device) for i in interps]
    filt = default_registry().get("filter", "js").build()
    hw = (backbone.resolution, backbone.resolution)

    def generator():
        with torch.no_grad():
            return backbone.synthesize(backbone.sample(seeds, 0.7)["ws"], layers=[])

    def labelled(chosen):
        def run():
            with torch.no_grad():
                _, feats = backbone.synthesize(backbone.sample(seeds, 0.7)["ws"])
            for interp, runner in ((interps[i], runners[i]) for i in chosen):
                outputs = runner(feats)
                for b in range(len(seeds)):
                    label, umap = interp.head.combine(outputs[b])
                    filt.score(umap, label)
        return run

    heads = {kind: [i] for i, kind in enumerate(HEADS)} | {"all_heads": list(range(len(HEADS)))}
    seconds = timings({"generator": generator} | {kind: labelled(idx) for kind, idx in heads.items()},
                      args.repeats, device)
    g_macs = generator_macs(backbone, seeds)
    fast_macs = [interpreter_macs(backbone.layers, hw, i.head.num_outputs, "fast") * args.batch for i in interps]
    naive_macs = interpreter_macs(backbone.layers, hw, interps[0].head.num_outputs, "naive") * args.batch
    ratio_a = {kind: {clock: seconds[kind][clock] / seconds["generator"][clock] for clock in CLOCKS}
               | {"macs": (g_macs + sum(fast_macs[i] for i in idx)) / g_macs} for kind, idx in heads.items()}

    with torch.no_grad():
        _, feats = backbone.synthesize(backbone.sample(seeds, 0.7)["ws"])
    seg, runner = interps[0], runners[0]
    paths = timings({"fast": lambda: runner(feats),
                     "naive": lambda: naive_outputs(seg.ensemble, feats, seg.layers, hw)},
                    max(1, (args.repeats + 1) // 2), device)
    fast_out, naive_out = runner(feats), naive_outputs(seg.ensemble, feats, seg.layers, hw)
    fast_labels = np.stack([seg.head.combine(o)[0] for o in fast_out])
    naive_labels = np.stack([seg.head.combine(o)[0] for o in naive_out])
    mem_fast, mem_naive = (child_peak_rss_mib(backbone.resolution, path, args) for path in ("fast", "naive"))
    return {
        "backbone": name, "resolution": backbone.resolution, "batch": args.batch,
        "feature_dims": sum(l.channels for l in backbone.layers), "layers": len(backbone.layers),
        "seconds": seconds | {f"{p}_path": s for p, s in paths.items()},
        "ratio_a": ratio_a,
        "ratio_b": {clock: paths["naive"][clock] / paths["fast"][clock] for clock in CLOCKS}
                   | {"macs": naive_macs / fast_macs[0], "labels_equal": float((fast_labels == naive_labels).mean()),
                      "max_abs_diff": float((fast_out - naive_out).abs().max()),
                      "max_abs_output": float(naive_out.abs().max())},
        "macs": {"generator": g_macs, "fast_segmentation": fast_macs[0], "naive_segmentation": naive_macs},
        "peak_rss_mib": {"fast": mem_fast, "naive": mem_naive},
        "tensor_peak_mib": tensor_peaks_mib(backbone.layers, hw, args.batch, runner),
    }


def layer_specs(resolution: int) -> list:
    """(name, channels, resolution) of every feature layer of a config-f generator."""
    from dgan_plugins.stylegan2.networks import SynthesisNetwork

    return SynthesisNetwork(w_dim=512, img_resolution=resolution, img_channels=3,
                            channel_base=CONFIG_F["channel_base"], channel_max=CONFIG_F["channel_max"]).layer_specs()


def cache_bytes_1024() -> dict:
    layers = layer_specs(1024)
    native = sum(2 * c * r * r for _, c, r in layers)
    upsampled = 2 * 1024 * 1024 * sum(c for _, c, _ in layers)
    return {"layers": len(layers), "feature_dims": sum(c for _, c, _ in layers), "native_fp16_bytes": native,
            "upsampled_fp16_bytes": upsampled, "ratio": upsampled / native}


def child_hwm_kib(proc: subprocess.Popen, every: float = 0.2) -> int:
    """The child's own RSS high-water mark (VmHWM), read until it exits.

    Not `ru_maxrss`: a child that subprocess starts (vfork + exec) inherits the
    parent's high-water mark in it, here that of the naive path's gigabytes.
    VmHWM only rises, so the last reading misses at most a peak in the final
    `every` seconds (where `dgan train` writes a small checkpoint).
    """
    peak = 0
    while proc.poll() is None:
        try:
            peak = max(peak, rss_kib("VmHWM", proc.pid))
        except OSError:  # exited between poll() and the read
            pass
        time.sleep(every)
    return peak


def dgan(*argv) -> list[str]:
    """The command line of the installed CLI (`dgan ...`), quiet."""
    return [sys.executable, "-m", "dgan_cli", "-q", *[str(a) for a in argv]]


def train_rss(work: Path, iters: int, members: int, env: dict, resolution: int = 1024) -> dict:
    """Peak RSS of `dgan train` (segmentation) on 16 annotated samples of a random-weight config-f
    generator. The cache is made by the real commands: `dgan sample`, then `dgan annotate-import` of
    blocky random masks (9 classes on a 16x16 grid of cells: memory depends on shapes, not on what is
    drawn)."""
    from PIL import Image

    from dgan_plugins.stylegan2.checkpoint import save_checkpoint

    checkpoint, cache, masks = work / "generator.pt", work / "cache.h5", work / "masks"
    save_checkpoint(checkpoint, random_generator(resolution))
    subprocess.run(dgan("sample", "--backbone", checkpoint, "-n", TRAIN_SAMPLES, "--cache", cache,
                        "--out", work / "samples", "--batch", 1), check=True, env=env)
    masks.mkdir()
    rng = np.random.default_rng(0)
    for sample_id in json.loads((work / "samples" / "samples.json").read_text())["samples"]:
        cell = resolution // 16
        cells = rng.integers(0, 9, (16, 16)).astype(np.uint8).repeat(cell, axis=0).repeat(cell, axis=1)
        Image.fromarray(cells, mode="L").save(masks / f"{sample_id}.png")
    labels = work / "labels.json"
    labels.write_text(json.dumps({"segmentation": {"classes": HEADS["segmentation"]}}))
    subprocess.run(dgan("annotate-import", masks, "--cache", cache, "--format", "png-masks", "--labels", labels),
                   check=True, env=env)
    start = time.perf_counter()
    proc = subprocess.Popen(dgan("train", "--cache", cache, "--head", "segmentation", "--out", work / "i.pt",
                                 "--iters", iters, "--members", members), env=env)
    peak_kib = child_hwm_kib(proc)
    if proc.returncode != 0:
        raise SystemExit(f"dgan train failed with status {proc.returncode}")
    return {"resolution": resolution, "samples": TRAIN_SAMPLES, "members": members, "pixels_per_image": 4096, "iters_per_member": iters,
            "feature_dims": sum(c for _, c, _ in layer_specs(resolution)), "peak_rss_gib": peak_kib / 2 ** 20,
            "seconds": time.perf_counter() - start, "cache_gib": cache.stat().st_size / 2 ** 30}


def table_rows(results: dict) -> list[list[str]]:
    """Ratios as "wall / cpu / MACs"; A per head and for the three heads together."""
    def ratios(d, fmt="{:.2f}"):
        return " / ".join(fmt.format(d[k]) for k in (*CLOCKS, "macs"))

    rows = []
    for run in results["runs"]:
        a, b, s, big = run["ratio_a"], run["ratio_b"], run["seconds"], run["resolution"] >= 256
        target_a = "<= 2.0; <= 1.3 x MACs" if big else "<= 1.3 x MACs"
        rows.append([run["backbone"], "generator s (wall / cpu)",
                     f"{s['generator']['wall']:.3f} / {s['generator']['cpu']:.3f}", ""])
        rows += [["", f"A {kind.replace('_', ' ')}", ratios(a[kind]), target_a if kind != "all_heads" else ""]
                 for kind in (*HEADS, "all_heads")]
        rows += [["", "B naive / fast", ratios(b, "{:.1f}"), ">= 8" if big else ""],
                 ["", "labels equal; max |diff|",
                  f"{b['labels_equal']:.6f}; {b['max_abs_diff']:.1e} of {b['max_abs_output']:.0f}", "1.0"],
                 ["", "peak RSS MiB fast / naive",
                  f"{run['peak_rss_mib']['fast']:.0f} / {run['peak_rss_mib']['naive']:.0f}", ""],
                 ["", "tensors MiB fast / naive",
                  f"{run['tensor_peak_mib']['fast']:.0f} / {run['tensor_peak_mib']['naive']:.0f}", ""]]
    c = results["cache_1024"]
    rows.append(["1024px cache", "per image: native / upsampled",
                 f"{c['native_fp16_bytes'] / 2 ** 20:.0f} MiB / {c['upsampled_fp16_bytes'] / 2 ** 30:.1f} GiB "
                 f"({c['ratio']:.0f}x)", ""])
    if "train_1024" in results:
        t = results["train_1024"]
        rows.append(["dgan train 1024px", f"peak RSS, {t['samples']} samples, {t['members']} members",
                     f"{t['peak_rss_gib']:.2f} GiB", "<= 4 GB"])
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads (all runs)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--skip-256", action="store_true", help="only the 64px toy backbone")
    parser.add_argument("--train-1024", action="store_true", help="also measure `dgan train` RSS at 1024px")
    parser.add_argument("--train-iters", type=int, default=100, help="batches per member in --train-1024")
    parser.add_argument("--train-members", type=int, default=MEMBERS, help="ensemble size in --train-1024")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--memory-child", choices=("fast", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--resolution", type=int, default=64, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.memory_child:
        return memory_child(args.memory_child, args.resolution, args.device, args.batch)
    results = {"torch": torch.__version__, "threads": args.threads, "device": args.device, "runs": []}
    for resolution in (64,) if args.skip_256 else (64, 256):
        backbone, name = build(resolution, args.device)
        results["runs"].append(bench_backbone(name, backbone, args))
    results["cache_1024"] = cache_bytes_1024()
    if args.train_1024:
        env = os.environ | {"OMP_NUM_THREADS": str(args.threads)}
        with tempfile.TemporaryDirectory(prefix="dgan-bench-") as work:
            results["train_1024"] = train_rss(Path(work), args.train_iters, args.train_members, env)
    write_json(args.json, results)
    print_table(f"bench/synth.py: {args.device}, {args.threads} threads, batch {args.batch}, medians of "
                f"{args.repeats}; ratios wall / cpu / MACs", ["setup", "measure", "value", "target"],
                table_rows(results))


if __name__ == "__main__":
    main()
