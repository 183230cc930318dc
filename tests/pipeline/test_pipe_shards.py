"""`--shard I/N` runs of sample, synth and train: joined by the plain command, equal to one process; refusals."""
import json
import shutil

import h5py
import torch
from test_pipe_synth import assert_same, contents, interpreters, one_error_line, registry, synth_args  # noqa: F401

from dgan_cli import distributed
from dgan_cli.interpreter.checkpoint import read_payload
from interp_standin import segmentation_cache


def files(folder) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_pipe_shards_split_items_at_batch_boundaries():
    for total, batch, count in [(7, 2, 3), (24, 4, 2), (5, 1, 5), (3, 4, 2), (10, 3, 4)]:
        shares = [distributed.Part(i, count).share(total, batch) for i in range(count)]
        assert [i for share in shares for i in share] == list(range(total))
        assert all(share.start % batch == 0 for share in shares)
    assert distributed.parse_shard("1/4") == (1, 4)


def test_pipe_shards_synth_joined_equals_one_process(run_cli, registry, interpreters, tmp_path):
    assert run_cli("-q", *synth_args(interpreters, tmp_path / "one", 7, "--drop", "0.3"), registry=registry).code == 0
    for index in range(3):
        res = run_cli("-q", *synth_args(interpreters, tmp_path / "split", 7, "--drop", "0.3", "--shard", f"{index}/3"),
                      registry=registry)
        assert res.code == 0 and f"shard {index} of 3 is complete" in res.out, res.err
    assert not (tmp_path / "split" / "synth.h5").exists()
    joined = synth_args(interpreters, tmp_path / "split", 7, "--drop", "0.3", "--json", tmp_path / "s.json")
    res = run_cli("-q", *joined, registry=registry)
    assert res.code == 0, res.err
    assert json.loads((tmp_path / "s.json").read_text())["joined_shards"] == 3
    assert not (tmp_path / "split" / "synth.shards").exists()
    for name in ("synth.h5", "dataset.h5"):
        assert_same(contents(tmp_path / "one" / name), contents(tmp_path / "split" / name))
    assert files(tmp_path / "one" / "folder") == files(tmp_path / "split" / "folder")


def test_pipe_shards_refusals_in_one_line(run_cli, registry, interpreters, tmp_path):
    out = tmp_path / "x"
    shards = out / "synth.shards"

    def run(*extra):
        return run_cli("-q", *synth_args(interpreters, out, 6, "--export", "none", *extra), registry=registry)

    assert "--shard expects I/N" in one_error_line(run("--shard", "2/2"))
    assert run("--shard", "0/2").code == 0
    assert "shard 1 of 2 is missing (run the same command with --shard 1/2" in one_error_line(run())
    # a shard of other settings is refused when resumed and when joined; nothing is written over it
    assert run("--shard", "1/2", "--truncation", "0.5").code == 0
    assert "already a complete cache made by another job" in one_error_line(run("--shard", "1/2"))
    assert "00001-of-00002.h5: a shard of another job" in one_error_line(run())
    shutil.copy(shards / "00000-of-00002.h5", tmp_path / "keep.h5")
    (shards / "00001-of-00002.h5").unlink()
    assert run("--shard", "1/2").code == 0
    with h5py.File(shards / "00000-of-00002.h5", "r+") as h5:
        h5.attrs["complete"] = False
    assert "shard 0 of 2 is unfinished" in one_error_line(run())
    shutil.copy(tmp_path / "keep.h5", shards / "00000-of-00002.h5")
    assert run("--shard", "0/3").code == 0
    assert "shards of runs split 2 and 3 ways" in one_error_line(run())
    (shards / "00000-of-00003.h5").unlink()
    assert not (out / "synth.h5").exists()
    assert run().code == 0 and (out / "synth.h5").exists() and not shards.exists()
    late = run("--shard", "1/2")  # an array task run again after the join
    assert late.code == 0 and "complete already; nothing to do" in late.out and not shards.exists()


def test_pipe_shards_sample_joined_equals_one_process(run_cli, registry, tmp_path):
    def sample(name, *extra):
        return run_cli("-q", "sample", "--backbone", "standin", "-n", "5", "--seed", "3", "--batch", "2",
                       "--cache", tmp_path / f"{name}.h5", "--out", tmp_path / name, *extra, registry=registry)

    assert sample("one").code == 0
    assert sample("split", "--shard", "1/2").code == 0 and sample("split", "--shard", "0/2").code == 0
    assert not (tmp_path / "split").exists()
    assert sample("split").code == 0
    with h5py.File(tmp_path / "one.h5") as a, h5py.File(tmp_path / "split.h5") as b:
        assert a["features/b16b"][:].tobytes() == b["features/b16b"][:].tobytes()
    assert_same(contents(tmp_path / "one.h5"), contents(tmp_path / "split.h5"))
    index = json.loads((tmp_path / "split" / "samples.json").read_text())
    assert index["samples"] == json.loads((tmp_path / "one" / "samples.json").read_text())["samples"]


def test_pipe_shards_train_members_joined_equal_one_process(run_cli, tmp_path):
    segmentation_cache(tmp_path / "c.h5", seeds=(1, 2))

    def train(out, *extra):
        return run_cli("-q", "train", "--cache", tmp_path / "c.h5", "--head", "segmentation", "--out", out,
                       "--members", "4", "--pixels-per-image", "64", "--iters", "8", *extra)

    assert train(tmp_path / "one.pt").code == 0
    split = tmp_path / "split.pt"
    assert train(split, "--shard", "1/2").code == 0 and train(split, "--shard", "0/2").code == 0
    shard = split.parent / "split.shards" / "00000-of-00002.pt"
    payload = torch.load(shard, weights_only=True)
    assert sorted(payload["members"]) == [0, 1]
    del payload["members"][1], payload["reports"][1]  # as if killed after its first member
    torch.save(payload, shard)
    assert "shard 0 of 2 is unfinished (1 of 2 members)" in one_error_line(train(split))
    assert "a shard of another training" in one_error_line(train(split, "--shard", "0/2", "--lr", "0.01"))
    assert train(split, "--shard", "0/2").code == 0 and not split.exists()  # resumes with member 1
    assert train(split, "--json", tmp_path / "t.json").code == 0
    assert json.loads((tmp_path / "t.json").read_text())["joined_shards"] == 2
    one, joined = read_payload(tmp_path / "one.pt"), read_payload(split)
    assert json.loads(one["config"])["training"]["members"] == json.loads(joined["config"])["training"]["members"]
    for a, b in zip(one["members"], joined["members"]):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_pipe_shards_torchrun_error_lines_name_the_rank(run_cli, registry, interpreters, tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    res = run_cli(*synth_args(interpreters, tmp_path / "x", 4, "--shard", "0/2"), registry=registry)
    assert "Error: rank 1: --shard is for runs without torchrun" in one_error_line(res)
