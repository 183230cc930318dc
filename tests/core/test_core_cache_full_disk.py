"""A full disk during a cache write: one line, the last committed batch kept, and the same job resumes."""
from __future__ import annotations

import errno

import numpy as np
import pytest

from dgan_cli.cache import CacheReader, CacheSpec, CacheWriter, guarded
from dgan_cli.errors import DganError

SPEC = CacheSpec(image_shape=(8, 8, 3), latents={"z": (4,)}, provenance={"backbone": {"name": "test"}})
rng = np.random.default_rng(0)
BATCHES = [(rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8), rng.standard_normal((2, 4))) for _ in range(4)]


def write_job(path) -> None:
    """What `dgan sample` does: open (or resume) the cache, append the batches it lacks, finish."""
    writer = CacheWriter.open(path, SPEC)
    for images, z in BATCHES[writer.count // 2:]:
        writer.append(images=images, latents={"z": z})
    writer.finish()


def disk_full_after(budget: int):
    """A pwrite whose file system is full once `budget` bytes have been written."""
    used = [0]

    def pwrite(fd, data, offset):
        if used[0] + len(data) > budget:
            raise OSError(errno.ENOSPC, "No space left on device")
        used[0] += len(data)
        return guarded.os.pwrite(fd, data, offset)

    return pwrite, used


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The cache written with space to spare, and how many bytes that took."""
    path = tmp_path_factory.mktemp("ref") / "cache.h5"
    counting, used = disk_full_after(2**40)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(guarded, "_pwrite", counting)
        write_job(path)
    return path, used[0]


def _contents(path):
    with CacheReader(path) as reader:
        return reader.ids, reader.images(), reader.latents("z")


@pytest.mark.parametrize("fraction", [0.05, 0.3, 0.55, 0.8, 0.97, 0.999])
def test_a_full_disk_keeps_the_last_commit_and_the_same_job_resumes(fraction, reference, tmp_path, monkeypatch,
                                                                      run_cli):
    ref_path, total = reference
    path = tmp_path / "cache.h5"
    full, _ = disk_full_after(int(total * fraction))
    monkeypatch.setattr(guarded, "_pwrite", full)
    with pytest.raises(DganError) as failed:
        write_job(path)
    line = failed.value.one_line()
    assert "No space left on device" in line and "run the same command again to resume" in line
    assert "\n" not in line

    monkeypatch.undo()  # space freed
    if path.exists():
        verdict = run_cli("cache", "validate", path)
        assert verdict.code == 2 and "unfinished but sound" in verdict.err, verdict.err
        assert len(verdict.err.strip().splitlines()) == 1
    write_job(path)
    assert run_cli("cache", "validate", path).code == 0
    for got, want in zip(_contents(path), _contents(ref_path)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_a_damaged_cache_is_told_apart_from_an_unfinished_one(reference, tmp_path, run_cli):
    path = tmp_path / "damaged.h5"
    data = bytearray(reference[0].read_bytes())
    data[len(data) // 2:] = bytes(len(data) - len(data) // 2)  # half the file zeroed
    path.write_bytes(bytes(data))
    verdict = run_cli("cache", "validate", path)
    assert verdict.code == 2 and "delete it" in verdict.err and "resume" not in verdict.err.split("(")[0]
    assert len(verdict.err.strip().splitlines()) == 1
