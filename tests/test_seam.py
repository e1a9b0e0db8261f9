"""The per-sample seam (statgen.sim.sources, statgen.sim.variation, the producer): a look drawn from
its own stream and applied before labels and again before rendering, so labels and pixels come
from one state across batches; a source that holds a look; the front camera read per look."""

from __future__ import annotations

import hashlib
import json
import tarfile

import mujoco
import numpy as np
import pytest
from conftest import resolved

import statgen.run.producer as producer_mod
from statgen.config import build_config
from statgen.run.job import Job, ShardPlan
from statgen.run.producer import ShardProducer
from statgen.sim.sources import IndependentSource

COUNT = 7


class CameraAndTable:
    """A look of the kind issue 10 adds: the front camera moved (up to `shift` m in x and y) and the
    table recoloured. Counts its calls."""

    def __init__(self, scene, shift: float = 0.1, move_camera: bool = True):
        m = scene.model
        self.cam = scene.index.camera_ids["front"]
        self.table = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "statgen/table_top")
        self.pos0, self.rgba0 = m.cam_pos[self.cam].copy(), m.geom_rgba[self.table].copy()
        self.shift, self.move_camera = shift, move_camera
        self.shards = self.draws = 0

    def initialize_shard(self, *, rng, shard=0):
        self.shards += 1

    def draw(self, *, rng):
        self.draws += 1
        dx, dy = rng.uniform(-self.shift, self.shift, 2) if self.move_camera else (0.0, 0.0)
        return {"front_dxy": [float(dx), float(dy)], "table_rgb": rng.uniform(0.2, 0.9, 3).tolist()}

    def apply(self, params, *, data):
        m = data.model
        dx, dy = params.get("front_dxy", (0.0, 0.0))
        m.cam_pos[self.cam] = self.pos0 + np.array([dx, dy, 0.0])
        m.geom_rgba[self.table, :3] = params.get("table_rgb", self.rgba0[:3])


class HoldingSource(IndependentSource):
    """Independent draws, but a new look only every second sample (as a trajectory's episode would)."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.k = 0

    def initialize_shard(self, *, rng):
        self.k = 0

    def new_look(self) -> bool:
        self.k += 1
        return self.k % 2 == 1


def _producer(variation=None, source=None, render=True, **settings) -> ShardProducer:
    cfg = build_config({"robot": "franka", "n": COUNT, "randomize.level": "none", **settings})  # the seam with its own variations
    spec, task, model = resolved("franka")
    return ShardProducer(Job(config=cfg, robot=spec, task=task, model=model), render=render, variation=variation, source=source)


def _shard(producer: ShardProducer, tmp_path) -> dict[str, bytes]:
    try:
        producer.produce(ShardPlan(shard=0, first_index=0, count=COUNT), tmp_path)
    finally:
        producer.close()
    with tarfile.open(tmp_path / "shards/statgen-000000.tar") as tf:
        return {m.name: tf.extractfile(m).read() for m in tf.getmembers()}


def test_labels_and_pixels_come_from_the_applied_look_across_batches(tmp_path, monkeypatch):
    """Batches of 3 give byte for byte the shard of batches of 1: each image is rendered in its own
    sample's look (the camera moved per sample), whatever look the batch's last label left applied."""
    looks = {}
    for batch in (1, 3):
        monkeypatch.setattr(producer_mod, "MAX_BATCH", batch)
        out = tmp_path / f"b{batch}"
        looks[batch] = _shard(_producer(variation=lambda scene: CameraAndTable(scene)), out)
    assert looks[1] == looks[3]
    plain = _shard(_producer(), tmp_path / "plain")
    cams = [json.loads(looks[3][f"{i:09d}.json"])["cameras"]["front"] for i in range(COUNT)]
    poses = {tuple(np.round(np.array(c["T_world_cam"])[:2, 3], 9)) for c in cams}
    assert len(poses) == COUNT, "the labels' T_world_cam must follow the camera each look moved"
    assert all(c["ee_in_view"] for c in cams), "accepted in the moved camera's view"
    differ = sum(hashlib.sha256(looks[3][f"{i:09d}.front.jpg"]).digest() != hashlib.sha256(plain[f"{i:09d}.front.jpg"]).digest()
                 for i in range(COUNT))
    assert differ == COUNT


def test_the_feasibility_tests_follow_the_moved_camera():
    """A large camera shift per look: every accepted sample is in the view of the camera as moved."""
    p = _producer(variation=lambda scene: CameraAndTable(scene, shift=0.3), render=False)
    from statgen.schema import Acceptance

    streams, acc = p.start_shard(0), Acceptance()
    for i in range(40):
        sample, look = p.sample(streams, i, acc)
        c = sample.cameras["front"]
        np.testing.assert_allclose(np.array(c.T_world_cam)[:2, 3], p.variation.pos0[:2] + np.array(look["front_dxy"]), atol=1e-12)
        assert c.ee_in_view, f"sample {i} accepted out of the moved camera's view"
    assert acc.rejected["out_of_view"] > 0


def test_a_look_that_changes_no_configuration_leaves_the_configurations_alone(tmp_path):
    """Looks have their own stream: recolouring the table changes pixels, never which configurations
    are accepted nor any label or text: everything but the `scene` block (the look itself) is equal."""
    plain = _shard(_producer(), tmp_path / "plain")
    coloured = _shard(_producer(variation=lambda scene: CameraAndTable(scene, move_camera=False)), tmp_path / "coloured")
    for i in range(COUNT):
        got, ref = json.loads(coloured[f"{i:09d}.json"]), json.loads(plain[f"{i:09d}.json"])
        assert got.pop("scene") != ref.pop("scene")
        assert got == ref
        assert coloured[f"{i:09d}.front.jpg"] != plain[f"{i:09d}.front.jpg"]


def test_a_source_can_hold_a_look_for_several_samples(tmp_path):
    made = {}

    def variation(scene):
        made["v"] = CameraAndTable(scene)
        return made["v"]

    files = _shard(_producer(variation=variation, source=lambda scene, data, feas: HoldingSource(scene, data, feasibility=feas)), tmp_path)
    assert made["v"].draws == (COUNT + 1) // 2 and made["v"].shards == 1
    poses = [json.loads(files[f"{i:09d}.json"])["cameras"]["front"]["T_world_cam"] for i in range(COUNT)]
    for i in range(0, COUNT - 1, 2):
        assert poses[i] == poses[i + 1] and poses[i] != poses[i + 2]


@pytest.mark.parametrize("shard", [0, 3])
def test_shard_streams_are_distinct_and_fixed(shard):
    from statgen.run.producer import ShardStreams, shard_rng

    s = ShardStreams.of(5, shard)
    assert s.configuration.random() == shard_rng(5, shard).random()  # today's stream, unchanged
    firsts = {s.look.random(), s.layout.random(), ShardStreams.of(5, shard).configuration.random()}
    assert len(firsts) == 3
