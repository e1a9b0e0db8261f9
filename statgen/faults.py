"""Fault injection for the fault tests: SIGKILL this process at a named point, or make a
write fail with EIO half-way.

Inert unless its environment variable is set. With STATGEN_FAULT_ONCE set to a file
path, only the first process to arrive there dies or fails (the file marks it), so a
retried worker or a resumed run goes on.

Kill points (STATGEN_FAULT_KILL_AT): driver "after_run_json", "after_shard_record",
"before_dataset_json"; worker "mid_shard" (half of a shard's samples written),
"after_shard_rename".

I/O errors (STATGEN_FAULT_EIO_AT): the write path raises OSError(EIO) after
STATGEN_FAULT_EIO_AFTER bytes (default 4096) of one object have gone through:
- "shard": the shard's tar, as it is written to its temporary file (in the dataset's
  folder, or the worker's staging folder for object storage);
- "index": a shard's Parquet index, likewise;
- "upload" or "upload:PREFIX": an upload to object storage (of an object whose path in
  the dataset starts with PREFIX, e.g. "upload:shards/"), from inside the output stream
  that publishes it. That is the hazard statgen.storage.fs._put guards against: pyarrow
  has no abort, and a stream that is closed or dropped publishes what it holds.
Without the variable, eio_writer returns the file itself and eio_cut returns None: a
dictionary look-up per file or object, nothing per write.
"""

from __future__ import annotations

import errno
import os
import signal

ENV_POINT = "STATGEN_FAULT_KILL_AT"
ENV_ONCE = "STATGEN_FAULT_ONCE"
ENV_EIO = "STATGEN_FAULT_EIO_AT"
ENV_EIO_AFTER = "STATGEN_FAULT_EIO_AFTER"
EIO_AFTER_DEFAULT = 4096


def _first_here() -> bool:
    """True for the first process to arrive (STATGEN_FAULT_ONCE), or always without it."""
    marker = os.environ.get(ENV_ONCE)
    if not marker:
        return True
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def maybe_kill(point: str) -> None:
    if os.environ.get(ENV_POINT) != point:
        return
    if _first_here():
        os.kill(os.getpid(), signal.SIGKILL)


def _eio_after(point: str, rel: str) -> int | None:
    """Bytes that get through before the injected EIO, when STATGEN_FAULT_EIO_AT names
    this point (and, for "upload:PREFIX", rel starts with PREFIX); else None."""
    spec = os.environ.get(ENV_EIO)
    if not spec:
        return None
    want, _, prefix = spec.partition(":")
    if want != point or not rel.startswith(prefix):
        return None
    return int(os.environ.get(ENV_EIO_AFTER) or EIO_AFTER_DEFAULT)


def eio_error(point: str, rel: str) -> OSError:
    return OSError(errno.EIO, f"{os.strerror(errno.EIO)} (injected: {ENV_EIO}={os.environ.get(ENV_EIO)})", rel or None)


def eio_cut(point: str, rel: str, size: int) -> int | None:
    """For one write of `size` bytes of the object `rel`: None (write it all), or how many
    bytes to write before raising eio_error(point, rel)."""
    after = _eio_after(point, rel)
    if after is None or size <= after or not _first_here():
        return None
    return after


def eio_writer(f, point: str, rel: str = ""):
    """f itself, or (when STATGEN_FAULT_EIO_AT names this point) a wrapper whose write()
    lets the first STATGEN_FAULT_EIO_AFTER bytes through to f and then raises EIO."""
    after = _eio_after(point, rel)
    return f if after is None else _FailingWriter(f, after, point, rel)


class _FailingWriter:
    def __init__(self, f, after: int, point: str, rel: str):
        self.f, self.left, self.point, self.rel = f, after, point, rel
        self.failed = False

    def write(self, b) -> int:
        if self.failed:  # a failed device stays failed for this file
            raise eio_error(self.point, self.rel)
        view = memoryview(b).cast("B")
        if len(view) <= self.left:
            self.left -= len(view)
            return self.f.write(b)
        if not _first_here():  # STATGEN_FAULT_ONCE: another write already failed
            self.left = float("inf")
            return self.f.write(b)
        self.failed = True
        if self.left > 0:
            self.f.write(view[: self.left])
        raise eio_error(self.point, self.rel)

    def flush(self) -> None:
        self.f.flush()

    def __getattr__(self, name):
        return getattr(self.f, name)
