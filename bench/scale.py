"""How `dgan synth` scales over processes, and what joining their shards costs.

    python bench/scale.py [--n 3500] [--merge-n 10000] [--pause-pid PID] [--json PATH]

On the toy backbone (64px) with a 10-member segmentation interpreter of
random weights (bench/synth.py's), `--export none`, one torch thread per
process:

1. images/s of `dgan synth -n N` in one process, and of the same command
   under `torchrun --standalone --nproc_per_node 2` (gloo); the scaling
   efficiency is throughput(2) / (2 x throughput(1)), end to end (wall clock
   of the whole command: start-up, the two ranks, the barrier and the join
   of the shards by rank 0), and on rank 0's own clock from the command's
   start (its summary's `seconds`: without the start-up of Python, torch and
   torchrun, which no split can shorten). With GPUs: the same over 1..G GPUs
   (`--device cuda`, one rank per GPU). These need idle cores: `--pause-pid`
   stops that process (SIGSTOP) for this step only and always resumes it.
2. the join at --merge-n images: a 2-process run of that size (not paused);
   its share of the total is join seconds / wall seconds as measured, and
   join seconds / (join + the time step 1's 2-process throughput needs for
   --merge-n images), the share on idle cores. Both are reported; the larger
   is the one to quote.

The results table is printed last.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import interpreters  # noqa: E402  (random-weight 10-member ensembles)

from dgan_cli.console import print_table, write_json  # noqa: E402


def synth_command(work: Path, name: str, n: int, interpreter: Path, procs: int, device: str) -> list[str]:
    args = ["synth", "--backbone", "toy", "--interpreter", str(interpreter), "-n", str(n), "--out", str(work / name),
            "--export", "none", "--drop", "0.1", "--batch", "4", "--device", device,
            "--json", str(work / f"{name}.json")]
    if procs == 1:
        return [sys.executable, "-m", "dgan_cli", "-q", *args]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs),
            "-m", "dgan_cli", "-q", *args]


def timed_run(work: Path, name: str, n: int, interpreter: Path, procs: int, device: str = "cpu") -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    done = subprocess.run(synth_command(work, name, n, interpreter, procs, device), env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{name}: dgan synth failed:\n{done.stderr[-3000:]}")
    summary = json.loads((work / f"{name}.json").read_text())
    return {"procs": procs, "device": device, "images": n, "wall_s": round(wall, 2),
            "images_per_s": round(n / wall, 2), "command_s": summary["seconds"], "join_s": summary["join_seconds"]}


@contextmanager
def paused(pid: int | None):
    """SIGSTOP `pid` for the duration (idle cores for the timing), SIGCONT it whatever happens."""
    if pid is None:
        yield
        return
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def efficiency(one: dict, many: dict, clock: str = "wall_s") -> float:
    """throughput(many) / (procs x throughput(one)), on the wall clock or on rank 0's command clock."""
    return round(one[clock] / (many["procs"] * many[clock]), 3)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3500, help="images of the scaling runs")
    parser.add_argument("--merge-n", type=int, default=10000, help="images of the run whose join is timed (0: skip)")
    parser.add_argument("--gpu-n", type=int, default=4000, help="images of the GPU scaling runs")
    parser.add_argument("--pause-pid", type=int, default=None, help="process to stop during the scaling runs")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    from dgan_cli import load_backbone

    results = {"machine": {"cpus": os.cpu_count(), "gpus": torch.cuda.device_count(), "torch": torch.__version__}}
    with tempfile.TemporaryDirectory(prefix="dgan-scale-") as tmp:
        work = Path(tmp)
        interpreter = work / "segmentation.pt"
        interpreters(load_backbone("toy"), "cpu")[0].save(interpreter)
        with paused(args.pause_pid):
            cpu = [timed_run(work, "cpu1", args.n, interpreter, 1), timed_run(work, "cpu2", args.n, interpreter, 2)]
            load = os.getloadavg()[0]  # about 2 when nothing else ran beside the two ranks
        results["cpu"] = {"runs": cpu, "load_average_1min": load, "efficiency_2": efficiency(*cpu),
                          "efficiency_2_in_command": efficiency(*cpu, clock="command_s")}
        gpus = torch.cuda.device_count()
        if gpus:
            runs = [timed_run(work, f"gpu{k}", args.gpu_n, interpreter, k, "cuda") for k in range(1, gpus + 1)]
            results["gpu"] = {"runs": runs, "efficiency": {r["procs"]: efficiency(runs[0], r) for r in runs}}
        if args.merge_n:
            run = timed_run(work, "merge", args.merge_n, interpreter, 2)
            idle_total = args.merge_n / cpu[1]["images_per_s"] + run["join_s"]
            results["merge"] = {**run, "share_measured": round(run["join_s"] / run["wall_s"], 4),
                                "share_idle_cores": round(run["join_s"] / idle_total, 4)}
    write_json(args.json, results)
    rows = [[f"{r['procs']} x {r['device']}", r["images"], r["wall_s"], r["images_per_s"], r["join_s"]]
            for r in cpu + results.get("gpu", {}).get("runs", [])]
    rows.append(["load average (1 min) after the 2-process run", "", "", load, ""])
    rows.append(["efficiency, 2 CPU processes (wall)", "", "", results["cpu"]["efficiency_2"], ""])
    rows.append(["efficiency, 2 CPU processes (in command)", "", "", results["cpu"]["efficiency_2_in_command"], ""])
    for k, value in results.get("gpu", {}).get("efficiency", {}).items():
        rows.append([f"efficiency, {k} GPUs", "", "", value, ""])
    if "merge" in results:
        m = results["merge"]
        rows.append([f"join of 2 shards, {m['images']} images", m["images"], m["wall_s"], m["images_per_s"],
                     m["join_s"]])
        rows.append(["join share: measured / on idle cores", "", "", f"{m['share_measured']:.2%} / "
                     f"{m['share_idle_cores']:.2%}", ""])
    print_table("dgan synth over processes", ["run", "images", "wall s", "images/s", "join s"], rows)


if __name__ == "__main__":
    main()
