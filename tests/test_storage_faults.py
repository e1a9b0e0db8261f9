"""Storage faults: an I/O error (EIO) half-way through a write, locally and on S3; gs://
end to end against a GCS emulator; the run lock raced by two writers on object storage.

The EIO comes from statgen.faults (STATGEN_FAULT_EIO_AT): no filesystem here can be made
to fail on demand (no device-mapper driver; FUSE without libfuse), and on object storage
the hazard is inside the upload stream, which only an injection reaches. After a failed
run, nothing partial is visible, and --resume ends with the same bytes as an
uninterrupted run of the same config (the session's `dataset_2w`).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
import uuid
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from conftest import E2E_N, E2E_SHARD, assert_one_line, e2e_args, half_written

from statgen import faults
from statgen.errors import ConfigError
from statgen.storage.fs import Store
from statgen.storage.run import LOCK, RunLock

pytestmark = pytest.mark.own_ray  # the workers need the driver's credentials and fault injection

RUN_TIMEOUT_S = 300
RACE_ROUNDS = 20


def statgen(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "statgen.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=RUN_TIMEOUT_S)


def every_file(store: Store) -> list[str]:
    """Every file under the store's root, hidden ones included, relative to the root."""
    fs, root = store.filesystem_and_path("")
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    return sorted(i.path[len(root.rstrip("/")) + 1:] for i in infos if i.type == pafs.FileType.File)


def data_files(store: Store) -> dict[str, str]:
    """sha256 of every shard and index file."""
    return {rel: store.sha256(rel) for rel in store.list("shards") + store.list("index")}


@pytest.fixture(scope="module")
def reference(dataset_2w) -> dict:
    """The uninterrupted run: its shard and index checksums, and the sizes a fault cuts in half."""
    store = Store.open(str(dataset_2w))
    files = data_files(store)
    assert len(files) == 2 * E2E_N // E2E_SHARD
    return {
        "files": files,
        "shards": json.loads(store.read_bytes("dataset.json"))["shards"],
        "half_shard": min(store.size(r) for r in store.list("shards")) // 2,
        "half_index": min(store.size(r) for r in store.list("index")) // 2,
    }


def assert_same_bytes(store: Store, reference: dict) -> None:
    assert data_files(store) == reference["files"]
    assert json.loads(store.read_bytes("dataset.json"))["shards"] == reference["shards"]
    assert [r for r in every_file(store) if r.rsplit("/", 1)[-1].startswith(".") or r == LOCK] == []


def assert_nothing_partial(store: Store, reference: dict) -> None:
    """After a failed run: no dataset.json, no lock, no hidden file; whatever shard or index
    is visible is byte for byte the finished one."""
    assert not store.exists("dataset.json")
    assert [r for r in every_file(store) if r.rsplit("/", 1)[-1].startswith(".") or r == LOCK] == []
    for rel, sha in data_files(store).items():
        assert reference["files"][rel] == sha, f"{rel} is visible but not the finished file"


def eio_env(tmp_path: Path, point: str, after: int) -> dict[str, str]:
    return {faults.ENV_EIO: point, faults.ENV_EIO_AFTER: str(after), faults.ENV_ONCE: str(tmp_path / "eio-once")}


# --------------------------------------------------------------------------- the injection


def test_injection_is_inert_without_its_variable(monkeypatch):
    monkeypatch.delenv(faults.ENV_EIO, raising=False)
    f = io.BytesIO()
    assert faults.eio_writer(f, "shard", "shards/statgen-000000.tar") is f  # nothing wraps the hot path
    assert faults.eio_cut("upload", "shards/statgen-000000.tar", 1 << 20) is None


def test_injected_eio_lets_the_first_bytes_through(monkeypatch, tmp_path):
    monkeypatch.setenv(faults.ENV_EIO, "shard")
    monkeypatch.setenv(faults.ENV_EIO_AFTER, "10")
    other = io.BytesIO()
    assert faults.eio_writer(other, "index", "index/statgen-000000.parquet") is other  # another point: untouched
    f = io.BytesIO()
    w = faults.eio_writer(f, "shard", "shards/statgen-000000.tar")
    w.write(b"123456")
    with pytest.raises(OSError) as err:
        w.write(b"abcdef")
    assert err.value.errno == errno.EIO and f.getvalue() == b"123456abcd"
    with pytest.raises(OSError):  # a failed file stays failed
        w.write(b"x")
    monkeypatch.setenv(faults.ENV_EIO, "upload:index/")
    assert faults.eio_cut("upload", "shards/statgen-000000.tar", 100) is None
    assert faults.eio_cut("upload", "index/statgen-000000.parquet", 100) == 10
    monkeypatch.setenv(faults.ENV_ONCE, str(tmp_path / "once"))  # the first arrival fails, no other
    assert faults.eio_cut("upload", "index/statgen-000000.parquet", 100) == 10
    assert faults.eio_cut("upload", "index/statgen-000001.parquet", 100) is None


@pytest.fixture(params=["s3", "gcs"])
def remote(request, monkeypatch) -> Store:
    server = request.getfixturevalue(f"{request.param}_server")
    for k, v in server.env.items():
        monkeypatch.setenv(k, v)
    scheme = "s3" if request.param == "s3" else "gs"
    return Store.open(f"{scheme}://{server.bucket}/{uuid.uuid4().hex}")


def test_an_upload_failing_half_way_publishes_nothing(remote, monkeypatch, tmp_path):
    """pyarrow publishes what a dropped or closed stream holds: a failed upload must leave
    neither a truncated object under the name nor a hidden leftover."""
    remote.write_bytes("dataset.json", b'{"old": 1}')
    monkeypatch.setenv(faults.ENV_EIO, "upload")
    monkeypatch.setenv(faults.ENV_EIO_AFTER, "1000")
    with pytest.raises(OSError) as err:
        remote.write_bytes("dataset.json", b"x" * 4000)
    assert err.value.errno == errno.EIO and remote.join("dataset.json") in str(err.value)
    assert str(err.value).count("dataset.json") == 1, err.value  # the path once, not again after the reason
    staged = tmp_path / ".statgen-000000.tar.partial"
    staged.write_bytes(b"y" * 5000)
    with pytest.raises(OSError):
        remote.put_file(staged, "shards/statgen-000000.tar")
    monkeypatch.delenv(faults.ENV_EIO)
    assert remote.read_bytes("dataset.json") == b'{"old": 1}'
    assert every_file(remote) == ["dataset.json"]
    remote.write_bytes("shards/statgen-000000.tar", b"z" * 5000)  # and without the fault: published, no leftover
    assert every_file(remote) == ["dataset.json", "shards/statgen-000000.tar"]


# --------------------------------------------------------------------------- the lock


def test_two_writers_racing_for_the_lock_one_wins(remote):
    """Released together by a barrier, two writers try to take the same lock; exactly one
    may win each round (a check-then-write lets both win)."""
    for r in range(RACE_ROUNDS):
        store = Store.open(f"{remote.uri}/race-{r}")
        barrier = threading.Barrier(2)
        results: list[str] = []

        def contender() -> None:
            lock = RunLock(Store.open(store.uri))
            barrier.wait()
            try:
                lock.acquire()
                results.append("won")
            except ConfigError as e:
                assert "another statgen generate holds" in str(e)
                results.append("refused")

        threads = [threading.Thread(target=contender) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(results) == ["refused", "won"], f"round {r}: {results}"
        assert json.loads(store.read_text(LOCK))["pid"] == os.getpid()


def test_lock_is_released_and_taken_again(remote):
    lock = RunLock(remote)
    lock.acquire()
    with pytest.raises(ConfigError, match="another statgen generate holds"):
        RunLock(remote).acquire()
    lock.release()
    assert not remote.exists(LOCK)
    with RunLock(remote):
        assert remote.exists(LOCK)
    assert not remote.exists(LOCK)


# --------------------------------------------------------------------------- EIO end to end


def _fails_cleanly_at(p: subprocess.CompletedProcess, once: Path) -> None:
    line = assert_one_line(p.stderr, p.returncode, 1)
    assert "Input/output error" in line and "--resume" in line, line
    assert once.exists(), "the fault did not fire"


@pytest.mark.slow
def test_local_eio_half_way_fails_cleanly_and_resumes(reference, tmp_path):
    """EIO half-way through the third shard's tar fails the run cleanly; its resume then meets EIO
    half-way through that shard's index file and fails as cleanly; the next resume completes it
    with the bytes of an uninterrupted run. (One chain: three runs instead of four.)"""
    out = tmp_path / "ds"
    # The faults hit the third shard, so that shards finished before it are kept for --resume
    # (a run that fails before any shard is finished removes what it made: issue 8 row 11).
    for i, (point, target) in enumerate((("shard", "shard:shards/statgen-000002"), ("index", "index:index/statgen-000002"))):
        once = tmp_path / point
        once.mkdir()
        env = eio_env(once, target, reference[f"half_{point}"])
        p = statgen(*(("generate", "--resume", "--out", str(out), "--quiet") if i else e2e_args(out, "--workers", "2")), env=env)
        _fails_cleanly_at(p, once / "eio-once")
        assert half_written(out) == [], point
        assert_nothing_partial(Store.open(str(out)), reference)
    p = statgen("generate", "--resume", "--out", str(out), "--quiet")
    assert p.returncode == 0, p.stderr[-3000:]
    assert_same_bytes(Store.open(str(out)), reference)
    assert half_written(out) == []


@pytest.mark.slow
def test_s3_eio_half_way_through_an_upload_fails_cleanly_and_resumes(s3_server, reference, tmp_path, monkeypatch):
    """The same chain on S3, the EIO inside the upload stream: the third shard's tar, then (on resume)
    its index file."""
    for k, v in s3_server.env.items():
        monkeypatch.setenv(k, v)
    uri = f"s3://{s3_server.bucket}/eio-{uuid.uuid4().hex[:8]}"
    store = Store.open(uri)
    for i, prefix in enumerate(("shards/", "index/")):
        once = tmp_path / prefix.strip("/")
        once.mkdir()
        half = reference["half_shard" if prefix == "shards/" else "half_index"]
        env = eio_env(once, f"upload:{prefix}statgen-000002", half)
        p = statgen(*(("generate", "--resume", "--out", uri, "--quiet") if i else e2e_args(uri, "--workers", "2")), env=env)
        _fails_cleanly_at(p, once / "eio-once")
        assert_nothing_partial(store, reference)
    p = statgen("generate", "--resume", "--out", uri, "--quiet")
    assert p.returncode == 0, p.stderr[-3000:]
    assert_same_bytes(store, reference)


# --------------------------------------------------------------------------- gs:// end to end


@pytest.fixture
def gcs_env(gcs_server, monkeypatch):
    for k, v in gcs_server.env.items():
        monkeypatch.setenv(k, v)
    return gcs_server


@pytest.fixture(scope="module")
def gcs_dataset(gcs_server) -> str:
    uri = f"gs://{gcs_server.bucket}/full"
    p = statgen(*e2e_args(uri, "--workers", "2"), env=gcs_server.env)
    assert p.returncode == 0, p.stderr[-3000:]
    return uri


@pytest.mark.slow
def test_gcs_generate_and_verify(gcs_env, gcs_dataset, reference):
    assert_same_bytes(Store.open(gcs_dataset), reference)
    p = statgen("verify", gcs_dataset, env=gcs_env.env)
    assert p.returncode == 0 and "OK" in p.stdout, p.stdout + p.stderr


@pytest.mark.slow
def test_gcs_loading(gcs_env, gcs_dataset):
    from statgen.loading import index_table, webdataset_samples

    seen = [sample["index"] for image, sample in webdataset_samples(gcs_dataset) if image.size == (224, 224)]
    assert seen == list(range(E2E_N))
    assert index_table(gcs_dataset).column("index").to_pylist() == list(range(E2E_N))


@pytest.mark.slow
def test_gcs_killed_run_resumes(gcs_env, reference, tmp_path):
    uri = f"gs://{gcs_env.bucket}/killed"
    p = statgen(*e2e_args(uri, "--workers", "2"),
                env={**gcs_env.env, "STATGEN_FAULT_KILL_AT": "after_shard_record", "STATGEN_FAULT_ONCE": str(tmp_path / "once")})
    assert p.returncode == -9, p.stderr[-3000:]  # SIGKILL
    store = Store.open(uri)
    assert not store.exists("dataset.json") and store.exists(LOCK)  # the dead run's lock: stale, taken over
    for rel in store.list("shards"):  # whatever is visible is a whole shard
        with tarfile.open(fileobj=io.BytesIO(store.read_bytes(rel))) as tf:
            assert len(tf.getmembers()) == 2 * E2E_SHARD
        assert hashlib.sha256(store.read_bytes(rel)).hexdigest() == reference["files"][rel]
    p = statgen("generate", "--resume", "--out", uri, "--quiet", env=gcs_env.env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert statgen("verify", uri, env=gcs_env.env).returncode == 0
    assert_same_bytes(store, reference)
