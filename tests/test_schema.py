"""The declared schema (statgen.schema): every writer and reader goes through it, so it must
reproduce the pinned golden run exactly and report every problem of a damaged file at once."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import orjson
import pytest

from statgen.schema import SAMPLE_SCHEMAS, DatasetInfo, Sample, SchemaError, index_row, index_schema

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
import golden  # noqa: E402


@pytest.fixture(scope="module")
def reference() -> dict:
    return golden.load()


def _dataset_json(reference: dict) -> dict:
    """A whole dataset.json: the golden run's deterministic part plus plausible volatile keys."""
    shards = [{**s, "bytes": 1000 + i, "sha256": f"{i:064x}"} for i, s in enumerate(reference["dataset"]["shards"].values())]
    return {**reference["dataset"], "shards": shards, "statgen_version": "0.1.0", "samples_per_second": 12.5,
            "versions": {"statgen": "0.1.0", "mujoco": "3", "dm_control": "1", "numpy": "2", "gl_renderer": "x"},
            "resources": {"driver_peak_rss_mb": 348.0, "worker_peak_rss_mb": 430.1}}


def test_every_golden_sample_round_trips_byte_for_byte(reference):
    for name, text in reference["members"].items():
        sample = Sample.from_json(json.loads(text))
        assert orjson.dumps(sample.to_json(), option=orjson.OPT_SORT_KEYS).decode() == text, name


def test_the_index_schema_and_rows_are_the_golden_ones(reference):
    samples = [Sample.from_json(json.loads(t)) for _, t in sorted(reference["members"].items())]
    s0 = samples[0]
    schema = index_schema(s0.state.joint_names, list(s0.cameras))
    assert schema.to_string(show_schema_metadata=False) == reference["index"]["schema"]
    rows = [index_row(s, shard_name=f"shards/statgen-{s.index // golden.SHARD_SIZE:06d}.tar") for s in samples]
    got = json.loads(json.dumps(rows))  # NaN-free: compare as JSON
    assert got == json.loads(json.dumps(reference["index"]["rows"]))


def test_dataset_json_round_trips(reference):
    d = _dataset_json(reference)
    info = DatasetInfo.from_json(copy.deepcopy(d))
    assert info.config.seed == golden.SEED and info.config.n == golden.N and info.sample_schema in SAMPLE_SCHEMAS
    assert info.robot_spec.name == "franka" and info.task_spec.camera("front").width == 224
    assert json.dumps(info.to_json(), sort_keys=True) == json.dumps(d, sort_keys=True)


def test_a_damaged_sample_reports_every_problem_at_once(reference):
    d = json.loads(next(iter(reference["members"].values())))
    d["index"] = "seven"
    d["state"]["ee_pos"] = [0.0, 1.0]
    d["cameras"]["front"]["K"][2] = "x"
    del d["text"]["rosa"]["answer"]
    d["colour"] = "red"
    with pytest.raises(SchemaError) as e:
        Sample.from_json(d)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("5 problems: ")
    for piece in ("index: expected an integer", "state.ee_pos: expected 3 values, got 2", "cameras.front.K[2]: expected a list",
                  "text.rosa.answer: missing", "colour: unknown key"):
        assert piece in msg, msg


def test_an_unknown_sample_version_is_refused(reference):
    d = json.loads(next(iter(reference["members"].values())))
    d["schema"] = "statgen.sample/99"
    with pytest.raises(SchemaError, match="schema: expected one of statgen.sample/1"):
        Sample.from_json(d)


def test_a_damaged_dataset_json_reports_every_problem_at_once(reference):
    d = _dataset_json(reference)
    d["samples"] = -1
    d["config"]["jpeg_quality"] = 500
    d["shards"][0]["bytes"] = "many"
    del d["rosa"]
    with pytest.raises(SchemaError) as e:
        DatasetInfo.from_json(d)
    msg = str(e.value)
    assert msg.startswith("4 problems: ") and "\n" not in msg
    for piece in ("samples: expected >= 0", "shards[0].bytes: expected an integer", "rosa: missing", "config.jpeg_quality: expected 1..100"):
        assert piece in msg, msg


def test_both_sample_versions_are_read_and_each_keeps_its_own_fields(reference):
    """Schema 2 (the golden run) has a `scene` block and a non-null ee_pixel; the same sample written as
    schema 1 (no scene block, ee_pixel null behind the camera) is read too; each refuses the other's shape."""
    d2 = json.loads(reference["members"]["000000000.json"])
    assert d2["schema"] == "statgen.sample/2" and d2["scene"]["level"] == "none"
    d1 = copy.deepcopy(d2)
    d1["schema"] = "statgen.sample/1"
    del d1["scene"]
    d1["cameras"]["front"]["ee_pixel"] = None
    assert Sample.from_json(copy.deepcopy(d1)).scene is None
    with pytest.raises(SchemaError, match="scene: unknown key in statgen.sample/1"):
        Sample.from_json({**d1, "scene": d2["scene"]})
    no_scene = {k: v for k, v in d2.items() if k != "scene"}
    with pytest.raises(SchemaError, match="scene: expected a value in statgen.sample/2"):
        Sample.from_json(no_scene)
    null_pixel = copy.deepcopy(d2)
    null_pixel["cameras"]["front"]["ee_pixel"] = None
    with pytest.raises(SchemaError, match="cameras.front.ee_pixel: expected a value"):
        Sample.from_json(null_pixel)
    bad = copy.deepcopy(d2)
    bad["scene"]["lights"][0]["pos"] = [1.0, 2.0]
    del bad["scene"]["headlight"]
    with pytest.raises(SchemaError) as e:
        Sample.from_json(bad)
    assert "scene.lights[0].pos: expected 3 values" in str(e.value) and "scene.headlight: missing" in str(e.value)
