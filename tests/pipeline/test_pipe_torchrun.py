"""`dgan synth` under torchrun: 2 gloo processes on CPU, one rank killed and the run resumed, output as one process."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_pipe_synth import assert_same, contents, interpreters, registry, synth_args  # noqa: F401

from dgan_cli.cache import CacheReader

HERE = Path(__file__).resolve().parent


def torchrun(args, env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             str(HERE / "rank_standin.py"), "-q", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def rank_pid(parent: int, rank: int) -> int | None:
    """The worker torchrun started for `rank` (its child whose environment says RANK=rank)."""
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != parent:
                continue
            if f"RANK={rank}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                return int(entry.name)
        except OSError:
            continue
    return None


def files(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_pipe_torchrun_two_ranks_killed_resumed_equal_one_process(run_cli, registry, interpreters, tmp_path):
    calls = tmp_path / "calls"
    env = {**os.environ, "STANDIN_CALLS_FILE": str(calls), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    args = synth_args(interpreters, tmp_path / "ranks", 24, "--drop", "0.25", "--json", tmp_path / "ranks.json",
                      backbone="standin-ranked")
    proc = torchrun(args, env)
    deadline = time.time() + 120
    rank1 = Path(f"{calls}.1")
    while time.time() < deadline and proc.poll() is None:
        if rank1.exists() and rank1.read_text().strip() and int(rank1.read_text()) >= 2:  # its first batch is committed
            break
        time.sleep(0.05)
    pid = rank_pid(proc.pid, 1)
    assert proc.poll() is None and pid is not None, proc.communicate()
    os.kill(pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0, err  # torchrun ends the other rank too
    shard = tmp_path / "ranks" / "synth.shards" / "00001-of-00002.h5"
    with CacheReader(shard, allow_incomplete=True) as r:
        assert not r.complete and 0 < r.n < 12, r.n
    assert not (tmp_path / "ranks" / "synth.h5").exists()

    proc = torchrun(args, env)  # the same command: each rank resumes its shard, rank 0 joins them
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    summary = json.loads((tmp_path / "ranks.json").read_text())
    assert summary["joined_shards"] == 2 and summary["kept"] == 18
    assert not (tmp_path / "ranks" / "synth.shards").exists()

    res = run_cli("-q", *synth_args(interpreters, tmp_path / "one", 24, "--drop", "0.25"), registry=registry)
    assert res.code == 0, res.err
    for name in ("synth.h5", "dataset.h5"):
        assert_same(contents(tmp_path / "one" / name), contents(tmp_path / "ranks" / name))
    assert files(tmp_path / "one" / "folder") == files(tmp_path / "ranks" / "folder")
