"""Every shipped robot (statgen.config.available("robots")) loads, simulates and samples.

Menagerie-style model checks: the scene compiles, steps without MuJoCo warnings, every
arm joint has a finite sampling range, and the sample source's accepted samples meet their
contract (TCP inside the workspace box, front ee_pixel inside the image, no penetration
of a robot geom), recomputed here from MjData with plain numpy.
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from conftest import draw, make_scene
from statgen.config import available
from statgen.schema import REJECT_REASONS, Acceptance
from statgen.sim.feasibility import in_collision
from statgen.sim.scene import set_configuration

ROBOTS = available("robots")
N_STEPS = 50
N_ACCEPTED = 20
N_WORKSPACE_PROBES = 200
SEED = 7
# MuJoCo reports a contact when geoms are within their margin; only negative distance
# deeper than this counts as penetration here (MuJoCo's own collision round-off is ~1e-9).
PENETRATION_M = 1e-6
# "Hand into the table": the TCP at least this far below the table top, and this far
# inside its edges, so the fingers surely overlap the table box.
INTO_TABLE_M = 0.03
EDGE_MARGIN_M = 0.1
HOME_Q = np.array([0, 0, 0, -1.57079, 0, 1.57079, -0.7853])  # Menagerie panda.xml keyframe "home"


def test_shipped_robots():
    assert {"franka", "jaco"} <= set(ROBOTS)


@pytest.fixture(scope="module", params=ROBOTS)
def scene(request):
    return make_scene(request.param, ("front",))


def tcp_in_base(scene, data) -> np.ndarray:
    b, s = scene.index.base_body, scene.index.tcp_site
    R = data.xmat[b].reshape(3, 3)
    return R.T @ (data.site_xpos[s] - data.xpos[b])


def robot_geom_mask(model, base_body: int) -> np.ndarray:
    """Geoms of the bodies whose top-level ancestor is the robot's base."""
    return model.body_rootid[model.geom_bodyid] == base_body


def test_model_steps_without_warnings(scene):
    m = scene.model
    _, drawn = draw(scene, np.random.default_rng(SEED), Acceptance())
    d = mujoco.MjData(m)
    d.qpos[:] = drawn.qpos
    for _ in range(N_STEPS):
        mujoco.mj_step(m, d)
    warnings = {mujoco.mjtWarning(i).name: d.warning[i].number for i in range(len(d.warning)) if d.warning[i].number}
    assert not warnings, warnings
    for arr in (d.qpos, d.qvel, d.qacc, d.xpos):
        assert np.all(np.isfinite(arr))


def test_every_arm_joint_has_a_finite_range(scene):
    m, ix = scene.model, scene.index
    assert ix.arm_ranges.shape == (len(scene.robot.arm_joints), 2)
    assert np.all(np.isfinite(ix.arm_ranges)) and np.all(ix.arm_ranges[:, 0] < ix.arm_ranges[:, 1])
    overrides = dict(scene.robot.arm_ranges)
    for name, (lo, hi) in zip(scene.robot.arm_joints, ix.arm_ranges):
        j = m.joint(name)
        if name in overrides:
            assert (lo, hi) == overrides[name]
        else:
            assert m.jnt_limited[j.id], f"{name} is unlimited in the model and has no [arm.ranges] entry"
            np.testing.assert_array_equal([lo, hi], m.jnt_range[j.id])  # default: the model's limits
        assert hi - lo <= 2 * np.pi + 1e-6, f"{name}: more than one turn"
        assert m.jnt_qposadr[j.id] in ix.arm_qpos


def test_tcp_reaches_the_workspace(scene):
    d = mujoco.MjData(scene.model)
    rng = np.random.default_rng(SEED)
    lo, hi = np.array(scene.robot.workspace_min), np.array(scene.robot.workspace_max)
    inside = 0
    for _ in range(N_WORKSPACE_PROBES):
        q = rng.uniform(scene.index.arm_ranges[:, 0], scene.index.arm_ranges[:, 1])
        set_configuration(scene, d, q_arm=q, open_fraction=0.5)
        p = tcp_in_base(scene, d)
        inside += bool(np.all(p >= lo) and np.all(p <= hi))
    assert inside >= N_WORKSPACE_PROBES // 10, f"only {inside}/{N_WORKSPACE_PROBES} random TCPs in the box"


def test_sampler_accepts_only_valid_samples(scene):
    m = scene.model
    data = mujoco.MjData(m)
    rng = np.random.default_rng(SEED)
    acc = Acceptance()
    lo, hi = np.array(scene.robot.workspace_min), np.array(scene.robot.workspace_max)
    front = scene.task.camera("front")
    robot = robot_geom_mask(m, scene.index.root_body)  # the model's base body (the state frame may be a child of it)
    assert robot.sum() == scene.index.robot_geoms.sum()
    grip_bodies = {m.body(b).id for b in scene.robot.gripper_bodies}
    gripper = np.isin(m.geom_bodyid, list(grip_bodies))
    for i in range(N_ACCEPTED):
        labels, d = draw(scene, rng, acc, data=data)
        p = tcp_in_base(scene, d)
        assert np.all(p >= lo) and np.all(p <= hi), f"sample {i}: TCP {p} outside {lo}..{hi}"
        np.testing.assert_allclose(labels.state.ee_pos, p, atol=1e-9)
        c = labels.cameras["front"]
        u, v = c.ee_pixel
        assert -0.5 <= u <= front.width - 0.5 and -0.5 <= v <= front.height - 0.5
        assert c.ee_in_view is True and c.ee_depth > 0
        # no robot geom penetrates anything (the gripper touching itself is allowed)
        mujoco.mj_collision(m, d)
        for k in range(d.ncon):
            g1, g2, dist = d.contact.geom1[k], d.contact.geom2[k], d.contact.dist[k]
            if (robot[g1] or robot[g2]) and not (gripper[g1] and gripper[g2]):
                assert dist > -PENETRATION_M, f"sample {i}: {m.geom(g1).name or g1} / {m.geom(g2).name or g2} at {dist}"
    assert acc.accepted == N_ACCEPTED
    assert set(acc.rejected) == set(REJECT_REASONS)
    assert acc.drawn == acc.accepted + sum(acc.rejected.values())
    assert acc.drawn > acc.accepted, "no draw was rejected: the rejection paths went untested"
    assert acc.as_dict()["drawn"] == acc.drawn


def test_sampler_is_deterministic(scene):
    a, _ = draw(scene, np.random.default_rng(SEED), Acceptance())
    b, _ = draw(scene, np.random.default_rng(SEED), Acceptance())
    assert a == b


# ----------------------------------------------------------------------------- collisions (franka)


@pytest.fixture(scope="module")
def franka(franka_scene):
    return franka_scene


def test_hand_in_the_table_is_a_collision(franka):
    task = franka.task
    d = mujoco.MjData(franka.model)
    rng = np.random.default_rng(SEED)
    cx, cy = task.table_center_xy[:2]
    sx, sy = task.table_size[:2]
    found = 0
    for _ in range(3000):
        q = rng.uniform(franka.index.arm_ranges[:, 0], franka.index.arm_ranges[:, 1])
        set_configuration(franka, d, q_arm=q, open_fraction=float(rng.uniform()))
        x, y, z = d.site_xpos[franka.index.tcp_site]
        if z < task.table_height - INTO_TABLE_M and abs(x - cx) < sx / 2 - EDGE_MARGIN_M and abs(y - cy) < sy / 2 - EDGE_MARGIN_M:
            found += 1
            assert in_collision(franka, d), f"TCP at {(x, y, z)} is below the table top {task.table_height} but no collision"
            if found == 5:
                break
    assert found >= 1, "no random configuration put the hand into the table"


def test_home_is_not_in_collision(franka):
    d = mujoco.MjData(franka.model)
    for frac in (0.0, 1.0):
        set_configuration(franka, d, q_arm=HOME_Q, open_fraction=frac)
        assert not in_collision(franka, d)
