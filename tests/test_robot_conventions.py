"""Conventions, one case per shipped robot (statgen.config.available("robots")), the Menagerie way.

Independent truths:
- the mount and FK: tests/fk_reference.py's MJCF chain parser (xml.etree, no MuJoCo), which
  composes the arm file, the attached hand or gripper (offset, prefix) and every <frame> around
  a body; T_world_base by hand from tasks/tabletop.toml's numbers;
- the TCP between the fingertips: the fingertip points and the TCP from the same parser;
- the collision setup: geom pairs tested by their contype/conaffinity bits and, for the arms
  whose model never let links touch (gen3, iiwa7), by MuJoCo's geometric distance between two
  link geoms (mj_geomDistance ignores the bits).
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
import warnings
from pathlib import Path

import mujoco
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fk_reference as ref  # noqa: E402
from conftest import make_scene, resolved  # noqa: E402

from PIL import Image  # noqa: E402
from test_grippers import CONNECT_TOL, JOINT_EQ_TOL, independent_residuals  # noqa: E402

from statgen.config import available, build_config  # noqa: E402
from statgen.sim.assets import find_gripper_dir, find_model_dir  # noqa: E402
from statgen.sim.feasibility import in_collision  # noqa: E402
from statgen.sim.labels import state_labels  # noqa: E402
from statgen.sim.scene import set_configuration  # noqa: E402
from statgen.verify import verify  # noqa: E402

ROBOTS = available("robots")
SEED = 11
N_CONFIGS = 20
EXACT_TOL = 1e-9  # m, and per rotation-matrix entry: two routes to the same product of rigid transforms
N_STEPS = 50
OPENINGS = (0.0, 0.25, 0.5, 0.75, 1.0)
GEN_N = 2  # samples in the tiny dataset per robot

# How far the TCP may lie from the segment between the two fingertip points [m], at any opening.
TCP_TO_TIPS_TOL = {
    "franka": 1e-6,  # on the segment, midway, at every opening
    "vx300s": 1e-6,  # likewise (the two slides move symmetrically)
    "wxai": 1e-6,  # likewise (coupled carriages)
    "xarm7": 0.0085,  # on the gripper axis; the pads' midpoint moves 0.142..0.155 m along it (8.1 mm)
    "ur5e": 0.0085, "gen3": 0.0085, "iiwa7": 0.0085, "sawyer": 0.0085,  # 2F-85: the pads swing along the approach axis (0.3..8.2 mm)
    # One fixed and one moving jaw: no point is midway at every opening. The TCP sits 10 mm from the
    # fixed pad into the gap: 0.7..5.9 mm off the segment from 20 % open, 9.9 mm beyond the moving pad closed.
    "so101": 0.0105,
    # Three fingers; the width is measured between tips 1 and 2 (one finger against the pair). dm_control's
    # pinch site stays put while the tips rise 27 mm as the hand opens: 6..43 mm off that segment.
    "jaco": 0.045,
}


def _T(pos=(0.0, 0.0, 0.0), quat=(1.0, 0.0, 0.0, 0.0)) -> np.ndarray:
    return ref.homogeneous(ref.quat_wxyz_to_matrix(quat), pos)


def mount_by_hand(task) -> np.ndarray:
    """T_world_model from tasks/<task>.toml: the model's frame on the table top (+dz), yawed about z."""
    yaw = np.deg2rad(task.robot_yaw_deg)
    c, s = np.cos(yaw), np.sin(yaw)
    return ref.homogeneous(np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
                           [task.robot_pos[0], task.robot_pos[1], task.table_height + task.robot_pos[2]])


def chain(spec) -> ref.ComposedChain:
    d, _ = find_model_dir(spec)
    atts = [(d / a.file, a.body, a.prefix, None, a.site, np.eye(4)) for a in spec.model.attach]
    g = spec.model.gripper
    if g is not None:
        gd, _ = find_gripper_dir(spec)
        atts.append((gd / g.file, g.body, g.prefix, g.parent_body, g.parent_site, _T(g.mount.pos, g.mount.quat)))
    return ref.ComposedChain(d / spec.model.file, atts)


def q_of(model: mujoco.MjModel, data: mujoco.MjData) -> dict[str, float]:
    """Every hinge/slide joint's position by name (arm, drivers and the solved linkage alike)."""
    return {model.joint(j).name: float(data.qpos[model.jnt_qposadr[j]]) for j in range(model.njnt)
            if int(model.jnt_type[j]) in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))}


def tcp_ref(spec, ch: ref.ComposedChain, q) -> np.ndarray:
    if spec.tcp.site is not None:
        return ch.T_world_site(spec.tcp.site, q)
    return ch.T_world_body(spec.tcp.body, q) @ _T(spec.tcp.pos)


def point_ref(ch: ref.ComposedChain, p, q) -> np.ndarray:
    return (ch.T_world_body(p.body, q) @ np.append(p.pos, 1.0))[:3]


@pytest.fixture(scope="module", params=ROBOTS)
def robot(request):
    """(name, Scene with the front and wrist cameras, ComposedChain, the Python warnings its build raised)."""
    name = request.param
    spec = resolved(name)[0]
    if spec.model.file.lower().endswith(".urdf"):
        pytest.skip("the chain parser reads MJCF")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scene = make_scene(name, ("front", "wrist"))
    return name, scene, chain(spec), [str(w.message) for w in caught]


def test_ten_robots_ship():
    assert set(ROBOTS) >= {"franka", "jaco", "so101", "ur5e", "vx300s", "wxai", "xarm7", "gen3", "iiwa7", "sawyer"}


def test_loads_and_steps_without_warnings(robot):
    """No Python warning while building the scene (MuJoCo's attach conflicts arrive as UserWarnings), and
    none of MuJoCo's runtime warnings (data.warning) over 50 steps from a random configuration."""
    name, scene, _, caught = robot
    assert not caught, f"{name}: warnings while building the scene: {caught}"
    m = scene.model
    d = mujoco.MjData(m)
    rng = np.random.default_rng(SEED)
    set_configuration(scene, d, q_arm=rng.uniform(scene.index.arm_ranges[:, 0], scene.index.arm_ranges[:, 1]), open_fraction=0.5)
    mujoco.mj_forward(m, d)
    for _ in range(N_STEPS):
        mujoco.mj_step(m, d)
    assert not {mujoco.mjtWarning(i).name: d.warning[i].number for i in range(len(d.warning)) if d.warning[i].number}
    assert np.all(np.isfinite(d.qpos))


def test_T_world_base_is_the_mount(robot):
    """The state frame's world pose from FK is the task's mount times the state frame's pose in the model
    file (frames around the base included: the ViperX wrapper's <frame> moved it 119.5 mm before)."""
    name, scene, ch, _ = robot
    spec = scene.robot
    T_file_base = ch.T_world_body(spec.model.base_body, {}) @ _T(spec.model.state_frame.pos, spec.model.state_frame.quat)
    want = mount_by_hand(scene.task) @ T_file_base
    d = mujoco.MjData(scene.model)
    rng = np.random.default_rng(SEED)
    for _ in range(3):
        set_configuration(scene, d, q_arm=rng.uniform(scene.index.arm_ranges[:, 0], scene.index.arm_ranges[:, 1]), open_fraction=0.5)
        _, T_world_base = state_labels(scene, d)
        np.testing.assert_allclose(np.array(T_world_base), want, atol=EXACT_TOL, err_msg=name)


def test_fk_agrees_with_the_mjcf_chain(robot):
    """ee_pos and the TCP's rotation (base frame), and the gripper width, against the parser at random
    configurations and openings; the parser gets the joint positions MuJoCo holds (the solved linkage too)."""
    name, scene, ch, _ = robot
    spec = scene.robot
    T_base_file = np.linalg.inv(ch.T_world_body(spec.model.base_body, {}) @ _T(spec.model.state_frame.pos, spec.model.state_frame.quat))
    d = mujoco.MjData(scene.model)
    rng = np.random.default_rng(SEED)
    for _ in range(N_CONFIGS):
        q_arm = rng.uniform(scene.index.arm_ranges[:, 0], scene.index.arm_ranges[:, 1])
        set_configuration(scene, d, q_arm=q_arm, open_fraction=float(rng.uniform()))
        state, _ = state_labels(scene, d)
        q = q_of(scene.model, d)
        T = T_base_file @ tcp_ref(spec, ch, q)
        np.testing.assert_allclose(state.ee_pos, T[:3, 3], atol=EXACT_TOL, err_msg=f"{name} ee_pos")
        np.testing.assert_allclose(ref.quat_wxyz_to_matrix(state.ee_quat_wxyz), T[:3, :3], atol=EXACT_TOL, err_msg=f"{name} ee rotation")
        if spec.has_gripper:
            tips = [point_ref(ch, p, q) for p in spec.fingertips]
            assert state.gripper_width == pytest.approx(float(np.linalg.norm(tips[0] - tips[1])), abs=EXACT_TOL), name


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = 0.0 if not ab @ ab > 0 else float(np.clip((p - a) @ ab / (ab @ ab), 0.0, 1.0))
    return float(np.linalg.norm(p - (a + t * ab)))


def test_tcp_lies_between_the_fingertips(robot):
    name, scene, ch, _ = robot
    spec = scene.robot
    if not spec.has_gripper:
        pytest.skip("no gripper")
    d = mujoco.MjData(scene.model)
    rng = np.random.default_rng(SEED)
    q_arm = rng.uniform(scene.index.arm_ranges[:, 0], scene.index.arm_ranges[:, 1])
    worst, widths = 0.0, []
    for f in OPENINGS:
        set_configuration(scene, d, q_arm=q_arm, open_fraction=f)
        q = q_of(scene.model, d)
        a, b = (point_ref(ch, p, q) for p in spec.fingertips)
        worst = max(worst, _segment_distance(tcp_ref(spec, ch, q)[:3, 3], a, b))
        widths.append(float(np.linalg.norm(a - b)))
    assert worst <= TCP_TO_TIPS_TOL[name], f"{name}: TCP {worst * 1e3:.2f} mm from the fingertip segment"
    assert np.all(np.diff(widths) > 0), f"{name}: the width must grow from closed to open, got {np.round(widths, 4)}"
    assert widths[0] < 0.04 and widths[-1] > 0.06, f"{name}: widths {np.round(widths, 4)} m"


def test_links_can_collide_with_each_other(robot):
    """Every two robot bodies that are not parent and child (nor both in the gripper), each with a collision
    geom, have a geom pair whose contype/conaffinity bits let them touch."""
    name, scene, _, _ = robot
    m, ix = scene.model, scene.index
    coll = [g for g in range(m.ngeom) if ix.robot_geoms[g] and (m.geom_contype[g] or m.geom_conaffinity[g])]
    by_body: dict[int, list[int]] = {}
    for g in coll:
        by_body.setdefault(int(m.geom_bodyid[g]), []).append(g)
    grip = set(ix.gripper_bodies.tolist())
    bodies = sorted(by_body)
    blocked = []
    for i, b1 in enumerate(bodies):
        for b2 in bodies[i + 1:]:
            if m.body_parentid[b1] == b2 or m.body_parentid[b2] == b1 or (b1 in grip and b2 in grip):
                continue
            if m.body_weldid[b1] == m.body_weldid[b2]:
                continue
            if not any((m.geom_contype[g1] & m.geom_conaffinity[g2]) or (m.geom_contype[g2] & m.geom_conaffinity[g1])
                       for g1 in by_body[b1] for g2 in by_body[b2]):
                blocked.append((m.body(b1).name, m.body(b2).name))
    assert not blocked, f"{name}: {len(blocked)} link pairs can never collide, e.g. {blocked[:3]}"


def test_overlapping_links_are_rejected(robot):
    """gen3 and iiwa7 (collide_links): a configuration where two arm links overlap (MuJoCo's geometric
    distance, which ignores the bits, is negative) is a collision for statgen's sampler."""
    name, scene, _, _ = robot
    if not scene.robot.model.collide_links:
        pytest.skip("the model's own collision bits")
    m, ix = scene.model, scene.index
    d = mujoco.MjData(m)
    arm = [g for g in range(m.ngeom) if ix.robot_geoms[g] and not ix.gripper_geoms[g] and (m.geom_contype[g] or m.geom_conaffinity[g])]
    def adjacent(b1: int, b2: int) -> bool:  # the same weld group, or parent and child groups
        w1, w2 = m.body_weldid[b1], m.body_weldid[b2]
        return w1 == w2 or m.body_weldid[m.body_parentid[w1]] == w2 or m.body_weldid[m.body_parentid[w2]] == w1

    pairs = [(g1, g2) for i, g1 in enumerate(arm) for g2 in arm[i + 1:] if not adjacent(m.geom_bodyid[g1], m.geom_bodyid[g2])]
    rng = np.random.default_rng(SEED)
    found = 0
    fromto = np.zeros(6)
    for _ in range(4000):
        set_configuration(scene, d, q_arm=rng.uniform(ix.arm_ranges[:, 0], ix.arm_ranges[:, 1]), open_fraction=0.5, cameras=False)
        for g1, g2 in pairs:
            if mujoco.mj_geomDistance(m, d, g1, g2, 0.05, fromto) < -1e-4:
                assert in_collision(scene, d), f"{name}: {m.body(m.geom_bodyid[g1]).name} and {m.body(m.geom_bodyid[g2]).name} overlap"
                found += 1
                break
        if found >= 3:
            break
    assert found >= 1, f"{name}: no random configuration made two links overlap"


def test_open_fraction_is_the_label_and_the_linkage_holds(robot):
    """At every opening the label gripper_open_fraction is the opening asked for (0..1), gripper_open
    its threshold, and the model's equality constraints (the 2F-85's four-bar, coupled carriages, the
    xArm parallelogram) hold, recomputed from body poses and qpos (tests/test_grippers.py)."""
    name, scene, _, _ = robot
    if not scene.robot.has_gripper:
        pytest.skip("no gripper")
    d = mujoco.MjData(scene.model)
    rng = np.random.default_rng(SEED)
    q_arm = rng.uniform(scene.index.arm_ranges[:, 0], scene.index.arm_ranges[:, 1])
    for f in (*OPENINGS, *rng.uniform(size=5)):
        set_configuration(scene, d, q_arm=q_arm, open_fraction=float(f))
        state, _ = state_labels(scene, d)
        assert 0.0 <= state.gripper_open_fraction <= 1.0
        assert state.gripper_open_fraction == pytest.approx(f, abs=1e-9), name
        connect, joint = independent_residuals(scene.model, d)
        assert connect < CONNECT_TOL and joint < JOINT_EQ_TOL, f"{name} at {f:.2f}: connect {connect:.2e} m, joint {joint:.2e}"


def test_a_tiny_dataset_verifies(robot, tmp_path, generate_in_process):
    """generate (default randomisation, front camera, segmentation, the TCP visible) then statgen.verify;
    every sample's TCP pixel lies in the box of the gripper's pixels in the rendered segmentation (the
    TCP between the fingers in the image, an independent render-side truth)."""
    name, scene, _, _ = robot
    out = tmp_path / name
    cfg = build_config({"robot": name, "n": GEN_N, "shard_size": GEN_N, "out": str(out), "seg": True, "require_visible": True, "progress": False})
    generate_in_process(cfg)
    rep = verify(out)
    assert rep.ok, rep.lines()
    with tarfile.open(out / "shards/statgen-000000.tar") as tf:
        files = {m.name: tf.extractfile(m).read() for m in tf.getmembers()}
    for i in range(GEN_N):
        sample = json.loads(files[f"{i:09d}.json"])
        assert sample["robot"] == name
        cam = sample["cameras"]["front"]
        assert cam["ee_visible"] is True  # require_visible: the TCP is not hidden behind the arm
        if not scene.robot.has_gripper:
            continue
        u, v = cam["ee_pixel"]
        seg = np.array(Image.open(io.BytesIO(files[f"{i:09d}.front.seg.png"])))
        rows, cols = np.nonzero(seg == 2)
        assert rows.size, f"{name} sample {i}: no gripper pixels"
        pad = 2  # px: a pixel centre, rounding
        assert cols.min() - pad <= u <= cols.max() + pad and rows.min() - pad <= v <= rows.max() + pad, \
            f"{name} sample {i}: TCP pixel {(u, v)} outside the gripper's box {cols.min(), rows.min(), cols.max(), rows.max()}"
