"""The learnability probe (bench/probe.py): images and labels that belong together teach
a small CNN something that shuffled labels cannot.

Needs the probe extra (pip install -e '.[probe]': JAX and optax); without it these tests
are skipped. About a minute on 2 cores.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli

pytest.importorskip("jax", reason="the probe needs the 'probe' extra (pip install -e '.[probe]'): JAX is not installed")
pytest.importorskip("optax", reason="the probe needs the 'probe' extra (pip install -e '.[probe]'): optax is not installed")

PROBE = Path(__file__).resolve().parents[1] / "bench" / "probe.py"
pytestmark = pytest.mark.slow


def probe(*args: str) -> dict:
    p = subprocess.run([sys.executable, str(PROBE), *args], capture_output=True, text=True)
    assert p.returncode == 0, f"probe {' '.join(args)} exited {p.returncode}:\n{p.stderr[-3000:]}"
    assert "epoch 1/" in p.stderr  # progress per epoch on stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def dataset_1k(tmp_path_factory):
    """1000 franka samples in 4 shards: the probe trains on 3 and holds out the last."""
    out = tmp_path_factory.mktemp("probe") / "franka1k"
    run_cli("generate", "--robot", "franka", "--n", "1000", "--shard-size", "250", "--out", str(out), "--quiet")
    return out


def test_true_labels_beat_shuffled_labels_and_the_baseline(dataset_1k):
    common = ["--size", "64", "--epochs", "6", "--seed", "0"]
    true = probe(str(dataset_1k), *common)
    shuffled = probe(str(dataset_1k), *common, "--shuffle-labels")
    for name, r in (("true", true), ("shuffled", shuffled)):
        print(name, {k: r[k] for k in ("pos_median_cm", "pixel_median_px", "rot_median_deg", "gripper_acc", "baseline_pos_median_cm", "baseline_pixel_median_px", "seconds")})
    assert true["train_samples"] == 750 and true["tests"][0]["samples"] == 250
    for k in ("pos_median_cm", "pos_p90_cm", "rot_median_deg", "gripper_acc", "pixel_median_px", "baseline_pos_median_cm", "seconds"):
        assert isinstance(true[k], (int, float)), k
    # Images and labels that drifted apart (an off-by-one key, a wrong camera) would leave
    # the true-label probe no better than the shuffled one.
    assert true["pos_median_cm"] < 0.75 * shuffled["pos_median_cm"], (true, shuffled)
    assert true["pixel_median_px"] < 0.6 * shuffled["pixel_median_px"], (true, shuffled)
    assert true["pos_median_cm"] < 0.75 * true["baseline_pos_median_cm"], true
    assert true["pixel_median_px"] < 0.6 * true["baseline_pixel_median_px"], true


def test_same_seed_same_numbers(dataset_1k):
    args = [str(dataset_1k), "--size", "32", "--epochs", "1", "--n", "128", "--n-test", "64", "--batch", "32", "--seed", "3"]
    a, b = probe(*args), probe(*args)
    for k in ("pos_median_cm", "pos_p90_cm", "rot_median_deg", "gripper_acc", "pixel_median_px", "baseline_pos_median_cm"):
        assert a[k] == b[k], (k, a[k], b[k])
