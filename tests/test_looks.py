"""Randomisation levels (statgen.sim.looks, statgen.sim.stage): every lever changes the pixels and
nothing else, a look renders again from its record alone, workers carry nothing from shard to
shard, distractors stay on the table and off the robot base, the wrist camera works at every
level, and a calibrated camera renders through exactly the K it was given."""

from __future__ import annotations

import copy
import tarfile

import mujoco
import numpy as np
import pytest
from conftest import resolved

from statgen.config import build_config
from statgen.run.job import Job, ShardPlan
from statgen.run.producer import ShardProducer
from statgen.schema import Acceptance


def _producer(level: str, render: bool = True, task=None, **settings) -> ShardProducer:
    cfg = build_config({"robot": "franka", "n": 8, "randomize.level": level, **settings})
    spec, task0, model = resolved("franka")
    return ShardProducer(Job(config=cfg, robot=spec, task=task or task0, model=model), render=render)


def _state_json(sample) -> dict:
    """A sample's record without its look and its camera labels (what no appearance lever may change)."""
    d = sample.to_json()
    d.pop("scene", None)
    d.pop("cameras")
    return d


@pytest.fixture(scope="module")
def full():
    p = _producer("full", cameras=("front", "wrist"))
    streams, acc = p.start_shard(3), Acceptance()
    drawn = [p.sample(streams, i, acc) for i in range(6)]
    images = [p.render(s, look) for s, look in drawn]
    yield p, drawn, images
    p.close()


def test_a_look_renders_again_from_its_record_alone(full):
    """Sample 0's look, applied again after five other looks (from a JSON round trip of its record),
    gives the same pixels, bytes for bytes: the record holds everything the variation writes."""
    import json

    p, drawn, images = full
    (s0, look0), _ = drawn[0], drawn[-1]
    record = json.loads(json.dumps(s0.to_json()["scene"]))
    again = p.render(s0, record)
    for cam in ("front", "wrist"):
        np.testing.assert_array_equal(again[cam]["rgb"], images[0][cam]["rgb"])
    assert any(not np.array_equal(images[0]["front"]["rgb"], im["front"]["rgb"]) for im in images[1:])


LEVERS = {  # lever -> the record paths it owns
    "surfaces": (("surfaces",),),
    "lights": (("lights",),),
    "headlight": (("headlight",),),
    "camera": (("cameras", "front"),),
    "distractors": (("layout", "distractors"),),
    "walls": (("layout", "walls"),),
    "textures": (("layout", "textures"),),
}


def _get(d, path):
    for k in path:
        d = d[k]
    return d


def _set(d, path, v):
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = v


@pytest.mark.parametrize("lever", sorted(LEVERS))
def test_each_lever_alone_changes_the_pixels_and_nothing_else(full, lever):
    """Sample 0 rendered with one lever taken from another look (of another shard's layout where
    the lever is per shard): the front image changes; the state and every other part of the
    look stay; the camera labels change only with the camera lever."""
    p, drawn, images = full
    s0, look0 = drawn[0]
    other = _other_look(p, lever)
    if lever == "headlight":  # off in both looks would change nothing: turn it the other way
        h = look0["headlight"]
        other["headlight"] = {**h, "active": not h["active"], "diffuse": [0.4, 0.4, 0.4]}
    look = copy.deepcopy(look0)
    for path in LEVERS[lever]:
        assert _get(other, path) != _get(look0, path)
        _set(look, path, copy.deepcopy(_get(other, path)))
    if lever == "textures":  # every surface textured, so that the slots' pixels show
        look0 = copy.deepcopy(look0)
        for s in look0["surfaces"]:
            s["material"] = 0
        look["surfaces"] = copy.deepcopy(look0["surfaces"])
        base = p.render(s0, look0)
    else:
        base = images[0]
    img = p.render(s0, look)
    assert not np.array_equal(img["front"]["rgb"], base["front"]["rgb"]), f"{lever}: no pixel changed"
    # Labels read in the changed look: the state is the same; the camera labels follow the camera only.
    from statgen.sim.labels import labels

    state, T_world_base, cameras = labels(p.scene, p.data)
    assert state.to_json() == s0.state.to_json() and T_world_base == s0.T_world_base
    same_cam = cameras["front"].to_json() == s0.cameras["front"].to_json()
    assert same_cam == (lever != "camera")


def _other_look(p: ShardProducer, lever: str) -> dict:
    """A look from another shard (its layout is another), drawn without disturbing `p`'s state."""
    q = _producer("full", render=False, cameras=("front", "wrist"))
    streams = q.start_shard(11)
    look = q.variation.draw(rng=streams.look)
    if lever in ("distractors",):
        for s in range(12, 40):  # a layout with a distractor where shard 3's has none, or another
            if any(d["active"] for d in look["layout"]["distractors"]):
                break
            look = q.variation.draw(rng=q.start_shard(s).look)
    return look


def test_a_worker_carries_nothing_from_shard_to_shard(tmp_path):
    """Shard 1 made by a fresh producer equals, byte for byte, shard 1 made after shard 0 by the same
    producer (the layout, the texture slots and their cache, the model's edits): so one worker or two
    give the same files."""
    def shard1(p: ShardProducer, out) -> dict[str, bytes]:
        try:
            if out.name == "warm":
                p.produce(ShardPlan(shard=0, first_index=0, count=4), out)
            p.produce(ShardPlan(shard=1, first_index=4, count=4), out)
        finally:
            p.close()
        with tarfile.open(out / "shards/statgen-000001.tar") as tf:
            return {m.name: tf.extractfile(m).read() for m in tf.getmembers()}

    warm = shard1(_producer("full", cameras=("front", "wrist")), tmp_path / "warm")
    cold = shard1(_producer("full", cameras=("front", "wrist")), tmp_path / "cold")
    assert warm == cold


@pytest.mark.parametrize("level", ["none", "appearance", "full"])
def test_the_wrist_camera_sees_the_gripper_at_every_level(level):
    from statgen.sim.render import SEG_GRIPPER

    p = _producer(level, cameras=("front", "wrist"), seg=True)
    try:
        streams, acc = p.start_shard(0), Acceptance()
        for i in range(3):
            s, look = p.sample(streams, i, acc)
            img = p.render(s, look)
            assert (img["wrist"]["seg"] == SEG_GRIPPER).mean() > 0.02, f"{level}: sample {i}: no gripper in the wrist view"
            assert s.scene["level"] == level and set(s.scene["cameras"]) == {"front", "wrist"}
    finally:
        p.close()


def _aabb_world(m: mujoco.MjModel, d: mujoco.MjData, g: int) -> tuple[np.ndarray, np.ndarray]:
    """A primitive geom's exact world axis-aligned box, from its type, size and pose as MuJoCo holds them."""
    R, a = d.geom_xmat[g].reshape(3, 3), m.geom_size[g]
    t = int(m.geom_type[g])
    G = mujoco.mjtGeom
    if t == G.mjGEOM_BOX:
        h = np.abs(R) @ a
    elif t == G.mjGEOM_ELLIPSOID:
        h = np.sqrt((R * a) ** 2 @ np.ones(3))
    elif t == G.mjGEOM_SPHERE:
        h = np.full(3, a[0])
    elif t in (G.mjGEOM_CYLINDER, G.mjGEOM_CAPSULE):  # the axis is local z
        axis = R[:, 2] * (a[1] + (a[0] if t == G.mjGEOM_CAPSULE else 0.0))
        h = np.abs(axis) + a[0] * np.sqrt(np.clip(1 - R[:, 2] ** 2, 0, 1))
    else:
        raise AssertionError(f"geom type {t}")
    return d.geom_xpos[g] - h, d.geom_xpos[g] + h


def test_distractors_stay_on_the_table_and_off_the_robot_base():
    """Over 40 layouts, checked in the compiled model as laid out (not with the placement code):
    every active distractor rests on the table top within its edges, and MuJoCo's own geom distance
    to the robot base's geoms, the props and the other distractors is positive."""
    p = _producer("full", render=False)
    m, st = p.scene.model, p.scene.stage
    d = p.data
    base_geoms = np.flatnonzero(m.geom_bodyid == p.scene.index.base_body)
    seen = 0
    for shard in range(40):
        streams = p.start_shard(shard)
        p.variation.apply(p.variation.draw(rng=streams.look), data=d)  # as the producer does before a shard's first draw
        mujoco.mj_kinematics(m, d)
        top = st.table_top
        tlo, thi = d.geom_xpos[top] - m.geom_size[top], d.geom_xpos[top] + m.geom_size[top]  # the top is axis-aligned
        active = [p.scene.stage.distractors[x["slot"]].geom for x in p.variation.layout["distractors"] if x["active"]]
        seen += len(active)
        for g in active:
            lo, hi = _aabb_world(m, d, g)
            assert np.all(lo[:2] >= tlo[:2] - 1e-9) and np.all(hi[:2] <= thi[:2] + 1e-9), f"shard {shard}: geom {g} overhangs the table"
            assert abs(lo[2] - thi[2]) < 2e-4, f"shard {shard}: geom {g} does not rest on the top ({lo[2]} vs {thi[2]})"
            for other in [*base_geoms, *st.props, *(a for a in active if a != g)]:
                dist = mujoco.mj_geomDistance(m, d, int(g), int(other), 1.0, None)
                assert dist > 0, f"shard {shard}: distractor geom {g} touches geom {other} ({dist:.4f} m)"
    assert seen > 40, "too few distractors drawn to test anything"
