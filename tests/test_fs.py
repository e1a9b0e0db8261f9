"""statgen.storage.fs.Store against a local folder, a real S3 API (moto on 127.0.0.1) and a GCS
JSON API (fake-gcs-server on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile
import uuid

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from statgen.errors import ConfigError
from statgen.storage.fs import Store


@pytest.fixture(params=["local", "s3", "gcs"])
def store(request, tmp_path, monkeypatch):
    if request.param == "local":
        return Store.open(str(tmp_path / "ds"))
    server = request.getfixturevalue(f"{request.param}_server")
    for k, v in server.env.items():
        monkeypatch.setenv(k, v)
    return Store.open(f"{'s3' if request.param == 's3' else 'gs'}://{server.bucket}/{uuid.uuid4().hex}/ds")


def _blob(n: int) -> bytes:
    return hashlib.sha256(b"seed").digest() * (n // 32) + b"x" * (n % 32)


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_round_trip(store):
    store.write_bytes("dataset.json", b'{"a": 1}')
    store.write_bytes("_run/shards.jsonl", b"")
    assert store.read_bytes("dataset.json") == b'{"a": 1}'
    assert store.read_text("dataset.json") == '{"a": 1}'
    assert store.read_bytes("_run/shards.jsonl") == b""
    store.write_bytes("dataset.json", "é".encode())  # overwrite
    assert store.read_text("dataset.json") == "é"
    assert store.exists("dataset.json") and not store.exists("nope.json")


def test_local_write_bytes_leaves_no_temp_and_partial_temps_are_not_listed(tmp_path, monkeypatch):
    store = Store.open(str(tmp_path / "ds"))
    store.write_bytes("shards/statgen-000000.tar", b"one")
    assert os.listdir(tmp_path / "ds" / "shards") == ["statgen-000000.tar"]
    # a crash mid-write leaves a hidden temp: never listed
    (tmp_path / "ds" / "shards" / ".statgen-000001.tar.ab12cd34.tmp").write_bytes(b"half")
    assert store.list("shards") == ["shards/statgen-000000.tar"]

    # a failure at the last step: the old content stays, the temp is cleaned up
    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="No space left") as err:
        store.write_bytes("shards/statgen-000000.tar", b"two")
    assert err.value.errno == 28 and str(tmp_path / "ds") in str(err.value)
    monkeypatch.undo()
    assert store.read_bytes("shards/statgen-000000.tar") == b"one"
    assert sorted(os.listdir(tmp_path / "ds" / "shards")) == [
        ".statgen-000001.tar.ab12cd34.tmp", "statgen-000000.tar"]


def test_failed_write_publishes_nothing(store):
    with pytest.raises(TypeError):
        store.write_bytes("a.json", object())
    assert not store.exists("a.json") and store.list("") == [] and store.is_empty()
    store.write_bytes("a.json", b"old")
    with pytest.raises(TypeError):
        store.write_bytes("a.json", "not bytes")
    assert store.read_bytes("a.json") == b"old"
    with pytest.raises(FileNotFoundError):
        store.put_file(store.staging_dir() / "never-staged.tar", "shards/x.tar")
    assert store.list("shards") == []


def test_s3_object_is_invisible_until_its_stream_closes(s3_server, monkeypatch):
    for k, v in s3_server.env.items():
        monkeypatch.setenv(k, v)
    store = Store.open(f"s3://{s3_server.bucket}/{uuid.uuid4().hex}")
    fs, path = store.filesystem_and_path("shards/statgen-000000.tar")
    out = fs.open_output_stream(path)
    out.write(_blob(1 << 20))
    assert store.list("shards") == [] and not store.exists("shards/statgen-000000.tar")
    out.close()
    assert store.list("shards") == ["shards/statgen-000000.tar"]

    # A writer that dies before closing (a killed Ray worker) leaves nothing, even with
    # more than one multipart part (arrow's part size is 10 MiB) already uploaded.
    code = (
        "import os, sys\n"
        "from statgen.storage.fs import Store\n"
        "fs, path = Store.open(sys.argv[1]).filesystem_and_path('shards/statgen-000001.tar')\n"
        "out = fs.open_output_stream(path)\n"
        "out.write(b'x' * (12 << 20)); out.flush()\n"
        "os._exit(3)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, store.uri], env={**os.environ, **s3_server.env},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert store.list("shards") == ["shards/statgen-000000.tar"]


def test_put_file_publishes_and_consumes_the_staged_file(store):
    stage = store.staging_dir()
    staged = stage / ".statgen-000000.tar.partial"
    data = _tar({"000000.json": b"{}"})
    staged.write_bytes(data)
    if store.is_local:
        assert stage == store.local_root / "shards"
        assert store.list("shards") == []  # the hidden staged name is not listed
    store.put_file(staged, "shards/statgen-000000.tar")
    assert not staged.exists()
    assert store.list("shards") == ["shards/statgen-000000.tar"]
    assert store.read_bytes("shards/statgen-000000.tar") == data
    empty = store.staging_dir() / ".empty.partial"
    empty.write_bytes(b"")
    store.put_file(empty, "shards/empty.tar")
    assert store.size("shards/empty.tar") == 0


def test_list_is_flat_sorted_and_skips_hidden(store):
    for rel in ["shards/b.tar", "shards/a.tar", "shards/.c.tar.tmp", "shards/sub/d.tar", "top.json"]:
        store.write_bytes(rel, b"1")
    assert store.list("shards") == ["shards/a.tar", "shards/b.tar"]
    assert store.list("shards/") == ["shards/a.tar", "shards/b.tar"]
    assert store.list("") == ["top.json"]
    assert store.list("missing") == []


def test_is_empty_sees_files_only_in_sub_folders(store):
    """A stopped run leaves files only under _run/ and shards/: never empty, on every store (GCS lists
    no implied folder for a prefix that holds only deeper objects)."""
    store.write_bytes("_run/run.json", b"{}")
    store.write_bytes("shards/statgen-000000.tar", b"1")
    assert not store.is_empty()
    assert store.list("") == [] and store.list("shards") == ["shards/statgen-000000.tar"]
    deep = Store.open(store.uri.rsplit("/", 1)[0] if not store.is_local else str(store.local_root.parent))
    assert not deep.is_empty()  # the parent holds them two levels down


def test_delete_and_is_empty(store):
    assert store.is_empty()  # missing root
    store.write_bytes("shards/a.tar", b"1")
    assert not store.is_empty()
    store.delete("shards/a.tar")
    store.delete("shards/a.tar")  # missing is fine
    assert not store.exists("shards/a.tar") and store.list("shards") == []
    # On S3, pyarrow leaves a "shards/" directory marker behind: still empty.
    assert store.is_empty()


def test_size_and_sha256(store):
    data = _blob((3 << 20) + 17)  # more than one 1 MiB chunk
    store.write_bytes("shards/big.tar", data)
    assert store.size("shards/big.tar") == len(data)
    assert store.sha256("shards/big.tar") == hashlib.sha256(data).hexdigest()
    with pytest.raises(FileNotFoundError, match="missing.tar"):
        store.size("shards/missing.tar")
    with pytest.raises(FileNotFoundError, match="missing.tar"):
        store.sha256("shards/missing.tar")
    with pytest.raises(FileNotFoundError) as err:
        store.read_bytes("missing.json")
    assert store.join("missing.json") in str(err.value)


def test_open_input_streams_a_tar_and_seeks(store):
    members = {f"{i:06d}.png": _blob(50_000 + i) for i in range(3)}
    store.write_bytes("shards/s.tar", _tar(members))
    with store.open_input("shards/s.tar") as f, tarfile.open(fileobj=f, mode="r|") as tf:
        got = {m.name: tf.extractfile(m).read() for m in tf}
    assert got == members
    with store.open_input("shards/s.tar") as f:  # PIL / pyarrow need seek and tell
        f.seek(512)
        assert f.tell() == 512 and f.read(4) == members["000000.png"][:4]


def test_store_pickles(store):
    store.write_bytes("x.bin", b"abc")  # the pyarrow filesystem now exists
    clone = pickle.loads(pickle.dumps(store))
    assert clone.uri == store.uri and clone.is_local == store.is_local
    assert clone.read_bytes("x.bin") == b"abc"
    clone.write_bytes("y.bin", b"def")
    assert store.list("") == ["x.bin", "y.bin"]


def test_parquet_through_filesystem_and_path(store):
    table = pa.table({"index": [0, 1, 2], "shard": ["shards/a.tar"] * 3, "q_joint1": [0.1, 0.2, 0.3]})
    fs, path = store.filesystem_and_path("index/statgen-000000.parquet")
    pq.write_table(table, path, filesystem=fs)
    assert store.list("index") == ["index/statgen-000000.parquet"]
    assert pq.read_table(path, filesystem=fs).equals(table)
    fs, root = store.filesystem_and_path("index")
    assert pads.dataset(root, filesystem=fs, format="parquet").to_table().equals(table)
    with store.open_input("index/statgen-000000.parquet") as f:
        assert pq.read_table(f).equals(table)


def test_open_normalises(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    local = Store.open("data/x")
    assert local.is_local and local.uri == str(tmp_path / "data/x") and local.local_root == tmp_path / "data/x"
    assert Store.open(f"file://{tmp_path}/y").local_root == tmp_path / "y"
    assert Store.open("./odd:name").local_root == tmp_path / "odd:name"
    remote = Store.open("s3://bucket/a/b/")
    assert not remote.is_local and remote.local_root is None and remote.uri == "s3://bucket/a/b"
    assert remote.join("shards/x.tar") == "s3://bucket/a/b/shards/x.tar"
    assert Store.open("gs://bucket").join("dataset.json") == "gs://bucket/dataset.json"


@pytest.mark.parametrize("uri", ["ftp://x", "http://host/x", "hdfs://nn/x", "c:data"])
def test_open_rejects_unsupported_schemes(uri):
    with pytest.raises(ConfigError) as err:
        Store.open(uri)
    msg = str(err.value)
    assert "unsupported scheme" in msg and "s3://" in msg and "gs://" in msg and "\n" not in msg


@pytest.mark.parametrize("uri", ["", "s3://", "s3:///x", "s3://Bucket/x", "s3://b:9000/x",
                                 "s3://bucket/a//b", "s3://bucket/a/../b", "s3://bucket/p?x=1",
                                 "file://host/x", "file:relative", "s3:/bucket/x"])
def test_open_rejects_malformed(uri):
    with pytest.raises(ConfigError, match="expected"):
        Store.open(uri)


def test_open_rejects_a_file_as_local_root(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        Store.open(str(tmp_path / "f"))


def test_bad_endpoint_is_a_config_error(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "127.0.0.1:9000")  # no scheme
    with pytest.raises(ConfigError, match="AWS_ENDPOINT_URL"):
        Store.open("s3://bucket/p").exists("x")


def test_s3_in_a_subprocess_exits_cleanly(s3_server):
    """pyarrow finalises S3 at exit (atexit); a store still alive then must not crash or warn."""
    code = (
        "import sys\n"
        "from statgen.storage.fs import Store\n"
        "store = Store.open(sys.argv[1])\n"
        "store.write_bytes('a.txt', b'hi')\n"
        "assert store.read_text('a.txt') == 'hi'\n"
        "keep = store.open_input('a.txt')\n"  # still open at exit
    )
    uri = f"s3://{s3_server.bucket}/{uuid.uuid4().hex}"
    proc = subprocess.run([sys.executable, "-c", code, uri], env={**os.environ, **s3_server.env},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_s3_missing_bucket_is_a_clear_oserror(s3_server, monkeypatch):
    for k, v in s3_server.env.items():
        monkeypatch.setenv(k, v)
    store = Store.open("s3://no-such-bucket/x")
    with pytest.raises(OSError, match=r"^cannot write s3://no-such-bucket/x/a\.json: .*bucket") as err:
        store.write_bytes("a.json", b"{}")
    assert "\n" not in str(err.value)
