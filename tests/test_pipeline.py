"""End to end through the CLI and Ray: determinism across workers, verify, resume after SIGKILL, loading.

These start real `statgen generate` processes (an embedded Ray instance each), so they
are the slowest tests; the datasets are tiny (24 samples in shards of 8).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads
import pytest
from conftest import E2E_N, E2E_SHARD, e2e_args, run_cli, shared_ray_env

N, SHARD = E2E_N, E2E_SHARD
KILL_TIMEOUT_S = 240
cli = run_cli


def gen_args(out: Path, *extra: str) -> list[str]:
    return e2e_args(out, *extra)


@pytest.fixture(scope="module")
def two_workers(dataset_2w) -> Path:
    return dataset_2w


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory, shared_ray) -> Path:
    out = tmp_path_factory.mktemp("ds") / "one"
    cli(*gen_args(out, "--workers", "1"), env=shared_ray_env(shared_ray))
    return out


def tar_samples(path: Path) -> dict[str, dict[str, bytes]]:
    """Plain tarfile: {key: {field: bytes}}."""
    out: dict[str, dict[str, bytes]] = {}
    with tarfile.open(path) as tf:
        for m in tf.getmembers():
            key, _, field = m.name.partition(".")
            out.setdefault(key, {})[field] = tf.extractfile(m).read()
    return out


def all_states(root: Path) -> dict[int, dict]:
    states = {}
    for tar in sorted((root / "shards").glob("*.tar")):
        for key, fields in tar_samples(tar).items():
            s = json.loads(fields["json"])
            states[int(key)] = s
    return states


def test_dataset_layout_and_dataset_json(two_workers):
    ds = json.loads((two_workers / "dataset.json").read_text())
    for k in ("schema", "statgen_version", "robot", "task", "seed", "samples", "config", "model_sha256", "rosa",
              "acceptance", "versions", "assets", "shards"):
        assert k in ds, k
    assert ds["schema"] == "statgen.dataset/2" and ds["samples"] == N and ds["config"]["randomize"]["level"] == "full"
    assert [s["name"] for s in ds["shards"]] == [f"shards/statgen-{i:06d}.tar" for i in range(N // SHARD)]
    assert ds["acceptance"]["accepted"] == N
    assert ds["acceptance"]["drawn"] == N + sum(ds["acceptance"]["rejected"].values())
    assert ds["rosa"]["dims"] == ["x", "y", "z", "roll", "pitch", "yaw", "gripper"] and ds["rosa"]["bins"] == 256
    assert ds["versions"]["gl_renderer"]
    assert (two_workers / "_run/run.json").exists() and not (two_workers / "_run/lock").exists()
    lines = (two_workers / "_run/shards.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["name"] for x in lines) == [s["name"] for s in ds["shards"]]
    # Both workers wrote shards: the first shards go round-robin, one per worker.
    assert len({json.loads(x)["extra"]["worker_pid"] for x in lines}) == 2
    # Every sample: same fields and types (Hugging Face infers features from the first few).
    states = all_states(two_workers)
    assert sorted(states) == list(range(N))
    shapes = {json.dumps(_type_shape(s), sort_keys=True) for s in states.values()}
    assert len(shapes) == 1


def _type_shape(x):
    if isinstance(x, dict):
        return {k: _type_shape(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_type_shape(x[0])] if x else []
    return type(x).__name__


def test_rosa_answer_recomputed_by_hand(two_workers):
    ds = json.loads((two_workers / "dataset.json").read_text())
    ranges = ds["rosa"]["ranges"]
    for s in all_states(two_workers).values():
        st = s["state"]
        v = [*st["ee_pos"], *st["ee_euler_xyz"], 1.0 if st["gripper_open"] else 0.0]
        tokens = []
        for x, (lo, hi) in zip(v, ranges):
            b = int(np.floor((x - lo) / (hi - lo) * 255))
            tokens.append(min(max(b, 0), 255))
        assert s["text"]["rosa"] == {"question": "What is the current state of the robot?", "answer": " ".join(map(str, tokens))}


def test_index_matches_shards(two_workers):
    t = pads.dataset(two_workers / "index").to_table().sort_by("index")
    assert t.column("index").to_pylist() == list(range(N))
    states = all_states(two_workers)
    for row in t.to_pylist():
        st = states[row["index"]]["state"]
        assert [row["ee_pos_x"], row["ee_pos_y"], row["ee_pos_z"]] == st["ee_pos"]
        assert row["q_joint1"] == st["qpos"][0]
        assert row["front_u"] == states[row["index"]]["cameras"]["front"]["ee_pixel"][0]


def test_one_and_two_workers_give_the_same_states(one_worker, two_workers):
    a, b = all_states(one_worker), all_states(two_workers)
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == b[k]


def test_one_and_two_workers_give_the_same_bytes_at_full(one_worker, two_workers):
    """At the default level (full: a layout per shard, a look per sample) every shard, images included,
    is the same file whichever worker made it, after whichever shard."""
    names = sorted(p.name for p in (one_worker / "shards").glob("*.tar"))
    assert names == sorted(p.name for p in (two_workers / "shards").glob("*.tar")) and len(names) > 1
    for n in names:
        assert (one_worker / "shards" / n).read_bytes() == (two_workers / "shards" / n).read_bytes(), n
    scenes = [s["scene"] for s in all_states(one_worker).values()]
    assert {s["level"] for s in scenes} == {"full"} and len({s["layout_id"] for s in scenes}) == len(names)


def test_verify_accepts_and_catches_damage(two_workers, tmp_path):
    ok = cli("verify", str(two_workers))
    assert "OK" in ok.stdout

    def flip(root):
        data = bytearray((root / "shards/statgen-000001.tar").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (root / "shards/statgen-000001.tar").write_bytes(bytes(data))

    def missing(root):
        (root / "shards/statgen-000002.tar").unlink()

    def trunc(root):
        p = root / "shards/statgen-000000.tar"
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 3])

    # One copy with all three kinds of damage (one verify of damage instead of one per kind and one of all):
    # each damaged shard gets its own BAD line that names what is wrong with it.
    damage = {"statgen-000001.tar": (flip, "sha256 mismatch"), "statgen-000002.tar": (missing, "missing"),
              "statgen-000000.tar": (trunc, "truncated")}
    root = tmp_path / "all"
    shutil.copytree(two_workers, root)
    for harm, _ in damage.values():
        harm(root)
    r = cli("verify", str(root), check=False)
    assert r.returncode == 1 and "--resume" in r.stdout, r.stdout
    bad = {line.split(":")[0].removeprefix("BAD shards/"): line for line in r.stdout.splitlines() if line.startswith("BAD ")}
    assert sorted(bad) == sorted(damage), r.stdout
    for shard, (_, needle) in damage.items():
        assert needle in bad[shard], (shard, r.stdout)
    # The advertised repair works: one --resume regenerates every bad shard.
    cli("generate", "--resume", "--out", str(root), "--quiet")
    assert cli("verify", str(root)).returncode == 0
    assert all_states(root) == all_states(two_workers)


def test_refusals_leave_the_dataset_untouched(two_workers):
    before = {p: p.stat().st_mtime_ns for p in two_workers.rglob("*")}
    r = cli(*gen_args(two_workers), check=False)
    assert r.returncode == 2 and "--resume" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli(*gen_args(two_workers, "--seed", "7", "--resume"), check=False)
    assert r.returncode == 2 and "different config" in r.stderr and "seed" in r.stderr
    assert {p: p.stat().st_mtime_ns for p in two_workers.rglob("*")} == before


def test_a_run_recorded_before_a_setting_existed_resumes_with_its_config_given_again(tmp_path):
    """A run recorded without randomize.texture_size and floor_grid_m (made before they existed: at 256 and
    0.1), resumed with its flags given again: it continues as made instead of being refused for today's
    defaults; a value given explicitly that differs is refused, naming both values and where to give it."""
    root = tmp_path / "old"
    cli(*gen_args(root, "--workers", "1", "--randomize", "none"))
    for f in (root / "dataset.json", root / "_run" / "run.json"):
        d = json.loads(f.read_text())
        config = d["config"] if f.name == "dataset.json" else d["identity"]["config"]
        del config["randomize"]["texture_size"], config["randomize"]["floor_grid_m"]
        f.write_text(json.dumps(d))
    r = cli(*gen_args(root, "--workers", "1", "--randomize", "none", "--resume"), check=False)
    assert r.returncode == 0 and "already complete" in r.stdout, r.stderr  # dataset.json may be rewritten with the two values
    randomize = json.loads((root / "dataset.json").read_text())["config"]["randomize"]
    assert (randomize.get("texture_size", 256), randomize.get("floor_grid_m", 0.1)) == (256, 0.1)
    pipe = tmp_path / "p.toml"
    pipe.write_text("[randomize]\nlevel = \"none\"\ntexture_size = 128\n")
    r = cli(*gen_args(root, "--workers", "1", "--pipeline", str(pipe), "--resume"), check=False)
    assert r.returncode == 2 and "config.randomize.texture_size: 256 recorded, 128 given (pipeline [randomize] texture_size)" in r.stderr, r.stderr
    assert "floor_grid_m" not in r.stderr, r.stderr  # not given: as recorded


@pytest.mark.own_ray  # killpg stops the embedded instance with the driver
def test_resume_after_sigkill(two_workers, tmp_path):
    out = tmp_path / "killed"
    n = 2 * N  # twice the reference: the kill lands with shards still to do
    run = [*gen_args(out, "--workers", "2", "--val-fraction", "0.3")]  # splits: chosen from the seed, so the same on resume
    run[run.index("--n") + 1] = str(n)
    p = subprocess.Popen([sys.executable, "-m", "statgen.cli", *run],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    jsonl = out / "_run/shards.jsonl"
    deadline = time.monotonic() + KILL_TIMEOUT_S
    while time.monotonic() < deadline and p.poll() is None:
        if jsonl.exists() and jsonl.read_text().strip():
            break
        time.sleep(0.05)
    assert p.poll() is None, "the run finished before it could be killed"
    os.killpg(p.pid, signal.SIGKILL)  # the driver and its Ray processes, as a cancelled job
    p.wait()
    assert not (out / "dataset.json").exists()
    done = len(jsonl.read_text().splitlines())
    assert 1 <= done < n // SHARD
    cli("generate", "--resume", "--out", str(out), "--quiet")
    assert cli("verify", str(out)).returncode == 0
    got = all_states(out)
    assert sorted(got) == list(range(n))  # nothing lost, nothing duplicated
    ref = all_states(two_workers)  # a shard depends on (config, seed, shard number), not on n
    assert {k: got[k] for k in ref} == ref
    ds = json.loads((out / "dataset.json").read_text())
    assert ds["samples"] == n and len(ds["shards"]) == n // SHARD
    # the resumed run's splits are the ones the seed gives, and they changed no sample (ref has no validation split)
    from statgen.core.splits import split_shards

    names = [s["name"] for s in ds["shards"]]
    assert ds["splits"] == {k: [names[i] for i in v] for k, v in split_shards(ds["seed"], n // SHARD, 0.3).items()}
    assert ds["splits"]["validation"] and ds["config"]["val_fraction"] == 0.3


def test_webdataset_iteration(two_workers):
    from statgen.loading import webdataset_samples

    seen = []
    for image, sample in webdataset_samples(two_workers):
        assert image.size == (224, 224)
        seen.append(sample["index"])
    assert sorted(seen) == list(range(N))


def test_hugging_face_datasets_loads_the_shards(two_workers, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    import datasets

    d = datasets.load_dataset("webdataset", data_files={"train": sorted(glob.glob(str(two_workers / "shards/*.tar")))},
                              split="train", cache_dir=str(tmp_path / "cache"))
    assert len(d) == N
    assert {"front.jpg", "json"} <= set(d.column_names)
    row = d[N - 1]
    assert row["json"]["index"] == N - 1 and row["front.jpg"].size == (224, 224)
    assert row["json"]["state"]["ee_pos"] == all_states(two_workers)[N - 1]["state"]["ee_pos"]
