"""statgen's FK labels (sim.labels.state_labels) against the independent reference.

tests/fk_reference.py computes the TCP pose without MuJoCo: the Panda's published DH
table, and an MJCF-parsing chain for the Jaco (tests/test_fk_reference.py checks the
reference itself). statgen reports the state in the robot BASE frame; T_world_base is the
mount that tasks/tabletop.toml describes, recomputed here by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fk_reference as ref  # noqa: E402
from conftest import make_scene  # noqa: E402

from statgen.sim.labels import state_labels  # noqa: E402
from statgen.sim.scene import set_configuration  # noqa: E402

N_CONFIGS = 200
SEED = 2024
# The reference agrees with the MJCF to ~1e-15 (test_fk_reference.py), but Menagerie's
# quats are written with 7 digits (0.9238795, 0.70710678...), so MuJoCo's normalised
# frames differ from exact DH angles by ~1e-8; 1e-6 m / rad is well above that and far
# below anything a label could afford to be off by (ROSA bins are ~4 mm and 0.025 rad).
POS_TOL_M = 1e-6
ROT_TOL_RAD = 1e-6
# Pure float round-off between two spellings of the same number (mount, widths).
EXACT_TOL = 1e-9


def rot_angle(Ra: np.ndarray, Rb: np.ndarray) -> float:
    """Angle [rad] of Ra^T Rb."""
    return float(Rotation.from_matrix(Ra.T @ Rb).magnitude())


def wxyz_to_R(q) -> np.ndarray:
    w, x, y, z = q
    return Rotation.from_quat([x, y, z, w]).as_matrix()


def mount_by_hand(task) -> np.ndarray:
    """T_world_base from tasks/<task>.toml: yaw about world z, base on the table top (+dz)."""
    yaw = np.deg2rad(task.robot_yaw_deg)
    c, s = np.cos(yaw), np.sin(yaw)
    T = np.eye(4)
    T[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    T[:3, 3] = [task.robot_pos[0], task.robot_pos[1], task.table_height + task.robot_pos[2]]
    return T


def check_rotation_fields(state, R_ref: np.ndarray) -> None:
    q = np.array(state.ee_quat_wxyz)
    assert q[0] >= 0
    assert np.linalg.norm(q) == pytest.approx(1.0, abs=EXACT_TOL)
    assert rot_angle(wxyz_to_R(q), R_ref) < ROT_TOL_RAD
    np.testing.assert_allclose(state.ee_rot6d, np.concatenate([R_ref[:, 0], R_ref[:, 1]]), atol=ROT_TOL_RAD)
    e = np.array(state.ee_euler_xyz)
    assert rot_angle(Rotation.from_euler("xyz", e).as_matrix(), R_ref) < ROT_TOL_RAD
    assert -np.pi / 2 <= e[1] <= np.pi / 2 and np.all(np.abs(e[[0, 2]]) <= np.pi + EXACT_TOL)


@pytest.fixture(scope="module")
def franka(franka_scene):
    return franka_scene


@pytest.fixture(scope="module")
def jaco():
    return make_scene("jaco", ("front",))


def test_tabletop_mount_by_hand(franka):
    # tasks/tabletop.toml: robot pos (-0.2, 0.05, 0.0), yaw 10 deg; table top at z = 0.75
    T = mount_by_hand(franka.task)
    np.testing.assert_allclose(T[:3, 3], [-0.2, 0.05, 0.75])
    np.testing.assert_allclose(T[:3, :3], Rotation.from_euler("z", 10, degrees=True).as_matrix(), atol=EXACT_TOL)


@pytest.mark.parametrize("robot", ["franka", "jaco"])
def test_T_world_base_is_the_mount(robot, franka, jaco):
    scene = {"franka": franka, "jaco": jaco}[robot]
    d = mujoco.MjData(scene.model)
    rng = np.random.default_rng(SEED)
    for _ in range(5):  # the base does not move with the joints
        q = rng.uniform(scene.index.arm_ranges[:, 0], scene.index.arm_ranges[:, 1])
        set_configuration(scene, d, q_arm=q, open_fraction=0.5)
        state, T_world_base = state_labels(scene, d)
        np.testing.assert_allclose(np.array(T_world_base), mount_by_hand(scene.task), atol=EXACT_TOL)
        assert state.frame == "base"


def test_franka_tcp_matches_dh(franka):
    d = mujoco.MjData(franka.model)
    rng = np.random.default_rng(SEED)
    ranges = franka.index.arm_ranges
    worst_p = worst_r = 0.0
    for _ in range(N_CONFIGS):
        q = rng.uniform(ranges[:, 0], ranges[:, 1])
        frac = float(rng.uniform())
        set_configuration(franka, d, q_arm=q, open_fraction=frac)
        s = state_labels(franka, d)[0]
        T_ref = ref.panda_tcp_from_flange(ref.panda_dh_fk(q))  # T_link0_tcp = T_base_ee
        dp = float(np.linalg.norm(np.array(s.ee_pos) - T_ref[:3, 3]))
        dr = rot_angle(wxyz_to_R(s.ee_quat_wxyz), T_ref[:3, :3])
        worst_p, worst_r = max(worst_p, dp), max(worst_r, dr)
        assert dp < POS_TOL_M, f"q={q.tolist()}: |dp| = {dp:.3e} m"
        check_rotation_fields(s, T_ref[:3, :3])
        np.testing.assert_allclose(s.qpos[:7], q, atol=0)
    assert worst_p < POS_TOL_M and worst_r < ROT_TOL_RAD


def test_franka_world_tcp_is_mount_times_dh(franka):
    """The same truth in the world frame: T_world_tcp = mount @ DH, vs MuJoCo's site pose."""
    d = mujoco.MjData(franka.model)
    rng = np.random.default_rng(SEED + 1)
    tcp = franka.index.tcp_site
    for _ in range(20):
        q = rng.uniform(franka.index.arm_ranges[:, 0], franka.index.arm_ranges[:, 1])
        set_configuration(franka, d, q_arm=q, open_fraction=0.0)
        T_ref = mount_by_hand(franka.task) @ ref.panda_tcp_from_flange(ref.panda_dh_fk(q))
        assert np.linalg.norm(d.site_xpos[tcp] - T_ref[:3, 3]) < POS_TOL_M
        assert rot_angle(d.site_xmat[tcp].reshape(3, 3), T_ref[:3, :3]) < ROT_TOL_RAD


def test_franka_state_fields(franka):
    d = mujoco.MjData(franka.model)
    q = np.array([0, 0, 0, -1.57079, 0, 1.57079, -0.7853])
    set_configuration(franka, d, q_arm=q, open_fraction=1.0)
    s = state_labels(franka, d)[0]
    assert s.joint_names == [f"joint{i}" for i in range(1, 8)] + ["finger_joint1", "finger_joint2"]
    np.testing.assert_allclose(s.qpos, [*q, 0.04, 0.04], atol=0)
    for k in ("ee_pos", "ee_quat_wxyz", "ee_euler_xyz", "ee_rot6d"):
        assert len(getattr(s, k)) == {"ee_pos": 3, "ee_quat_wxyz": 4, "ee_euler_xyz": 3, "ee_rot6d": 6}[k]
        assert all(isinstance(x, float) for x in getattr(s, k))


@pytest.mark.parametrize(
    "frac, q_finger, is_open",
    [(0.0, 0.0, False), (0.25, 0.01, False), (0.49, 0.0196, False), (0.5, 0.02, True), (0.8, 0.032, True), (1.0, 0.04, True)],
)
def test_franka_gripper(franka, frac, q_finger, is_open):
    """robots/franka.toml: each finger slides 0 (closed) .. 0.04 m (open); width = q1 + q2."""
    d = mujoco.MjData(franka.model)
    set_configuration(franka, d, q_arm=np.array([0.1, 0.2, -0.1, -2.0, 0.1, 2.0, 0.5]), open_fraction=frac)
    m = franka.model
    q1 = d.qpos[m.jnt_qposadr[m.joint("finger_joint1").id]]
    q2 = d.qpos[m.jnt_qposadr[m.joint("finger_joint2").id]]
    assert q1 == pytest.approx(q_finger, abs=EXACT_TOL) and q2 == pytest.approx(q_finger, abs=EXACT_TOL)
    s = state_labels(franka, d)[0]
    assert s.gripper_width == pytest.approx(q1 + q2, abs=EXACT_TOL)
    assert s.gripper_open_fraction == pytest.approx(frac, abs=EXACT_TOL)
    assert s.gripper_open is is_open
    np.testing.assert_allclose(s.qpos[7:], [q1, q2], atol=0)


def test_franka_gripper_width_from_random_finger_qpos(franka):
    """Width from qpos alone (independent of open_fraction): fingers set separately."""
    d = mujoco.MjData(franka.model)
    m = franka.model
    a1, a2 = m.jnt_qposadr[m.joint("finger_joint1").id], m.jnt_qposadr[m.joint("finger_joint2").id]
    rng = np.random.default_rng(SEED)
    for _ in range(20):
        q1, q2 = rng.uniform(0, 0.04, 2)
        d.qpos[:7] = rng.uniform(franka.index.arm_ranges[:, 0], franka.index.arm_ranges[:, 1])
        d.qpos[a1], d.qpos[a2] = q1, q2
        mujoco.mj_kinematics(m, d)
        s = state_labels(franka, d)[0]
        assert s.gripper_width == pytest.approx(q1 + q2, abs=EXACT_TOL)
        assert s.gripper_open_fraction == pytest.approx((q1 / 0.04 + q2 / 0.04) / 2, abs=EXACT_TOL)


def test_jaco_tcp_matches_mjcf_chain(jaco):
    d = mujoco.MjData(jaco.model)
    rng = np.random.default_rng(SEED)
    ranges = jaco.index.arm_ranges
    for _ in range(N_CONFIGS):
        q = rng.uniform(ranges[:, 0], ranges[:, 1])
        set_configuration(jaco, d, q_arm=q, open_fraction=float(rng.uniform()))
        s = state_labels(jaco, d)[0]
        T_ref = ref.jaco_pinch_fk(q)  # T_base_pinchsite
        dp = float(np.linalg.norm(np.array(s.ee_pos) - T_ref[:3, 3]))
        assert dp < POS_TOL_M, f"q={q.tolist()}: |dp| = {dp:.3e} m"
        check_rotation_fields(s, T_ref[:3, :3])


@pytest.mark.parametrize("frac", [0.0, 0.3, 0.5, 1.0])
def test_jaco_gripper_fraction(jaco, frac):
    """robots/jaco.toml: closed 1.35 rad, open 0.15 rad on each of the three fingers."""
    d = mujoco.MjData(jaco.model)
    set_configuration(jaco, d, q_arm=np.array([0.0, 3.0, 1.5, 0.0, 0.0, 0.0]), open_fraction=frac)
    m = jaco.model
    for j in ("hand/finger_1", "hand/finger_2", "hand/finger_3"):
        assert d.qpos[m.jnt_qposadr[m.joint(j).id]] == pytest.approx(1.35 + frac * (0.15 - 1.35), abs=EXACT_TOL)
    s = state_labels(jaco, d)[0]
    assert s.gripper_open_fraction == pytest.approx(frac, abs=EXACT_TOL)
    assert s.gripper_open is (frac >= 0.5)


def test_jaco_width_grows_when_opening(jaco):
    d = mujoco.MjData(jaco.model)
    widths = []
    for frac in (0.0, 0.5, 1.0):
        set_configuration(jaco, d, q_arm=np.array([0.0, 3.0, 1.5, 0.0, 0.0, 0.0]), open_fraction=frac)
        widths.append(state_labels(jaco, d)[0].gripper_width)
    assert widths[0] < widths[1] < widths[2], widths
