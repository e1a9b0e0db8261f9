"""Faults on one machine: the driver or a worker killed at chosen points, a full disk, two runs at once.

Each case ends with exactly n unique samples that `statgen verify` accepts and whose states
equal an uninterrupted run's: no sample lost, none duplicated.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import E2E_N, E2E_SHARD
from test_pipeline import all_states, cli

N, SHARD = E2E_N, E2E_SHARD
RUN_TIMEOUT_S = 300


def args(out: Path, *extra: str, workers: str = "2") -> list[str]:
    if "--resume" in extra:  # a resume takes everything else from the dataset's run record
        return ["generate", "--out", str(out), "--workers", workers, "--quiet", *extra]
    return ["generate", "--robot", "franka", "--n", str(N), "--shard-size", str(SHARD), "--workers", workers, "--out", str(out), "--quiet", *extra]


@pytest.fixture(scope="module")
def reference(dataset_2w) -> dict:
    return all_states(dataset_2w)


def run_with_fault(out: Path, point: str, tmp: Path, *extra: str, workers: str = "2") -> subprocess.CompletedProcess:
    env = {**os.environ, "STATGEN_FAULT_KILL_AT": point, "STATGEN_FAULT_ONCE": str(tmp / f"fault-{point}")}
    return subprocess.run([sys.executable, "-m", "statgen.cli", *args(out, *extra, workers=workers)], capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT_S)


def assert_complete(out: Path, reference: dict) -> None:
    assert cli("verify", str(out)).returncode == 0
    assert all_states(out) == reference
    ds = json.loads((out / "dataset.json").read_text())
    assert ds["samples"] == N and len(ds["shards"]) == N // SHARD
    assert not (out / "_run/lock").exists()
    leftovers = [p.name for p in (out / "shards").iterdir() if not p.name.endswith(".tar")]
    assert leftovers == []


DRIVER_KILL_POINTS = ("after_run_json", "after_shard_record", "before_dataset_json")


@pytest.mark.own_ray  # the killed driver's embedded instance dies with it
def test_driver_killed_at_each_point_then_resumed(reference, tmp_path):
    """One dataset, its driver SIGKILLed at each point in turn: a fresh run dies after run.json,
    its resume after its first shard record, the next resume just before dataset.json; the last
    resume completes it. (One chain instead of three runs from scratch: the same kill points and
    checks, half the runs.)"""
    out = tmp_path / "ds"
    for i, point in enumerate(DRIVER_KILL_POINTS):
        p = run_with_fault(out, point, tmp_path, *(("--resume",) if i else ()))
        assert p.returncode == -9, f"killed at {point}: {p.stderr[-2000:]}"  # SIGKILL
        assert (tmp_path / f"fault-{point}").exists(), point  # that point, not an earlier one
        assert not (out / "dataset.json").exists(), point
        assert (out / "_run/lock").exists(), point  # left behind by the dead driver: stale, detected on resume
        time.sleep(1.0)  # let the orphaned Ray processes notice their driver is gone
    cli("generate", "--resume", "--out", str(out), "--quiet")
    assert_complete(out, reference)


@pytest.mark.parametrize("point,workers", [("mid_shard", "2"), ("after_shard_rename", "2"), ("mid_shard", "1")])
def test_worker_killed_is_retried_without_resume(point, workers, reference, tmp_path):
    out = tmp_path / "ds"
    p = run_with_fault(out, point, tmp_path, workers=workers)
    assert p.returncode == 0, p.stderr[-2000:]
    assert (tmp_path / f"fault-{point}").exists()  # the fault did fire
    assert "worker lost" in p.stderr
    assert_complete(out, reference)


def test_second_run_on_the_same_output_is_refused(tmp_path):
    out = tmp_path / "ds"
    long_run = [*args(out)[:4], "2000", *args(out)[5:]]  # --n 2000: still running when the second starts
    first = subprocess.Popen([sys.executable, "-m", "statgen.cli", *long_run], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not (out / "_run/run.json").exists() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.05)
        second = cli(*long_run, "--resume", check=False)
        assert first.poll() is None, "the first run ended before the second could be refused"
        assert second.returncode == 2 and "another statgen generate holds" in second.stderr, second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        first.terminate()
        first.wait(timeout=RUN_TIMEOUT_S)


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_disk_full_fails_cleanly_and_resumes(small_tmpfs, reference, tmp_path):
    out = small_tmpfs / "ds"
    p = cli(*args(out), check=False)
    assert p.returncode == 1, p.stderr[-2000:]
    lines = p.stderr.strip().splitlines()
    # With a shard finished, its advice is --resume; with none (the usual case on 96 KiB), the run
    # removed what it had begun and says to run the command again (issue 8 row 11).
    assert lines and "No space left on device" in lines[-1] and ("--resume" in lines[-1] or "nothing was kept" in lines[-1])
    assert "Traceback" not in p.stderr
    assert not (out / "dataset.json").exists()
    for tar in (out / "shards").glob("*"):  # only complete shards are visible, and they are intact
        assert tar.name.endswith(".tar")
    assert not (out / "_run/lock").exists()
    subprocess.run(["mount", "-o", "remount,size=16m", str(small_tmpfs)], check=True)
    cli(*args(out), "--resume")  # continues the run, or starts it again where nothing was kept
    assert_complete(out, reference)
