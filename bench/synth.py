"""What labelling costs on top of the generator, and what the fast interpreter path saves.

    python bench/synth.py [--device cpu|cuda] [--repeats 3] [--json PATH] [--train-1024]

For a 64px generator (the toy backbone, or a random-weight 64px StyleGAN2
with channel_max 128 when none is installed) and a random-weight 256px
config-f StyleGAN2 (channel_base 32768, channel_max 512, 14 ws), with the
paper's ensemble (10 members, hidden 128/32) per head:

- ratio A: time(generator + features + every head's ensemble + combine +
  filter score) / time(generator alone), for the segmentation head alone and
  for segmentation + keypoints + depth; beside it the same ratio in
  multiply-adds (generator counted by torch's FlopCounterMode, interpreter
  analytically);
- ratio B: time(naive path: upsample every layer, concatenate, per-pixel
  MLPs) / time(fast path) for the segmentation ensemble, with the fraction of
  pixels whose labels agree, and the multiply-add ratio;
- peak memory of both paths: RSS high-water mark above the level before the
  call (Linux /proc/self/clear_refs), and the largest live tensors they
  allocate, counted from shapes;
- cache bytes per training image at 1024px (fp16, native resolution) vs an
  upsampled fp16 layout;
- with --train-1024: peak RSS of `dgan train` (segmentation, 16 annotated
  samples laid out as a 1024px config-f generator's features; takes minutes
  and 4 GiB of temporary disk).

Timings: one process, medians of --repeats runs after a warm-up. The results
table is printed last.
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
TOY_LIKE = {"z_dim": 128, "w_dim": 128, "mapping": 2, "channel_base": 4096, "channel_max": 128}


def random_stylegan2(resolution: int, cfg: dict, device: str, seed: int = 0):
    from dgan_plugins.stylegan2.backbone import StyleGAN2Backbone
    from dgan_plugins.stylegan2.networks import Generator

    torch.manual_seed(seed)
    gen = Generator(z_dim=cfg["z_dim"], c_dim=0, w_dim=cfg["w_dim"], img_resolution=resolution, img_channels=3,
                    mapping_kwargs={"num_layers": cfg["mapping"]},
                    synthesis_kwargs={"channel_base": cfg["channel_base"], "channel_max": cfg["channel_max"]})
    return StyleGAN2Backbone(gen.eval().to(device))


def toy_backbone(device: str):
    """The installed toy backbone, else the random-weight stand-in the brief names."""
    from dgan_cli.errors import DganError
    from dgan_cli.registry import load_backbone

    try:
        return load_backbone("toy", device=device), "toy backbone"
    except DganError:
        return random_stylegan2(64, TOY_LIKE, device), "random 64px StyleGAN2 (channel_max 128)"


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
        out.append(Interpreter(head, kind, names, layers, hw, backbone.identity(), ensemble.eval()))
    return out


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def median_time(fn, repeats: int, device: str) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def generator_macs(backbone, seeds) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        backbone.synthesize(backbone.sample(seeds, 0.7)["ws"])
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


def rss_kib(key: str = "VmRSS") -> int:
    with open("/proc/self/status") as fh:
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


def build(resolution: int, device: str):
    if resolution == 64:
        return toy_backbone(device)
    return random_stylegan2(256, CONFIG_F, device), "random 256px config-f StyleGAN2"


def child_peak_rss_mib(resolution: int, path: str, device: str, batch: int) -> float:
    """Peak RSS growth of one pass of a path, measured in a fresh process (no memory reused from others)."""
    out = subprocess.run([sys.executable, __file__, "--memory-child", path, "--resolution", str(resolution),
                          "--device", device, "--batch", str(batch)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"]


def memory_child(path: str, resolution: int, device: str, batch: int) -> None:
    backbone, _ = build(resolution, device)
    seg = interpreters(backbone, device)[0]
    with torch.no_grad():
        _, feats = backbone.synthesize(backbone.sample(list(range(batch)), 0.7)["ws"])
    hw = (backbone.resolution, backbone.resolution)
    run = seg.fast(device) if path == "fast" else (lambda f: naive_outputs(seg.ensemble, f, seg.layers, hw))
    print(json.dumps({"peak_rss_mib": peak_rss_mib(lambda: run(feats))}))


def tensor_peaks_mib(layers, hw, batch: int) -> dict:
    """Largest simultaneously live float32 tensors, from their shapes: the naive path's upsampled
    concatenation and its pixel-major copy; the fast path's summed first-layer activations and one
    upsampled group."""
    values = hw[0] * hw[1] * batch * 4 / 2 ** 20
    return {"naive": 2 * sum(l.channels for l in layers) * values, "fast": 2 * MEMBERS * HIDDEN[0] * values}


def bench_backbone(name: str, backbone, device: str, repeats: int, batch: int) -> dict:
    seeds = list(range(batch))
    interps = interpreters(backbone, device)
    runners = [i.fast(device) for i in interps]
    filt = default_registry().get("filter", "js").build()
    hw = (backbone.resolution, backbone.resolution)

    def generator():
        with torch.no_grad():
            return backbone.synthesize(backbone.sample(seeds, 0.7)["ws"])

    def full(count: int):
        def run():
            _, feats = generator()
            for interp, runner in zip(interps[:count], runners[:count]):
                outputs = runner(feats)
                for b in range(batch):
                    label, umap = interp.head.combine(outputs[b])
                    filt.score(umap, label)
        return run

    t_gen = median_time(generator, repeats, device)
    t_seg = median_time(full(1), repeats, device)
    t_all = median_time(full(3), repeats, device)
    g_macs = generator_macs(backbone, seeds)
    fast_macs = [interpreter_macs(backbone.layers, hw, i.head.num_outputs, "fast") * batch for i in interps]
    naive_macs = interpreter_macs(backbone.layers, hw, interps[0].head.num_outputs, "naive") * batch

    _, feats = generator()
    seg, runner = interps[0], runners[0]
    t_fast = median_time(lambda: runner(feats), repeats, device)
    t_naive = median_time(lambda: naive_outputs(seg.ensemble.to(device), feats, seg.layers, hw), max(1, repeats // 2 + 1), device)
    fast_labels = np.stack([seg.head.combine(o)[0] for o in runner(feats)])
    naive_labels = np.stack([seg.head.combine(o)[0] for o in naive_outputs(seg.ensemble, feats, seg.layers, hw)])
    mem_fast, mem_naive = (child_peak_rss_mib(backbone.resolution, path, device, batch) for path in ("fast", "naive"))
    return {
        "backbone": name, "resolution": backbone.resolution, "batch": batch, "device": device,
        "feature_dims": sum(l.channels for l in backbone.layers), "layers": len(backbone.layers),
        "seconds": {"generator": t_gen, "with_segmentation": t_seg, "with_all_heads": t_all,
                    "fast_path": t_fast, "naive_path": t_naive},
        "ratio_a": {"segmentation": t_seg / t_gen, "all_heads": t_all / t_gen,
                    "macs_segmentation": (g_macs + fast_macs[0]) / g_macs,
                    "macs_all_heads": (g_macs + sum(fast_macs)) / g_macs},
        "ratio_b": {"time": t_naive / t_fast, "macs": naive_macs / fast_macs[0],
                    "labels_equal": float((fast_labels == naive_labels).mean())},
        "macs": {"generator": g_macs, "fast_segmentation": fast_macs[0], "naive_segmentation": naive_macs},
        "peak_rss_mib": {"fast": mem_fast, "naive": mem_naive},
        "tensor_peak_mib": tensor_peaks_mib(backbone.layers, hw, batch),
    }


def cache_bytes_1024() -> dict:
    from dgan_plugins.stylegan2.networks import SynthesisNetwork

    layers = SynthesisNetwork(w_dim=512, img_resolution=1024, img_channels=3).layer_specs()
    native = sum(2 * c * r * r for _, c, r in layers)
    upsampled = 2 * 1024 * 1024 * sum(c for _, c, _ in layers)
    return {"layers": len(layers), "feature_dims": sum(c for _, c, _ in layers), "native_fp16_bytes": native,
            "upsampled_fp16_bytes": upsampled, "ratio": upsampled / native}


def train_1024(work: Path, iters: int, members: int) -> dict:
    """Peak RSS of `dgan train` (segmentation) on a 16-sample cache with the layout of a 1024px config-f
    generator. The cache's features are random fp16 values of the generator's layer shapes: memory
    depends on the shapes, not the values, and 16 CPU forward passes at 1024px would take long."""
    from dgan_cli.cache import CacheSpec, CacheWriter
    from dgan_cli.types import LayerInfo
    from dgan_plugins.stylegan2.networks import SynthesisNetwork

    layers = [LayerInfo(*spec) for spec in SynthesisNetwork(w_dim=512, img_resolution=1024,
                                                            img_channels=3).layer_specs()]
    cache, n = work / "c1024.h5", 16
    head = default_registry().get("head", "segmentation").build(HEADS["segmentation"])
    rng = np.random.default_rng(0)
    spec = CacheSpec(image_shape=(1024, 1024, 3), layers=tuple(layers), latents={"ws": (18, 512)},
                     provenance={"backbone": {"name": "random-1024-config-f", "sha256": "-"}})
    writer = CacheWriter.open(cache, spec)
    writer.declare_labels("segmentation", head.label_schema((1024, 1024)))
    for i in range(n):  # blocky random annotations: 9 classes in 64x64 cells
        cells = rng.integers(0, 9, (1, 16, 16)).astype(np.int16).repeat(64, axis=1).repeat(64, axis=2)
        writer.append(images=np.zeros((1, 1024, 1024, 3), np.uint8), latents={"ws": np.zeros((1, 18, 512))},
                      features={l.name: rng.standard_normal((1, l.channels, l.resolution, l.resolution),
                                                            dtype=np.float32).astype(np.float16) for l in layers},
                      labels={"segmentation": cells})
    writer.finish()
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "dgan_cli", "-q", "train", "--cache", str(cache),
                             "--head", "segmentation", "--out", str(work / "i.pt"), "--iters", str(iters),
                             "--members", str(members)])
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"dgan train failed with status {status}")
    return {"samples": n, "members": members, "pixels_per_image": 4096, "iters_per_member": iters,
            "feature_dims": sum(l.channels for l in layers), "peak_rss_gib": usage.ru_maxrss / 2 ** 20,
            "seconds": time.perf_counter() - start, "cache_gib": cache.stat().st_size / 2 ** 30}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--skip-256", action="store_true", help="only the 64px generator")
    parser.add_argument("--train-1024", action="store_true", help="also measure `dgan train` RSS at 1024px")
    parser.add_argument("--train-iters", type=int, default=100, help="batches per member in --train-1024")
    parser.add_argument("--train-members", type=int, default=MEMBERS, help="ensemble size in --train-1024")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--memory-child", choices=("fast", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--resolution", type=int, default=64, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        return memory_child(args.memory_child, args.resolution, args.device, args.batch)
    results = {"torch": torch.__version__, "threads": torch.get_num_threads(), "runs": []}
    for resolution in (64,) if args.skip_256 else (64, 256):
        backbone, name = build(resolution, args.device)
        results["runs"].append(bench_backbone(name, backbone, args.device, args.repeats, args.batch))
    results["cache_1024"] = cache_bytes_1024()
    if args.train_1024:
        with tempfile.TemporaryDirectory(prefix="dgan-bench-") as work:
            results["train_1024"] = train_1024(Path(work), args.train_iters, args.train_members)
    write_json(args.json, results)

    rows = []
    for run in results["runs"]:
        a, b, s = run["ratio_a"], run["ratio_b"], run["seconds"]
        rows += [[run["backbone"], "generator alone (s)", f"{s['generator']:.3f}"],
                 ["", "ratio A, segmentation: time / MACs", f"{a['segmentation']:.2f}x / {a['macs_segmentation']:.2f}x"],
                 ["", "ratio A, 3 heads: time / MACs", f"{a['all_heads']:.2f}x / {a['macs_all_heads']:.2f}x"],
                 ["", "ratio B naive/fast: time / MACs", f"{b['time']:.1f}x / {b['macs']:.1f}x"],
                 ["", "labels equal (naive vs fast)", f"{b['labels_equal']:.6f}"],
                 ["", "peak RSS fast / naive (MiB)",
                  f"{run['peak_rss_mib']['fast']:.0f} / {run['peak_rss_mib']['naive']:.0f}"],
                 ["", "largest tensors fast / naive (MiB)",
                  f"{run['tensor_peak_mib']['fast']:.0f} / {run['tensor_peak_mib']['naive']:.0f}"]]
    c = results["cache_1024"]
    rows.append(["1024px config-f cache", "bytes/image native vs upsampled fp16",
                 f"{c['native_fp16_bytes'] / 2 ** 20:.0f} MiB vs {c['upsampled_fp16_bytes'] / 2 ** 30:.1f} GiB "
                 f"({c['ratio']:.0f}x)"])
    if "train_1024" in results:
        t = results["train_1024"]
        rows.append(["dgan train 1024px, 16 samples", f"peak RSS ({t['members']} members, {t['iters_per_member']} iters)",
                     f"{t['peak_rss_gib']:.2f} GiB (target <= 4)"])
    print_table(f"bench/synth.py ({args.device}, {results['threads']} threads, batch {args.batch}, "
                f"medians of {args.repeats})", ["setup", "measure", "value"], rows)


if __name__ == "__main__":
    main()
