"""Shard writer, index and run files, re-read with plain tarfile / pyarrow (not with statgen's reader)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import tarfile

import pyarrow.dataset as pads
import pyarrow as pa
import pytest

from statgen.errors import ConfigError
from statgen.storage.index import write_index
from statgen.storage.fs import Store
from statgen.storage.run import RunLock, ShardLog, read_shards
from statgen.storage.shards import FIXED_MTIME, ShardWriter


def _members(i: int) -> dict[str, bytes]:
    return {"front.jpg": bytes([i]) * (100 + i), "json": json.dumps({"index": i}).encode(), "wrist.jpg": b"w" * i}


def test_shard_round_trip_with_plain_tarfile(tmp_path):
    with ShardWriter(tmp_path, shard=3, first_index=30) as w:
        for i in range(30, 35):
            w.write(i, _members(i))
    path = tmp_path / "shards/statgen-000003.tar"
    data = path.read_bytes()
    assert w.info.bytes == len(data)
    assert w.info.sha256 == hashlib.sha256(data).hexdigest()
    assert (w.info.first_index, w.info.samples) == (30, 5)
    with tarfile.open(path) as tf:
        members = tf.getmembers()
        names = [m.name for m in members]
        # grouped by key, keys ascending, fields sorted within a key
        expected = [f"{i:09d}.{f}" for i in range(30, 35) for f in sorted(_members(i))]
        assert names == expected
        assert all(m.mtime == FIXED_MTIME for m in members)
        for i in range(30, 35):
            for field, payload in _members(i).items():
                assert tf.extractfile(f"{i:09d}.{field}").read() == payload


def test_shard_is_deterministic(tmp_path):
    digests = []
    for sub in ("a", "b"):
        with ShardWriter(tmp_path / sub, shard=0, first_index=0) as w:
            for i in range(3):
                w.write(i, _members(i))
        digests.append(w.info.sha256)
    assert digests[0] == digests[1]


def test_failed_shard_leaves_nothing_visible(tmp_path):
    with pytest.raises(RuntimeError):
        with ShardWriter(tmp_path, shard=0, first_index=0) as w:
            w.write(0, _members(0))
            raise RuntimeError("disk full")
    assert list((tmp_path / "shards").iterdir()) == []


def test_shard_rejects_non_contiguous_keys(tmp_path):
    with pytest.raises(ValueError, match="expected index 1, got 2"):
        with ShardWriter(tmp_path, shard=0, first_index=0) as w:
            w.write(0, _members(0))
            w.write(2, _members(2))


def test_partial_files_are_hidden_from_readers(tmp_path):
    """A shard being written has a name not ending in .tar; pyarrow.dataset skips partial index files."""
    with ShardWriter(tmp_path, shard=0, first_index=0) as w:
        w.write(0, _members(0))
        inside = [p.name for p in (tmp_path / "shards").iterdir()]
        assert len(inside) == 1 and not inside[0].endswith(".tar")
    write_index(tmp_path, "index/statgen-000000.parquet", [{"index": 0, "x": 1.0}], schema=pa.schema([("index", pa.int64()), ("x", pa.float64())]))
    (tmp_path / "index/.statgen-000001.parquet.partial-deadbeef").write_bytes(b"garbage")
    t = pads.dataset(tmp_path / "index").to_table()
    assert t.column("index").to_pylist() == [0]


def test_shards_jsonl_survives_a_torn_last_line(tmp_path):
    (tmp_path / "_run").mkdir()
    store = Store.open(str(tmp_path))
    with ShardWriter(tmp_path, shard=0, first_index=0) as w:
        w.write(0, _members(0))
    ShardLog(store).append(w.info, {"acceptance": {"drawn": 2}})
    with open(tmp_path / "_run/shards.jsonl", "a") as f:
        f.write('{"name": "shards/statgen-0000')  # killed mid-write
    got = read_shards(store)
    assert [(i.name, e["acceptance"]["drawn"]) for i, e in got] == [("shards/statgen-000000.tar", 2)]


def test_lock_refuses_a_second_holder_and_detects_a_stale_one(tmp_path):
    store = Store.open(str(tmp_path))
    with RunLock(store):
        with pytest.raises(ConfigError, match="another statgen generate holds"):
            RunLock(store).acquire()
    # A lock left by a process that has died is stale and taken over.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / "_run/lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "start": 0}))
    lock = RunLock(store)
    lock.acquire()
    assert json.loads((tmp_path / "_run/lock").read_text())["pid"] == os.getpid()
    lock.release()
    assert not (tmp_path / "_run/lock").exists()
