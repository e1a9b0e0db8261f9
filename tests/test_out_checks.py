"""What a run may keep of --out, and what --resume repairs.

- A plain `generate` into a stopped or foreign prefix is refused on every store, before anything
  is written; the refusal never rests on a listing (a non-recursive listing on GCS shows no
  implied folders, so a stopped run's _run/ and shards/ looked empty there).
- A shard is only ever kept for the run that made it: _run/run.json must record this identity.
- `--resume` on a run whose shards are all intact makes dataset.json what this run writes (verify's
  repair advice, followed, ends in a dataset verify accepts), without Ray.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

import pytest
from conftest import E2E_N, E2E_SHARD, assert_one_line, e2e_args

from statgen.cli import main
from statgen.errors import ConfigError
from statgen.run.identity import check_out, recorded_identity
from statgen.run.job import plan_shards
from statgen.run.resume import keep_finished
from statgen.storage.fs import Store
from statgen.storage.run import RUN_JSON, SHARDS_JSONL, ShardLog

RUN_TIMEOUT_S = 300


@pytest.fixture(params=["local", "s3", "gcs"])
def out(request, tmp_path, monkeypatch) -> Store:
    """An empty dataset location on each kind of store."""
    if request.param == "local":
        return Store.open(str(tmp_path / "out"))
    server = request.getfixturevalue(f"{request.param}_server")
    for k, v in server.env.items():
        monkeypatch.setenv(k, v)
    return Store.open(f"{'s3' if request.param == 's3' else 'gs'}://{server.bucket}/{uuid.uuid4().hex}/out")


def _stopped_run(out: Store, identity: dict) -> None:
    """What a stopped run leaves: its record, one logged shard and its index file, no dataset.json."""
    shard, index = b"a finished shard", b"its index"
    out.write_bytes(RUN_JSON, json.dumps({"schema": "statgen.dataset/1", "identity": identity}).encode())
    info = {"name": "shards/statgen-000000.tar", "first_index": 0, "samples": 4, "bytes": len(shard),
            "sha256": hashlib.sha256(shard).hexdigest(), "extra": {"index_sha256": hashlib.sha256(index).hexdigest()}}
    out.write_bytes(SHARDS_JSONL, (json.dumps(info) + "\n").encode())
    out.write_bytes("shards/statgen-000000.tar", shard)
    out.write_bytes("index/statgen-000000.parquet", index)


IDENTITY = {"config": {"seed": 0, "n": 8, "shard_size": 4}, "robot": {}, "task": {}, "model_sha256": "m"}


def test_check_out_refuses_a_stopped_run_without_resume(out):
    _stopped_run(out, IDENTITY)
    identity = recorded_identity(out)
    with pytest.raises(ConfigError, match="already holds a dataset"):
        check_out(out, identity, resume=False)
    with pytest.raises(ConfigError, match="different config"):
        check_out(out, {**identity, "model_sha256": "another"}, resume=True)
    check_out(out, identity, resume=True)  # its own run: continued


def test_a_refused_resume_names_each_difference_with_both_values(out):
    """The one line says what differs and what the run was made with, so the original value can be given:
    a record made before randomize.texture_size existed was made with its legacy value, 256."""
    _stopped_run(out, IDENTITY)
    identity = recorded_identity(out)
    given = json.loads(json.dumps(identity))
    given["config"]["seed"] = 5
    given["config"]["randomize"]["texture_size"] = 128
    with pytest.raises(ConfigError) as e:
        check_out(out, given, resume=True)
    msg = str(e.value)
    assert "config.seed: 0 recorded, 5 given (--seed)" in msg, msg
    assert "config.randomize.texture_size: 256 recorded, 128 given (pipeline [randomize] texture_size)" in msg, msg


@pytest.mark.parametrize("files", [["notes/today.txt"], ["shards/statgen-000000.tar"]])
def test_check_out_refuses_a_foreign_prefix(out, files):
    """Anything without _run/run.json, even only in sub-folders, is not ours: refused with and without --resume."""
    for rel in files:
        out.write_bytes(rel, b"not statgen's")
    for resume in (False, True):
        with pytest.raises(ConfigError, match="not empty and not a statgen dataset"):
            check_out(out, IDENTITY, resume=resume)


def test_check_out_refuses_a_copy_without_its_run_record(out):
    out.write_bytes("dataset.json", b"{}")
    for resume in (False, True):
        with pytest.raises(ConfigError, match="without its run record"):
            check_out(out, IDENTITY, resume=resume)


def test_keep_finished_keeps_nothing_of_another_run(out):
    """Shards are kept only when run.json records this run's identity, whatever the log says."""
    plans = plan_shards(8, 4)
    _stopped_run(out, IDENTITY)
    mine = recorded_identity(out)
    other = {**mine, "config": {**mine["config"], "seed": 5}}
    assert keep_finished(out, plans, ShardLog(out), other) == {}
    assert out.list("shards") == [] and out.list("index") == []
    assert out.read_bytes(SHARDS_JSONL) == b""

    _stopped_run(out, IDENTITY)
    kept = keep_finished(out, plans, ShardLog(out), mine)
    assert list(kept) == [0] and out.list("shards") == ["shards/statgen-000000.tar"]


# --------------------------------------------------------------------------- end to end, on object storage


def _run(*args: str):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "statgen.cli", *args], capture_output=True, text=True, env=dict(os.environ),
                          timeout=RUN_TIMEOUT_S)


def _objects(store: Store) -> dict[str, str]:
    import pyarrow.fs as pafs

    fs, root = store.filesystem_and_path("")
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    return {i.path: store.sha256(i.path[len(root) + 1:]) for i in infos if i.type == pafs.FileType.File}


@pytest.mark.parametrize("store", ["s3", "gcs"])
def test_plain_generate_into_a_stopped_or_foreign_prefix_is_refused(store, dataset_2w, request, monkeypatch):
    """A seed-0 run stopped after one shard, on S3 and GCS: a plain `generate --seed 5` into it (and a
    `--resume --seed 5`) exits 2 with one line and touches nothing; so does a plain generate into a
    prefix that holds someone else's files only in a sub-folder."""
    server = request.getfixturevalue(f"{store}_server")
    for k, v in server.env.items():
        monkeypatch.setenv(k, v)
    base = f"{'s3' if store == 's3' else 'gs'}://{server.bucket}/{uuid.uuid4().hex}"
    stopped = Store.open(f"{base}/stopped")
    local = Store.open(str(dataset_2w))
    first = local.read_text(SHARDS_JSONL).splitlines()[0]
    for rel in (RUN_JSON, "shards/statgen-000000.tar", "index/statgen-000000.parquet"):
        stopped.write_bytes(rel, local.read_bytes(rel))
    stopped.write_bytes(SHARDS_JSONL, (first + "\n").encode())
    before = _objects(stopped)

    p = _run(*e2e_args(stopped.uri, "--seed", "5", "--workers", "1"))
    line = assert_one_line(p.stderr, p.returncode, 2)
    assert "already holds a dataset" in line and "--resume" in line, line
    p = _run(*e2e_args(stopped.uri, "--seed", "5", "--workers", "1", "--resume"))
    line = assert_one_line(p.stderr, p.returncode, 2)
    assert "different config" in line and "seed" in line, line
    assert _objects(stopped) == before

    foreign = Store.open(f"{base}/foreign")
    foreign.write_bytes("experiments/run-3/weights.bin", b"someone else's")
    before = _objects(foreign)
    p = _run(*e2e_args(foreign.uri, "--workers", "1"))
    line = assert_one_line(p.stderr, p.returncode, 2)
    assert "not empty and not a statgen dataset" in line, line
    assert _objects(foreign) == before


# --------------------------------------------------------------------------- verify's repair advice, followed


def _edit(root: Path, edit) -> None:
    p = root / "dataset.json"
    d = json.loads(p.read_text())
    edit(d)
    p.write_text(json.dumps(d, indent=1))


EDITS = {
    "rosa.ranges": lambda d: d["rosa"]["ranges"][0].__setitem__(1, 1.0),
    "seed": lambda d: d.__setitem__("seed", 5),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_resume_repairs_what_verify_finds_in_dataset_json(edit, dataset_2w, tmp_path, capsys, monkeypatch):
    """verify fails and advises --resume; --resume rewrites dataset.json (no Ray, no shard written);
    verify then accepts it, and dataset.json is again what the run wrote."""
    from statgen.run import pool

    root = tmp_path / "ds"
    shutil.copytree(dataset_2w, root)
    original = json.loads((root / "dataset.json").read_text())
    shards = {p: p.read_bytes() for p in (root / "shards").iterdir()}
    _edit(root, EDITS[edit])
    assert main(["verify", str(root), "--no-fk"]) == 1
    out = capsys.readouterr().out
    assert "Repair: `statgen generate --resume" in out, out

    def no_ray(*a, **k):
        raise AssertionError("Ray was started")

    monkeypatch.setattr(pool.RaySession, "start", no_ray)
    assert main(["generate", "--resume", "--out", str(root)]) == 0
    std = capsys.readouterr()
    assert std.err == ""
    assert std.out.startswith(f"repaired {root}: rewrote dataset.json ({edit} differed"), std.out
    assert f"{E2E_N} samples already complete" in std.out
    assert main(["verify", str(root)]) == 0, capsys.readouterr().out
    assert json.loads((root / "dataset.json").read_text()) == original  # measured speed and memory kept too
    assert {p: p.read_bytes() for p in (root / "shards").iterdir()} == shards
    capsys.readouterr()
    assert main(["generate", "--resume", "--out", str(root)]) == 0  # and then there is nothing left to do
    assert capsys.readouterr().out.startswith(f"nothing to do: {E2E_N} samples already complete")


def test_resume_removes_a_stray_shard_that_verify_reports(dataset_2w, tmp_path, capsys):
    root = tmp_path / "ds"
    shutil.copytree(dataset_2w, root)
    stray = root / f"shards/statgen-{E2E_N // E2E_SHARD:06d}.tar"
    shutil.copy(root / "shards/statgen-000000.tar", stray)
    assert main(["verify", str(root), "--no-fk"]) == 1
    assert "not listed in dataset.json" in capsys.readouterr().out
    assert main(["generate", "--resume", "--out", str(root)]) == 0
    assert "removed 1 file that is not this dataset's" in capsys.readouterr().out
    assert not stray.exists()
    assert main(["verify", str(root), "--no-fk"]) == 0
