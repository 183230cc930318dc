"""One job over many processes: torchrun ranks, or `--shard I/N` runs of a scheduler's array job.

A job of `total` items (seeds, images, ensemble members) is cut into N
contiguous shares, at multiples of the command's batch so that every batch a
part renders is a batch one process would render: the same inputs in the
same kernels give the same bytes. Part I writes its share to its own shard,
`<target stem>.shards/<I>-of-<N><suffix>` beside the target, which resumes
like any output. The shards are then joined in order into the target, which
is what one process would have written:
- under torchrun (RANK, WORLD_SIZE, LOCAL_RANK set), after a barrier, by rank 0;
- with `--shard I/N`, by the same command run again without `--shard`.
The shards are deleted once the joined target is complete.
"""
from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable, Iterator, Optional

from dgan_cli.errors import DganError

# A rank that resumes a nearly finished shard waits at the barrier for the slowest rank's whole share;
# a failed rank ends the others through torchrun, not through this timeout.
BARRIER_TIMEOUT = timedelta(days=7)
SHARD_NAME = re.compile(r"^(\d{5})-of-(\d{5})$")

SINGLE, SHARD, MERGED, DONE = "single", "shard", "merged", "done"


@dataclass(frozen=True)
class Outcome:
    """What a part did: wrote the whole job (SINGLE), its shard only (SHARD), joined the shards
    (MERGED), or nothing, the target being complete already (DONE)."""

    what: str
    shards: int = 0
    join_seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"outcome": self.what, "joined_shards": self.shards, "join_seconds": round(self.join_seconds, 3)}


@dataclass(frozen=True)
class Part:
    """This process's part of a job: `index` of `count` (0 of 1 alone); `launched` under torchrun."""

    index: int = 0
    count: int = 1
    launched: bool = False
    device: str = "cpu"

    @property
    def finishes(self) -> bool:
        """This process joins the shards and writes the results: the only one, or torchrun's rank 0."""
        return self.count == 1 or (self.launched and self.index == 0)

    def share(self, total: int, batch: int = 1) -> range:
        """This part's items: contiguous, cut at multiples of `batch` (the last part may get none)."""
        batches = -(-total // batch)
        first, last = (batches * self.index // self.count, batches * (self.index + 1) // self.count)
        return range(min(total, first * batch), min(total, last * batch))

    def shard_path(self, target: Path) -> Path:
        return shard_path(target, self.index, self.count)

    def wait_for_all(self) -> None:
        if self.launched:
            import torch.distributed as dist

            dist.barrier(device_ids=[_cuda_index(self.device)] if self.device.startswith("cuda") else None)


def shard_folder(target: Path) -> Path:
    target = Path(target)
    return target.parent / f"{target.stem}.shards"


def shard_path(target: Path, index: int, count: int) -> Path:
    return shard_folder(target) / f"{index:05d}-of-{count:05d}{Path(target).suffix}"


def parse_shard(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 0 <= int(match[1]) < int(match[2]):
        raise DganError(f"--shard expects I/N with 0 <= I < N (e.g. 0/4 .. 3/4), got '{text}'")
    return int(match[1]), int(match[2])


def _cuda_index(device: str) -> int:
    return int(device.partition(":")[2] or 0)


def _launched_rank() -> Optional[tuple[int, int, int]]:
    """(RANK, WORLD_SIZE, LOCAL_RANK) when torchrun started this process with more than one rank."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", rank))
    except ValueError:
        raise DganError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (set by torchrun)") from None
    return (rank, world, local) if world > 1 else None


def rank_prefix() -> str:
    """'rank R: ' under torchrun with several ranks, so that each rank's error line says whose it is."""
    rank, world = os.environ.get("RANK"), os.environ.get("WORLD_SIZE", "1")
    return f"rank {rank}: " if rank is not None and world != "1" else ""


def _rank_device(device: str, local_rank: int) -> str:
    """`auto` and `cuda` mean this node's GPU number LOCAL_RANK; an explicit `cuda:N` is kept."""
    import torch

    if device in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{local_rank}"
    return device


@contextmanager
def joined(shard: Optional[str], device: str) -> Iterator[Part]:
    """This process's Part: from torchrun's environment, from `--shard I/N`, or the whole job.

    Under torchrun the process group (nccl on GPUs, gloo on CPU) lives for the
    duration, and ranks other than 0 show no progress bars.
    """
    from dgan_cli.console import is_quiet, set_quiet

    launched = _launched_rank()
    if launched is None:
        index, count = parse_shard(shard) if shard is not None else (0, 1)
        yield Part(index, count, False, device)
        return
    if shard is not None:
        raise DganError("--shard is for runs without torchrun; under torchrun each rank takes its share")
    rank, world, local = launched
    device = _rank_device(device, local)
    import torch
    import torch.distributed as dist

    if device.startswith("cuda"):
        if not torch.cuda.is_available() or _cuda_index(device) >= torch.cuda.device_count():
            raise DganError(f"rank {rank}: --device {device}: no such CUDA device on this machine")
        torch.cuda.set_device(_cuda_index(device))
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo", timeout=BARRIER_TIMEOUT)
    quiet = is_quiet()
    set_quiet(quiet or rank != 0)
    try:
        yield Part(rank, world, True, device)
    finally:
        set_quiet(quiet)
        dist.destroy_process_group()


def find_shards(target: Path) -> list[Path]:
    """The shards a run with `--shard` left for `target`, in order; [] when there are none.

    A set with a shard missing, or shards of different counts, is refused in one line.
    """
    folder = shard_folder(target)
    suffix = Path(target).suffix
    found = {}
    if folder.is_dir():
        for path in folder.iterdir():
            match = SHARD_NAME.match(path.name[:-len(suffix)] if suffix and path.name.endswith(suffix) else "")
            if match:
                found[(int(match[1]), int(match[2]))] = path
    counts = sorted({count for _, count in found})
    if len(counts) > 1:
        raise DganError(f"{folder}: shards of runs split {' and '.join(map(str, counts))} ways",
                        hint="delete the shards of the split you no longer use")
    if not counts:
        return []
    count = counts[0]
    missing = [i for i in range(count) if (i, count) not in found]
    if missing:
        raise DganError(f"{shard_path(target, missing[0], count)}: shard {missing[0]} of {count} is missing",
                        hint=f"run the same command with --shard {missing[0]}/{count} first")
    return [found[(i, count)] for i in range(count)]


def remove_shards(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
    if paths:
        try:
            paths[0].parent.rmdir()
        except OSError:
            pass  # the folder holds something else: leave it


def run(part: Part, target: Path, total: int, batch: int,
        write: Callable[[Path, range, Optional[tuple[int, int]]], None],
        join: Callable[[list[Path]], None]) -> Outcome:
    """Do this part of the job that makes `target`.

    `write(path, share, shard)` writes (or resumes) the items `share` into
    `path`; `shard` is (index, count) for a shard and None for the target
    itself. `join(shards)` checks the complete set of shards (unfinished or
    foreign ones refused in one line) and writes `target` from them.
    """
    target = Path(target)
    if part.count == 1:
        shards = find_shards(target)
        if not shards:
            write(target, range(total), None)
            return Outcome(SINGLE)
    else:
        write(part.shard_path(target), part.share(total, batch), (part.index, part.count))
        part.wait_for_all()
        if not part.finishes:
            return Outcome(SHARD)
        shards = [shard_path(target, i, part.count) for i in range(part.count)]
    started = time.perf_counter()
    join(shards)
    remove_shards(shards)
    return Outcome(MERGED, len(shards), time.perf_counter() - started)


def report_shard(part: Part, target: Path, outcome: Outcome) -> None:
    """The one line a `--shard` run ends with (torchrun ranks other than 0 stay silent)."""
    from dgan_cli.console import out_console

    if part.launched:
        return
    if outcome.what == DONE:
        line = f"{target}: complete already; nothing to do"
    else:
        line = (f"{part.shard_path(target)}: shard {part.index} of {part.count} is complete; once every shard "
                f"is, run the same command without --shard to join them into {target}")
    out_console.print(line, highlight=False, soft_wrap=True)
