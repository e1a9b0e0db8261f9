"""WebDataset shards: a tar per shard, members grouped by key, sorted, fixed mtime.

A shard becomes visible only when complete: it is written under a temporary name
(not ending in .tar) and moved into place with os.replace.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Callable

import webdataset as wds

from statgen import faults
from statgen.schema import ShardInfo

SHARD_PREFIX = "statgen-"
FIXED_MTIME = 0  # reproducible tars
TAR_USER = "statgen"


def shard_name(shard: int) -> str:
    return f"shards/{SHARD_PREFIX}{shard:06d}.tar"


def index_name(shard: int) -> str:
    return f"index/{SHARD_PREFIX}{shard:06d}.parquet"


def sample_key(index: int) -> str:
    return f"{index:09d}"


class _HashingFile:
    """A write-only file wrapper that hashes and counts what passes through."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def write(self, b) -> int:
        self.h.update(b)
        self.n += len(b)
        return self.f.write(b)

    def flush(self) -> None:
        self.f.flush()


def partial_path(path: Path) -> Path:
    """A temporary sibling name: hidden (pyarrow.dataset skips it) and not ending in the final suffix."""
    return path.with_name(f".{path.name}.partial-{uuid.uuid4().hex[:8]}")


class ShardWriter:
    """Context manager writing one shard atomically.

    >>> with ShardWriter(root, shard=0, first_index=0) as w:
    ...     w.write(0, {"front.jpg": b"...", "json": b"{...}"})
    >>> w.info  # ShardInfo once the tar is in place
    """

    def __init__(self, root: Path, *, shard: int, first_index: int, publish: Callable[[Path, str], None] | None = None):
        """root: where the shard is staged (and, without `publish`, where it lands).
        publish(tmp_path, name): moves the finished file to its store (Store.put_file)."""
        self.root, self.shard, self.first_index, self.publish = Path(root), shard, first_index, publish
        self.name = shard_name(shard)
        self.final = self.root / self.name
        self.tmp = partial_path(self.final)
        self.count = 0
        self.info: ShardInfo | None = None

    def __enter__(self) -> "ShardWriter":
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.tmp, "wb")
        self._hf = _HashingFile(faults.eio_writer(self._f, "shard", self.name))  # the file itself unless a fault test asks
        self._tw = wds.TarWriter(self._hf, encoder=False, mtime=FIXED_MTIME, user=TAR_USER, group=TAR_USER, mode=0o444)
        return self

    def write(self, index: int, members: dict[str, bytes]) -> None:
        """Add one sample: `members` maps field names ('front.jpg', 'json') to bytes."""
        if index != self.first_index + self.count:
            raise ValueError(f"shard {self.shard}: expected index {self.first_index + self.count}, got {index}")
        self._tw.write({"__key__": sample_key(index), **members})
        self.count += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._tw.close()
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
        except BaseException:
            self._f.close() if not self._f.closed else None
            self.tmp.unlink(missing_ok=True)
            if exc_type is None:
                raise  # e.g. ENOSPC while flushing the last block: nothing becomes visible
            return
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
            return
        if self.publish is None:
            os.replace(self.tmp, self.final)
        else:
            try:
                self.publish(self.tmp, self.name)
            finally:
                self.tmp.unlink(missing_ok=True)
        self.info = ShardInfo(self.name, self.first_index, self.count, self._hf.n, self._hf.h.hexdigest())

