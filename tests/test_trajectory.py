"""Trajectory mode end to end (issue 12), checked against independent truth: shards re-read with plain
tarfile, finite differences of the stored qpos, MuJoCo's own collision test in a scene with an obstacle."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import mujoco
import numpy as np
import pytest
from conftest import make_spec, no_ray, resolved

import statgen
from statgen.core import rosa
from statgen.core import trajectory as tj
from statgen.errors import ConfigError

STEPS, HZ = 10, 10.0
N, SHARD = 40, 20


def _cfg(out: Path, **kw) -> statgen.GenerateConfig:
    values = {"robot": "franka", "n": N, "shard_size": SHARD, "out": str(out), "trajectory.mode": "trajectory",
              "trajectory.steps": STEPS, "trajectory.hz": HZ, "text_kinds": ["rosa", "natural", "action", "forward", "inverse"],
              "randomize.level": "full", "progress": False}
    values.update(kw)
    return statgen.build_config(values)


def _produce(cfg, shards=None, producers=1) -> None:
    """The run's shards made in this process; `producers` > 1 splits them round-robin over fresh producers (as workers)."""
    from statgen.run.generate import prepare
    from statgen.run.job import plan_shards
    from statgen.run.producer import ShardProducer

    job, store = prepare(cfg)
    plans = [p for p in plan_shards(cfg.n, cfg.shard_size) if shards is None or p.shard in shards]
    for k in range(producers):
        p = ShardProducer(job)
        try:
            for plan in plans[k::producers]:
                p.produce(plan, store)
        finally:
            p.close()


def _read(out: Path) -> tuple[list[dict], dict[str, list[int]], dict[str, bytes]]:
    """Every sample's JSON (by index), the episode ids per shard, and each shard's bytes: plain tarfile."""
    samples, per_shard, raw = [], {}, {}
    for tar in sorted((out / "shards").glob("*.tar")):
        raw[tar.name] = tar.read_bytes()
        with tarfile.open(tar) as tf:
            js = [json.loads(tf.extractfile(m).read()) for m in tf.getmembers() if m.name.endswith(".json")]
        per_shard[tar.name] = [d["episode"]["id"] for d in js]
        samples += js
    return sorted(samples, key=lambda d: d["index"]), per_shard, raw


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A whole trajectory dataset (dataset.json included), made in this process. Read-only."""
    import statgen.run.generate as gen

    out = tmp_path_factory.mktemp("traj") / "a"
    cfg = _cfg(out)
    with pytest.MonkeyPatch.context() as mp:
        no_ray(mp)
        gen.generate(cfg)
    return cfg, out, *_read(out)


def test_episodes_are_whole_dense_and_schema_3(run):
    cfg, out, samples, per_shard, _ = run
    assert [d["index"] for d in samples] == list(range(N))
    for d in samples:
        assert d["schema"] == "statgen.sample/3"
        assert d["episode"] == {"id": d["index"] // STEPS, "step": d["index"] % STEPS, "steps": STEPS, "hz": HZ}
    for ids in per_shard.values():  # whole episodes per shard
        assert len(ids) % STEPS == 0 and all(ids.count(i) == STEPS for i in set(ids))
    # the look holds still within an episode and changes between episodes
    for e in range(N // STEPS):
        looks = {json.dumps(d["scene"], sort_keys=True) for d in samples if d["episode"]["id"] == e}
        assert len(looks) == 1
    assert len({json.dumps(d["scene"], sort_keys=True) for d in samples}) == N // STEPS


def test_action_at_t_is_the_state_at_t_plus_1(run):
    cfg, out, samples, _, _ = run
    for a, b in zip(samples, samples[1:] + [None]):
        act = a["action"]
        last = a["episode"]["step"] == STEPS - 1
        nxt = a if last else b  # the last step's action repeats its state
        assert act["tokens"] == nxt["text"]["rosa"]["answer"]
        for k in ("ee_pos", "ee_euler_xyz", "ee_quat_wxyz"):
            np.testing.assert_allclose(act[k], nxt["state"][k], rtol=0, atol=1e-9)
        assert act["gripper_open"] == nxt["state"]["gripper_open"]
        np.testing.assert_allclose(act["delta"]["pos"], np.subtract(nxt["state"]["ee_pos"], a["state"]["ee_pos"]), atol=1e-9)
        assert act["delta"]["gripper"] == pytest.approx(nxt["state"]["gripper_open_fraction"] - a["state"]["gripper_open_fraction"], abs=1e-12)
        if last:
            assert act["delta"]["rotvec"] == [0.0, 0.0, 0.0] and act["delta"]["pos"] == [0.0, 0.0, 0.0]
        # the text kinds
        assert a["text"]["action"]["answer"] == act["tokens"] and act["tokens"] in a["text"]["forward"]["question"]
        assert a["text"]["inverse"]["answer"] == act["tokens"]
    # the tokens are ROSA's binning of the next state (independent re-binning from the stored floats)
    spec = resolved("franka")[0]
    r = np.array(spec.rosa_ranges)
    for d in samples[:STEPS]:
        s = d["state"]
        want = rosa.to_bins(np.concatenate([s["ee_pos"], s["ee_euler_xyz"], [1.0 if s["gripper_open"] else 0.0]]), r)
        assert d["text"]["rosa"]["answer"] == " ".join(map(str, want))


def test_joint_velocity_and_acceleration_within_limits_and_gripper_speed_finite(run):
    cfg, out, samples, _, _ = run
    from statgen.run.producer import joint_limits
    from conftest import make_scene

    lim = joint_limits(make_scene("franka"))
    v, a = np.array(lim.velocity), np.array(lim.acceleration)
    n_arm = len(v)
    moved = 0.0
    for e in range(N // STEPS):
        q = np.array([d["state"]["qpos"] for d in samples if d["episode"]["id"] == e])
        dq = np.diff(q[:, :n_arm], axis=0)
        assert np.all(np.abs(dq) <= v / HZ + 1e-9), "a joint step exceeds velocity / hz"
        assert np.all(np.abs(np.diff(q[:, :n_arm], 2, axis=0)) * HZ**2 <= a + 1e-6), "a second difference exceeds the acceleration limit"
        g = np.array([d["state"]["gripper_open_fraction"] for d in samples if d["episode"]["id"] == e])
        assert np.all(np.abs(np.diff(g)) <= cfg.trajectory.gripper_speed / HZ + 1e-9)
        moved += float(np.abs(dq).sum())
    assert moved > 0.5  # it does move


def test_every_recorded_step_is_collision_free(run):
    from statgen.sim.feasibility import in_collision
    from statgen.sim.scene import set_qpos

    cfg, out, samples, _, _ = run
    # at level full the layout (distractors, table) is part of the look: re-apply each sample's record
    from statgen.run.generate import prepare
    from statgen.run.producer import ShardProducer

    job, _ = prepare(_cfg(out.parent / "unused"))
    p = ShardProducer(job, render=False)
    for d in samples:
        p.variation.apply(d["scene"], data=p.data)
        set_qpos(p.scene, p.data, qpos=np.array(d["state"]["qpos"]))
        assert not in_collision(p.scene, p.data)
    p.close()


def test_one_or_two_producers_and_an_interrupted_run_give_the_same_bytes(run, tmp_path):
    cfg, out, samples, _, raw = run
    two = tmp_path / "two"
    _produce(_cfg(two), producers=2)
    assert _read(two)[2] == raw
    part = tmp_path / "part"  # shard 1 first, then shard 0 in a fresh process-like producer (as a resume does)
    _produce(_cfg(part), shards={1})
    _produce(_cfg(part), shards={0})
    assert _read(part)[2] == raw


def test_generate_resumes_a_trajectory_run(run, generate_in_process, tmp_path, monkeypatch):
    """A run cut after its first shard, resumed: the same shards as one run, episodes whole."""
    import statgen.run.generate as gen

    cut = tmp_path / "cut"
    real = gen.run_shards

    def first_only(job, todo, out, *, on_result, on_progress):
        real(job, todo[:1], out, on_result=on_result, on_progress=on_progress)
        raise KeyboardInterrupt

    monkeypatch.setattr(gen, "run_shards", first_only)
    with pytest.raises(KeyboardInterrupt):
        generate_in_process(_cfg(cut))
    assert len(list((cut / "shards").glob("*.tar"))) == 1
    monkeypatch.setattr(gen, "run_shards", real)
    generate_in_process(_cfg(cut, resume=True))
    assert _read(cut)[2] == run[4]
    info = json.loads((cut / "dataset.json").read_text())
    assert info["config"]["schema"] == "statgen.sample/3" and info["config"]["trajectory"]["mode"] == "trajectory"


def test_mismatched_sizes_and_kinds_are_refused_in_one_line():
    with pytest.raises(ConfigError, match=r"--shard-size 25 must each be a multiple of trajectory.steps = 10"):
        statgen.build_config({"robot": "franka", "n": 100, "shard_size": 25, "trajectory.mode": "trajectory", "trajectory.steps": 10})
    with pytest.raises(ConfigError, match="need a next step"):
        statgen.build_config({"robot": "franka", "n": 100, "text_kinds": ["rosa", "action"]})
    # independent defaults stay out of the identity: independent datasets are what they were
    ident = statgen.build_config({"robot": "franka", "n": 100}).identity()
    assert "trajectory" not in ident and "text_kinds" not in ident


# --------------------------------------------------------------------------- collisions between recorded steps


def test_a_collision_between_two_free_waypoints_is_caught_by_the_substeps():
    """An obstacle where the TCP passes half-way between two free waypoints: checking only the recorded
    steps misses it, the substep check catches it (and counts it)."""
    from statgen.schema import Acceptance
    from statgen.sim.feasibility import in_collision
    from statgen.sim.scene import set_qpos
    from statgen.sim.sources import TrajectorySource, _Shifted

    q_mid = np.array([0.0, 0.3, 0.0, -1.8, 0.0, 2.1, 0.8, 0.04, 0.04])
    qa, qb = q_mid.copy(), q_mid.copy()
    qa[0], qb[0] = -1.0, 1.0  # joint 1 sweeps the arm through q_mid
    scene = _obstacle_scene(q_mid, radius=0.04)
    data = mujoco.MjData(scene.model)
    for q in (qa, qb):
        set_qpos(scene, data, qpos=q)
        assert not in_collision(scene, data), "the waypoints themselves must be free"
    set_qpos(scene, data, qpos=q_mid)
    assert in_collision(scene, data), "the obstacle must block the straight joint path"

    settings = statgen.config.settings.TrajectorySettings(mode="trajectory", hz=1.0, steps=2, check_substeps=8)
    src = TrajectorySource(scene, data, settings=settings, limits=tj.JointLimits((10.0,) * 7, (100.0,) * 7))
    path = _Shifted(tj.JointPath(waypoints=np.array([qa[:7], qb[:7]]), durations=np.array([1.0])), 0.0)
    grip = tj.GripperPlan(start=1.0, switches=(), speed=1.0)
    acc = Acceptance()
    # recorded steps only (t = 1 s, the free end): missed
    assert _collision_only(src, path, grip, acc, substeps=1)
    # with substeps: caught and counted
    acc = Acceptance()
    assert not _collision_only(src, path, grip, acc, substeps=8)
    assert acc.rejected["collision"] == 1


def _obstacle_scene(q_at: np.ndarray, *, radius: float):
    """franka/tabletop plus a sphere of `radius` [m] where the TCP is at configuration q_at."""
    import dataclasses

    from statgen.config import RenderSettings
    from statgen.sim.scene import build_scene, compile_scene, index_scene, set_qpos

    spec, task, res = resolved("franka")
    plain = build_scene(robot=spec, task=task, resolved=res, cameras=("front",), render=RenderSettings())
    d0 = mujoco.MjData(plain.model)
    set_qpos(plain, d0, qpos=q_at)
    p = d0.site_xpos[plain.index.tcp_site].copy()
    mj_spec, _children, _, _ = make_spec("franka", ("front",))
    mj_spec.worldbody.add_geom(name="test/obstacle", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[radius, 0, 0], pos=p.tolist())
    model = compile_scene(mj_spec, spec.name)
    return dataclasses.replace(plain, model=model, index=index_scene(model, robot=spec, cameras=("front",)))


def test_the_planner_redraws_waypoints_whose_segments_collide_and_keeps_every_substep_free():
    """A big obstacle in the middle of the reachable space: the planner rejects segments for collision (counted),
    and every substep of the episodes it keeps is collision-free (re-tested with MuJoCo at the check resolution)."""
    from statgen.schema import Acceptance
    from statgen.sim.feasibility import in_collision
    from statgen.sim.scene import set_qpos
    from statgen.sim.sources import TrajectorySource

    scene = _obstacle_scene(np.array([0.0, 0.0, 0.0, -1.6, 0.0, 1.6, 0.8, 0.04, 0.04]), radius=0.15)
    data = mujoco.MjData(scene.model)
    settings = statgen.config.settings.TrajectorySettings(mode="trajectory", hz=HZ, steps=30, check_substeps=4)
    src = TrajectorySource(scene, data, settings=settings, limits=tj.JointLimits.from_ranges(scene.index.arm_ranges))
    rng, acc = np.random.default_rng(0), Acceptance()
    for _ in range(6):
        src.plan(rng=rng, acc=acc)
        path, grip = src.last_path, src.last_gripper
        t = tj.substep_times(t0=0.0, t1=(settings.steps - 1) / HZ, hz=HZ, substeps=settings.check_substeps)
        q = np.concatenate([path.position(t), src._gripper_qpos(grip.fraction(t))], axis=1)
        for qi in q:
            set_qpos(scene, data, qpos=qi, cameras=False)
            assert not in_collision(scene, data)
    assert acc.rejected["collision"] > 0


def _collision_only(src, path, grip, acc, *, substeps):
    """segment_ok with the workspace and view tests passed through (this test is about collisions)."""
    f = src.feasibility
    f.in_workspace = lambda p: True
    f.in_front_view = lambda p: True
    return src.segment_ok(path=path, t0=0.0, t1=1.0, grip=grip, acc=acc, substeps=substeps)


# --------------------------------------------------------------------------- verify


def test_verify_passes_a_trajectory_dataset_and_catches_a_wrong_action(run, tmp_path):
    import shutil

    from test_verify import relist, rewrite_tar

    from statgen.verify import verify

    _, out, *_ = run
    rep = verify(out)
    assert rep.ok, rep.lines()
    copy = tmp_path / "ds"
    shutil.copytree(out, copy)

    def edit(name, data):
        if name == "000000023.json":
            s = json.loads(data)
            t = s["action"]["tokens"].split()
            t[0] = str((int(t[0]) + 1) % 256)
            s["action"]["tokens"] = " ".join(t)
            s["text"]["action"]["answer"] = s["action"]["tokens"]
            return name, json.dumps(s).encode()
        return name, data

    rewrite_tar(copy / "shards/statgen-000001.tar", edit)
    relist(copy, "shards/statgen-000001.tar")
    bad = dict(verify(copy).shard_status)
    assert bad["shards/statgen-000000.tar"] == "ok"
    assert "000000023" in bad["shards/statgen-000001.tar"] and "action tokens" in bad["shards/statgen-000001.tar"]


def test_verify_episode_checks_bite(run):
    """The velocity check fails the real data under a limit 100 times lower; broken episode fields are caught."""
    import copy as _copy

    from statgen.schema import Sample
    from statgen.verify import _Episodes

    cfg, out, samples, _, _ = run
    from conftest import make_scene
    from statgen.run.producer import joint_limits

    v = np.asarray(joint_limits(make_scene("franka")).velocity)
    parsed = [Sample.from_json(d) for d in samples[:STEPS]]
    ok = _Episodes(cfg, v)
    assert [ok.add(s) for s in parsed] == [None] * STEPS
    slow = _Episodes(cfg, v / 100)
    assert any(p and "over its velocity limit / hz" in p for p in (slow.add(s) for s in parsed))
    d = _copy.deepcopy(samples[3])
    d["episode"]["step"] = 4
    assert "expected {id 0, step 3" in _Episodes(cfg, v).add(Sample.from_json(d))
    d = _copy.deepcopy(samples[STEPS - 1])
    d["action"]["ee_pos"][0] += 1e-6
    assert "its own state (the last step)" in _Episodes(cfg, v).add(Sample.from_json(d))


def test_verify_finds_a_step_in_collision(run):
    """A sample whose labels agree with FK but whose qpos is in collision: verify's FK check reports it."""
    from statgen.schema import Sample
    from statgen.sim.feasibility import in_collision
    from statgen.sim.labels import state_labels
    from statgen.sim.scene import set_qpos
    from statgen.storage.read import read_dataset_json
    from statgen.storage.fs import Store
    from statgen.verify import _FK

    cfg, out, samples, _, _ = run
    ds = read_dataset_json(Store.open(str(out)))
    fk = _FK(ds, None)
    try:
        s = Sample.from_json(samples[0])
        fk.producer.variation.apply(s.scene, data=fk.data)
        rng = np.random.default_rng(0)
        ix = fk.scene.index
        for _ in range(2000):  # a colliding configuration
            q = np.concatenate([ix.arm_ranges[:, 0] + rng.random(len(ix.arm_ranges)) * np.diff(ix.arm_ranges, axis=1)[:, 0], [0.04, 0.04]])
            set_qpos(fk.scene, fk.data, qpos=q)
            if in_collision(fk.scene, fk.data):
                break
        else:
            pytest.fail("no colliding configuration found")
        st, _ = state_labels(fk.scene, fk.data)
        bad = Sample.from_json({**samples[0], "state": st.to_json()})
        assert fk.check(Sample.from_json(samples[0])) is None
        assert fk.check(bad) == "in collision (re-tested from its qpos in its scene)"
    finally:
        fk.close()


def test_robot_toml_limits_are_read_checked_and_used():
    import dataclasses

    from conftest import make_scene
    from statgen.config.files import find_toml, read_toml
    from statgen.config.robot import robot_from_dict, robot_from_toml
    from statgen.run.producer import joint_limits
    from statgen.schema import spec_json

    raw = read_toml(find_toml("robots", "franka"))
    spec = robot_from_toml({**raw, "limits": {"velocity": [2.175] * 4 + [2.61] * 3, "acceleration": [15.0, 7.5, 10, 12.5, 15, 20, 20]}}, "x.toml")
    assert spec.joint_velocity_limits == (2.175,) * 4 + (2.61,) * 3
    # dataset.json leaves the models' provenance texts out (documentation, not data): compare without them
    plain = dataclasses.replace(spec, source_path="dataset.json", model=dataclasses.replace(spec.model, provenance=""))
    assert robot_from_dict(spec_json(spec)) == plain
    scene = make_scene("franka")
    assert joint_limits(dataclasses.replace(scene, robot=spec)).acceleration == (15.0, 7.5, 10, 12.5, 15, 20, 20)
    default = joint_limits(scene)  # the shipped TOML has none: 0.35 / 1.0 x the range
    np.testing.assert_allclose(default.velocity, tj.DEFAULT_VEL_FRACTION * np.diff(scene.index.arm_ranges, axis=1)[:, 0])
    assert "joint_velocity_limits" not in spec_json(scene.robot)  # robots without [limits]: dataset.json as before
    with pytest.raises(ConfigError, match=r"limits.velocity: expected 7 positive values"):
        robot_from_toml({**raw, "limits": {"velocity": [1.0, 2.0]}}, "x.toml")


def test_preview_episode_strip_draws_the_tcp_path_through_each_frames_tcp(run, tmp_path):
    from PIL import Image

    from statgen.preview import PATH_COLOUR, TILE_SCALE, episode_strip

    _, out, samples, _, _ = run
    path = episode_strip(out, out=tmp_path / "strip.png", episode=1, count=STEPS)
    im = np.asarray(Image.open(path).convert("RGB")).astype(int)
    w, h = samples[0]["cameras"]["front"]["width"] * TILE_SCALE, samples[0]["cameras"]["front"]["height"] * TILE_SCALE
    assert im.shape == (2 * h, 5 * w, 3)
    cyan = np.all(im == PATH_COLOUR, axis=2)
    # each tile: the path passes within a few pixels of that frame's stored TCP pixel (the path of step k goes through it)
    for k in range(STEPS):
        d = samples[STEPS + k]
        u, v = d["cameras"]["front"]["ee_pixel"]
        r, c = divmod(k, 5)
        x, y = int(round(c * w + (u + 0.5) * TILE_SCALE)), int(round(r * h + (v + 0.5) * TILE_SCALE))
        if 0 <= u < w / TILE_SCALE and 30 / TILE_SCALE < v < h / TILE_SCALE - 15:
            assert cyan[max(0, y - 8):y + 9, max(0, x - 8):x + 9].any(), f"no path near the TCP in frame {k}"
    with pytest.raises(ConfigError, match=r"--episode 9: expected 0 to 3"):
        episode_strip(out, out=tmp_path / "x.png", episode=9)


def test_schema_3_blocks_are_refused_where_they_do_not_belong(run):
    import copy as _copy

    from statgen.schema import Sample, SchemaError

    _, _, samples, _, _ = run
    d3 = _copy.deepcopy(samples[0])
    Sample.from_json(d3)
    d2 = {**d3, "schema": "statgen.sample/2"}
    with pytest.raises(SchemaError, match="episode: unknown key in statgen.sample/2"):
        Sample.from_json(d2)
    no_action = {k: v for k, v in d3.items() if k != "action"}
    with pytest.raises(SchemaError, match="action: expected a value in statgen.sample/3"):
        Sample.from_json(no_action)
    bad = _copy.deepcopy(d3)
    bad["action"]["delta"]["rotvec"] = [0.0, 0.0]
    with pytest.raises(SchemaError, match=r"action.delta.rotvec: expected 3 values"):
        Sample.from_json(bad)
    # the index has the episode columns, read with plain pyarrow
    import pyarrow.dataset as pads

    _, out, *_ = run
    t = pads.dataset(out / "index", format="parquet").to_table().sort_by("index")
    assert t.column("episode").to_pylist() == [i // STEPS for i in range(N)]
    assert t.column("step").to_pylist() == [i % STEPS for i in range(N)]
    assert t.column("action_rosa").to_pylist() == [d["action"]["tokens"] for d in samples]


@pytest.mark.parametrize("args, says", [
    (["--mode", "trajectory", "--n", "120"], "--n 120 must each be a multiple of trajectory.steps = 50"),
    (["--mode", "trajectory", "--n", "100", "--shard-size", "30"], "--shard-size 30"),
    (["--n", "100", "--text-kinds", "rosa,inverse"], "add --mode trajectory"),
    (["--n", "100", "--text-kinds", "natural"], "includes 'rosa'"),
    (["--n", "100", "--mode", "random"], "expected one of independent, trajectory"),
])
def test_bad_trajectory_input_is_one_line_exit_2_and_writes_nothing(args, says, tmp_path, capsys):
    from conftest import assert_one_line

    from statgen.cli import main

    out = tmp_path / "out"
    code = main(["generate", "--robot", "franka", *args, "--out", str(out), "--quiet"])
    line = assert_one_line(capsys.readouterr().err, code, 2)
    assert says in line
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.own_ray  # the killed driver's embedded instance dies with it
def test_driver_killed_mid_run_then_resumed_gives_the_same_episodes(run, tmp_path):
    """`statgen generate` (Ray, 2 workers) SIGKILLed after its first shard record, then --resume: the shards are
    byte for byte the in-process run's (so Ray workers and this process agree too), and verify passes."""
    import os
    import subprocess
    import sys
    import time

    from conftest import run_cli

    pipe = tmp_path / "traj.toml"
    pipe.write_text(f"[pipeline]\nrobot = 'franka'\nn = {N}\nshard_size = {SHARD}\n[trajectory]\nmode = 'trajectory'\nsteps = {STEPS}\n"
                    f"hz = {HZ}\n[text]\nkinds = ['rosa', 'natural', 'action', 'forward', 'inverse']\n[randomize]\nlevel = 'full'\n")
    out = tmp_path / "ds"
    env = {**os.environ, "STATGEN_FAULT_KILL_AT": "after_shard_record", "STATGEN_FAULT_ONCE": str(tmp_path / "fault")}
    p = subprocess.run([sys.executable, "-m", "statgen.cli", "generate", "--pipeline", str(pipe), "--workers", "2", "--out", str(out), "--quiet"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == -9, p.stderr[-2000:]
    assert not (out / "dataset.json").exists()
    time.sleep(1.0)
    run_cli("generate", "--resume", "--out", str(out), "--quiet")
    assert _read(out)[2] == run[4]
    assert run_cli("verify", str(out)).returncode == 0


def test_an_arm_without_a_gripper_records_episodes(tmp_path):
    """The gripper plan is drawn and ignored: qpos holds the arm joints only, actions and verify's checks hold."""
    from test_gripperless import NOHAND

    robot = tmp_path / "franka_nohand.toml"
    robot.write_text(NOHAND)
    out = tmp_path / "nohand"
    with pytest.MonkeyPatch.context() as mp:
        no_ray(mp)
        import statgen.run.generate as gen

        gen.generate(_cfg(out, robot=str(robot), n=STEPS, shard_size=STEPS, text_kinds=["rosa", "action"]))
    samples, _, _ = _read(out)
    assert all(len(d["state"]["qpos"]) == 7 and d["state"]["gripper_open_fraction"] == 0.0 for d in samples)
    for a, b in zip(samples, samples[1:]):
        assert a["action"]["tokens"] == b["text"]["rosa"]["answer"] and a["action"]["delta"]["gripper"] == 0.0
    from statgen.verify import verify

    rep = verify(out)
    assert rep.ok, rep.lines()
