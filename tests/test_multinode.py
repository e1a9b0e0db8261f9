"""A multi-node Ray cluster on loopback: generate with --address, and lose a worker node mid-run."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from test_pipeline import all_states, cli

N, SHARD = 48, 8
RUN_TIMEOUT_S = 400


@pytest.fixture
def cluster():
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    node = c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c, node
    c.shutdown()


def args(out, address, *extra):
    return ["generate", "--robot", "franka", "--n", str(N), "--shard-size", str(SHARD), "--address", address, "--out", str(out), "--quiet", *extra]


def test_losing_a_worker_node_loses_no_sample(cluster, tmp_path):
    c, node = cluster
    out = tmp_path / "ds"
    p = subprocess.Popen([sys.executable, "-m", "statgen.cli", *args(out, c.address)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    jsonl = out / "_run/shards.jsonl"
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline and p.poll() is None and not (jsonl.exists() and jsonl.read_text().strip()):
        time.sleep(0.05)
    assert p.poll() is None, "the run finished before the node could be removed"
    c.remove_node(node)  # the worker node dies: its actor and its shard in flight are lost
    stdout, stderr = p.communicate(timeout=RUN_TIMEOUT_S)
    assert p.returncode == 0, stderr[-3000:]
    assert "worker lost" in stderr
    assert cli("verify", str(out)).returncode == 0
    ds = json.loads((out / "dataset.json").read_text())
    assert ds["samples"] == N
    assert sorted(all_states(out)) == list(range(N))  # exactly n unique samples

    # The same config on one local worker gives the same states: nothing was duplicated or altered.
    ref = tmp_path / "ref"
    cli("generate", "--robot", "franka", "--n", str(N), "--shard-size", str(SHARD), "--workers", "1", "--out", str(ref), "--quiet")
    assert all_states(out) == all_states(ref)
