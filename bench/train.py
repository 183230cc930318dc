"""Images/s of one `dgan backbone train` step on this machine, per objective and network size.

    python bench/train.py [--steps 6] [--threads 1] [--json out.json] [--profile CASE]

Each configuration builds a fresh Trainer at the toy settings (64px, batch
16) and times `--steps` steps after one warm-up step, including rendering
the real images (gan) or the paired targets (paired). Timings are ratios
within one run: the machine's load changes absolute numbers.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from dgan_plugins.stylegan2.train.config import new_config
from dgan_plugins.stylegan2.train.data import ToyImages, to_float_images
from dgan_plugins.stylegan2.train.trainer import Trainer

CASES = (  # (label, objective, channel_base, channel_max)
    ("gan, 2048/64 (the v1 recipe)", "gan", 2048, 64),
    ("paired, 2048/64", "paired", 2048, 64),
    ("paired, 4096/64 (the v2 recipe)", "paired", 4096, 64),
    ("paired+gan, 4096/64", "paired+gan", 4096, 64),
    ("paired, 4096/128", "paired", 4096, 128),
)


def make_step(objective: str, base: int, cmax: int, steps: int, batch: int):
    """A function running training step i of a fresh toy Trainer."""
    source = ToyImages(steps * batch + batch, 64)
    config = new_config({"data": "toy", "objective": objective, "channel_base": base, "channel_max": cmax,
                         "batch": batch, "augment": "none", "lr": 0.002}, 64, len(source))
    trainer = Trainer(config, torch.device("cpu"), render_latents=source.render_latents)

    def one(i):
        real = None
        if config.adversarial:
            real = to_float_images(source.batch(range(i * batch, (i + 1) * batch)), "cpu")
        trainer.step(real)

    return one


def time_case(objective: str, base: int, cmax: int, steps: int, batch: int) -> float:
    one = make_step(objective, base, cmax, steps, batch)
    one(0)
    start = time.perf_counter()
    for i in range(1, steps + 1):
        one(i)
    return steps * batch / (time.perf_counter() - start)


def profile_case(index: int, steps: int, batch: int) -> None:
    """The ten most expensive operators (self CPU time) of `steps` steps of one case."""
    label, objective, base, cmax = CASES[index]
    one = make_step(objective, base, cmax, steps, batch)
    one(0)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for i in range(1, steps + 1):
            one(i)
    print(f"profile of {label}:")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json")
    parser.add_argument("--profile", type=int, metavar="CASE", help="profile case CASE (0-based) instead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.profile is not None:
        profile_case(args.profile, args.steps, args.batch)
        return
    rows = []
    for label, objective, base, cmax in CASES:
        rate = time_case(objective, base, cmax, args.steps, args.batch)
        rows.append({"case": label, "objective": objective, "channel_base": base, "channel_max": cmax,
                     "images_per_s": round(rate, 2)})
        print(f"{label:32s} {rate:7.2f} images/s  ({rate / rows[0]['images_per_s']:.2f}x the first)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "batch": args.batch, "steps": args.steps, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
