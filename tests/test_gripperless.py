"""An arm without a gripper (issue 8 row 6): supported, with constant gripper fields.

The Menagerie Panda without its hand (panda_nohand.xml), the TCP on link7's flange. Every
sample must have gripper_open_fraction 0.0, gripper_open false and gripper_width 0.0 (the
same types as for an arm with a gripper, never NaN or null), the ROSA gripper token 0,
natural text that names no gripper, and `statgen verify` must pass.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
import tarfile
import warnings
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads
import pytest
from conftest import run_cli

from statgen.config import ConfigError, load_robot, load_task, robot_from_dict

NOHAND = """\
name = "franka_nohand"
description = "Franka Emika Panda without its hand: the TCP on link7's flange"

[model]
source = "menagerie"
name = "franka_emika_panda"
file = "panda_nohand.xml"
base_body = "link0"
license = "Apache-2.0"

# The flange: link7's attachment frame, 0.107 m along its z axis.
[tcp]
body = "link7"
pos = [0.0, 0.0, 0.107]

[arm]
joints = ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "joint7"]

[workspace]
min = [-0.2, -0.6, 0.0]
max = [0.9, 0.6, 1.0]

[rosa]
ranges = [[-0.2, 0.9], [-0.6, 0.6], [-0.1, 1.0], [-3.1416, 3.1416], [-1.5708, 1.5708], [-3.1416, 3.1416], [0, 1]]
"""
EMPTY_GRIPPER = "[gripper]\njoints = []\nclosed = []\nopen = []\nbodies = []\n"
N, SHARD = 16, 8
GRIPPER_WORD = re.compile(r"gripper|finger|open|closed|jaw", re.IGNORECASE)


@pytest.fixture(scope="module")
def nohand_toml(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("robot") / "franka_nohand.toml"
    p.write_text(NOHAND)
    return p


def _write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "r.toml"
    p.write_text(text)
    return str(p)


# --------------------------------------------------------------------------- the robot TOML


def test_no_gripper_table_and_empty_joints_are_the_same_robot(nohand_toml, tmp_path):
    a = load_robot(str(nohand_toml))
    b = load_robot(_write(tmp_path, NOHAND + EMPTY_GRIPPER))
    assert not a.has_gripper and not b.has_gripper
    assert dataclasses.replace(a, source_path="") == dataclasses.replace(b, source_path="")
    assert a.gripper_joints == () and a.fingertips == () and a.gripper_bodies == ()
    assert load_robot("franka").has_gripper and load_robot("jaco").has_gripper


def test_gripperless_spec_round_trips_through_dataset_json(nohand_toml):
    spec = load_robot(str(nohand_toml))
    d = json.loads(json.dumps({k: v for k, v in dataclasses.asdict(spec).items() if k != "source_path"}))
    back = robot_from_dict(d)
    assert back == dataclasses.replace(spec, source_path="dataset.json")
    assert not back.has_gripper


@pytest.mark.parametrize("extra, says", [
    (EMPTY_GRIPPER + 'fingertips = [{ body = "link7", pos = [0.0, 0.01, 0.107] }, { body = "link7", pos = [0.0, -0.01, 0.107] }]\n',
     "gripper.fingertips: expected none for a robot without gripper joints"),
    ("[gripper]\njoints = []\nclosed = [0.0]\nopen = [0.04]\n", "expected closed = [] and open = []"),
    ("[gripper]\njoints = []\ncolour = 1\n", "unknown key 'colour'"),
])
def test_gripperless_mistakes_are_config_errors(tmp_path, extra, says):
    with pytest.raises(ConfigError) as e:
        load_robot(_write(tmp_path, NOHAND + extra))
    assert says in str(e.value) and "\n" not in str(e.value)


# --------------------------------------------------------------------------- labels and text, in process


def _producer(robot_path: str):
    from statgen.config import build_config
    from statgen.run.job import Job
    from statgen.run.producer import ShardProducer
    from statgen.sim.assets import resolve_model

    spec = load_robot(robot_path)
    cfg = build_config({"robot": robot_path, "n": N, "shard_size": SHARD})
    return ShardProducer(Job(config=cfg, robot=spec, task=load_task("tabletop"), model=resolve_model(spec)), render=False)


def _shape(v):
    """The JSON type structure of a sample: key sets and leaf types (list lengths left out)."""
    if isinstance(v, dict):
        return {k: _shape(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        return ["list", *sorted({json.dumps(_shape(x)) for x in v})]
    return type(v).__name__


def test_samples_have_the_same_fields_and_types_as_an_arm_with_a_gripper(nohand_toml):
    from statgen.schema import Acceptance

    nohand, franka = _producer(str(nohand_toml)), _producer("franka")

    def first_sample(p, i):
        sample, _ = p.sample(p.start_shard(0), i, Acceptance())
        return json.loads(json.dumps(sample.to_json()))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Mean of empty slice" was the symptom
        s = [first_sample(nohand, i) for i in range(8)]
    ref = first_sample(franka, 0)
    for sample in s:
        assert _shape(sample) == _shape(ref)
        st = sample["state"]
        assert st["gripper_open_fraction"] == 0.0 and type(st["gripper_open_fraction"]) is float
        assert st["gripper_width"] == 0.0 and type(st["gripper_width"]) is float
        assert st["gripper_open"] is False
        assert len(st["qpos"]) == len(st["joint_names"]) == 7
        assert sample["text"]["rosa"]["answer"].split(" ")[-1] == "0"
        assert not GRIPPER_WORD.search(sample["text"]["natural"]["answer"]), sample["text"]["natural"]
        assert not GRIPPER_WORD.search(sample["text"]["natural"]["question"]), sample["text"]["natural"]


def test_text_without_a_gripper_takes_the_same_draws():
    from statgen.core import text

    assert len(text.NATURAL_QUESTIONS_NO_GRIPPER) == len(text.NATURAL_QUESTIONS)
    assert len(text.NATURAL_ANSWERS_NO_GRIPPER) == len(text.NATURAL_ANSWERS)
    for seed in range(40):
        with_g, without = np.random.default_rng(seed), np.random.default_rng(seed)
        kw = dict(ee_pos=np.array([0.3, -0.2, 0.4]), ee_euler_xyz=np.array([3.0, 0.1, -0.2]), gripper_open=False, gripper_width=0.0)
        a = text.natural_text(rng=with_g, **kw)
        b = text.natural_text(rng=without, has_gripper=False, **kw)
        assert with_g.bit_generator.state == without.bit_generator.state
        assert text.NATURAL_QUESTIONS.index(a["question"]) == text.NATURAL_QUESTIONS_NO_GRIPPER.index(b["question"])
        assert not GRIPPER_WORD.search(b["question"] + b["answer"]), b
    for q in text.NATURAL_QUESTIONS_NO_GRIPPER + text.NATURAL_ANSWERS_NO_GRIPPER:
        assert not GRIPPER_WORD.search(q), q


# --------------------------------------------------------------------------- end to end: generate, verify, read


def _samples(root: Path) -> list[dict]:
    out = []
    for shard in sorted((root / "shards").glob("*.tar")):
        with tarfile.open(shard) as tf:
            for m in tf.getmembers():
                if m.name.endswith(".json"):
                    out.append(json.load(io.BytesIO(tf.extractfile(m).read())))
    return out


def test_gripperless_dataset_end_to_end(nohand_toml, tmp_path):
    out = tmp_path / "nohand"
    p = run_cli("generate", "--robot", str(nohand_toml), "--n", str(N), "--shard-size", str(SHARD), "--workers", "1",
                "--out", str(out), "--quiet", timeout=300)
    assert "RuntimeWarning" not in p.stderr and "Traceback" not in p.stderr, p.stderr
    v = run_cli("verify", str(out), check=False, timeout=300)
    assert v.returncode == 0, v.stdout + v.stderr
    assert f"verified {N} samples" in v.stdout and "NaN" not in v.stdout and "missing" not in v.stdout, v.stdout

    samples = _samples(out)
    assert sorted(s["index"] for s in samples) == list(range(N))
    for s in samples:
        st = s["state"]
        assert st["gripper_open_fraction"] == 0.0 and type(st["gripper_open_fraction"]) is float, st
        assert st["gripper_width"] == 0.0 and type(st["gripper_width"]) is float, st
        assert st["gripper_open"] is False, st
        assert st["joint_names"] == [f"joint{i}" for i in range(1, 8)]
        assert all(isinstance(x, float) and math.isfinite(x) for x in st["qpos"] + st["ee_pos"])
        assert s["text"]["rosa"]["answer"].split(" ")[-1] == "0"
        nat = s["text"]["natural"]
        assert "gripper" not in (nat["question"] + nat["answer"]).lower(), nat
        assert not GRIPPER_WORD.search(nat["question"] + nat["answer"]), nat

    ds = json.loads((out / "dataset.json").read_text())
    assert ds["robot_spec"]["gripper_joints"] == [] and ds["robot_spec"]["fingertips"] == []
    t = pads.dataset(str(out / "index")).to_table().to_pydict()
    assert t["gripper_width"] == [0.0] * N and t["gripper_open_fraction"] == [0.0] * N and t["gripper_open"] == [False] * N
