"""The file under a cache writer: a failed write (full disk, I/O error) leaves the last commit intact.

HDF5 updates its metadata in place, so a write that fails half-way (ENOSPC
on the data, then the metadata flushed anyway on close) leaves addresses
pointing past the end of the file, and the file unreadable. Through h5py's
fileobj driver this class sees every write: growth past the last commit goes
to disk at once (a failure there only costs bytes that are cut again), while
overwrites of committed bytes wait in memory until `flush()`, which makes the
growth durable first and only then applies them. The first failure is kept
in `failure` rather than raised (h5py's driver cannot pass an exception
through HDF5), so the writer checks it after each step; from then on nothing
more is written and `close()` cuts the file back to its last commit, which is
what the next run resumes from.
"""
from __future__ import annotations

import os
from pathlib import Path

_pwrite = os.pwrite  # the one place bytes go to disk (tests replace it with a full disk)


class GuardedFile:
    def __init__(self, path: Path, create: bool):
        self.fd = os.open(path, os.O_RDWR | (os.O_CREAT | os.O_TRUNC if create else 0), 0o666)
        self.committed = os.fstat(self.fd).st_size  # file size as of the last commit
        self.size = self.committed
        self.pending: list[tuple[int, bytes]] = []  # overwrites of committed bytes, in order
        self.cut_to: int | None = None  # a truncation below the last commit, applied on commit
        self.position = 0
        self.failure: OSError | None = None
        self.sealed = False  # see seal()

    # -- the file-object interface h5py's fileobj driver calls ---------------------
    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = offset if whence == 0 else self.position + offset if whence == 1 else self.size + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.position if n < 0 else min(n, max(self.size - self.position, 0))
        data = bytearray(os.pread(self.fd, n, self.position).ljust(n, b"\0"))
        for offset, chunk in self.pending:
            lo, hi = max(offset, self.position), min(offset + len(chunk), self.position + n)
            if lo < hi:
                data[lo - self.position:hi - self.position] = chunk[lo - offset:hi - offset]
        self.position += n
        return bytes(data)

    def write(self, data) -> int:
        data = bytes(data)
        if self.failure is None:
            split = len(data) if self.sealed else max(0, min(len(data), self.committed - self.position))
            if split:
                self.pending.append((self.position, data[:split]))
            if split < len(data):
                self._guard(self._write_all, data[split:], self.position + split)
        self.position += len(data)
        self.size = max(self.size, self.position)
        return len(data)

    def truncate(self, size: int | None = None) -> int:
        size = self.position if size is None else size
        if self.failure is None:
            if size < self.committed or self.sealed:
                self.cut_to = size
            else:
                self._guard(os.ftruncate, self.fd, size)
        self.size = size
        return size

    def flush(self) -> None:
        """Commit: growth made durable first, then the overwrites, then made durable again."""
        if self.failure is not None or self.sealed:
            return
        self._guard(os.fsync, self.fd)
        for offset, chunk in self.pending:
            self._guard(self._write_all, chunk, offset)
        if self.cut_to is not None:
            self._guard(os.ftruncate, self.fd, self.cut_to)
        self._guard(os.fsync, self.fd)
        if self.failure is None:
            self.pending, self.cut_to = [], None
            self.committed = os.fstat(self.fd).st_size

    def seal(self) -> None:
        """From now on nothing reaches the disk (writes stay in memory, for HDF5 to read back).

        Sealed before HDF5 closes the file: what the close would write (its metadata,
        and whatever a Ctrl-C left half-done since the last commit) is dropped, so a
        closed cache is exactly what its last commit left, however the work ended.
        """
        self.sealed = True

    def close(self) -> None:
        """Close the file; after a failure or a seal, cut it back to its last commit first."""
        if self.fd < 0:
            return
        if self.failure is not None or self.sealed:
            try:
                os.ftruncate(self.fd, self.committed)  # frees space, so it works on a full disk
            except OSError:
                pass  # the cut bytes lie past every committed address: readers never look there
        os.close(self.fd)
        self.fd = -1

    # -- internals -------------------------------------------------------------------
    def _write_all(self, data: bytes, offset: int) -> None:
        view = memoryview(data)
        while view:
            written = _pwrite(self.fd, view, offset)
            view, offset = view[written:], offset + written

    def _guard(self, operation, *args) -> None:
        if self.failure is not None:
            return
        try:
            operation(*args)
        except OSError as exc:
            self.failure = exc
