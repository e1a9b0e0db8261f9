"""generate, resume, verify and loading over S3: a real S3 API server (moto) on 127.0.0.1."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

import pytest
from conftest import E2E_N, E2E_SHARD

from statgen.storage.fs import Store
from statgen.storage.read import iter_shard

pytestmark = pytest.mark.own_ray  # object storage: the workers need the driver's credentials and endpoint

RUN_TIMEOUT_S = 300


def s3_cli(s3, *args: str, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **s3.env, **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "statgen.cli", *args], capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT_S)


def gen(uri: str, *extra: str) -> list[str]:
    return ["generate", "--robot", "franka", "--n", str(E2E_N), "--shard-size", str(E2E_SHARD), "--workers", "2", "--out", uri, "--quiet", *extra]


def states(store: Store) -> dict[int, dict]:
    out = {}
    for rel in store.list("shards"):
        for key, fields in iter_shard(store, rel):
            out[int(key)] = json.loads(fields["json"])
    return out


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    for k, v in s3_server.env.items():
        monkeypatch.setenv(k, v)
    return s3_server


@pytest.fixture(scope="module")
def s3_dataset(s3_server):
    uri = f"s3://{s3_server.bucket}/full"
    p = s3_cli(s3_server, *gen(uri))
    assert p.returncode == 0, p.stderr[-3000:]
    return uri


def test_generate_to_s3_matches_a_local_run(s3_env, s3_dataset, dataset_2w):
    store = Store.open(s3_dataset)
    ds = json.loads(store.read_bytes("dataset.json"))
    assert ds["samples"] == E2E_N and [s["name"] for s in ds["shards"]] == store.list("shards")
    assert len(store.list("index")) == E2E_N // E2E_SHARD
    local = Store.open(str(dataset_2w))
    assert states(store) == states(local)  # same config and seed: same data, wherever it is written
    for s in ds["shards"]:
        assert store.sha256(s["name"]) == s["sha256"]
    # the dataset card and its figures, written through the store like the rest
    assert store.read_bytes("README.md") == local.read_bytes("README.md")
    assert sorted(store.list("stats")) == sorted(local.list("stats"))


def test_verify_over_s3(s3_server, s3_dataset):
    p = s3_cli(s3_server, "verify", s3_dataset)
    assert p.returncode == 0 and "OK" in p.stdout, p.stdout + p.stderr


def test_loading_over_s3(s3_env, s3_dataset):
    from statgen.loading import index_table, webdataset_samples

    seen = [sample["index"] for image, sample in webdataset_samples(s3_dataset) if image.size == (224, 224)]
    assert seen == list(range(E2E_N))
    assert index_table(s3_dataset).column("index").to_pylist() == list(range(E2E_N))


def test_refuses_a_non_empty_prefix_without_resume(s3_server, s3_dataset):
    p = s3_cli(s3_server, *gen(s3_dataset))
    assert p.returncode == 2 and "--resume" in p.stderr and len(p.stderr.strip().splitlines()) == 1


# Killed after a shard is recorded: the object-store paths (hidden upload, server-side copy, the
# log) are all exercised; the other kill points are the same driver code as on a local disk
# (tests/test_faults.py covers each there).
@pytest.mark.parametrize("point", ["after_shard_record"])
def test_killed_run_on_s3_resumes(s3_env, s3_dataset, tmp_path, point):
    uri = f"s3://{s3_env.bucket}/killed-{point}"
    p = s3_cli(s3_env, *gen(uri), extra_env={"STATGEN_FAULT_KILL_AT": point, "STATGEN_FAULT_ONCE": str(tmp_path / "once")})
    assert p.returncode == -9, p.stderr[-3000:]
    store = Store.open(uri)
    assert not store.exists("dataset.json")  # written last
    for rel in store.list("shards"):  # whatever is visible is a whole shard
        assert rel.endswith(".tar")
        with tarfile.open(fileobj=io.BytesIO(store.read_bytes(rel))) as tf:
            assert len(tf.getmembers()) == 2 * E2E_SHARD  # front.jpg + json per sample
    p = s3_cli(s3_env, "generate", "--resume", "--out", uri, "--quiet")
    assert p.returncode == 0, p.stderr[-3000:]
    assert s3_cli(s3_env, "verify", uri).returncode == 0
    assert states(store) == states(Store.open(s3_dataset))
    assert not store.exists("_run/lock")
