"""statgen.core.geometry against scipy.spatial.transform.Rotation and hand-built poses.

scipy is the independent truth. Its quaternions are xyzw; statgen's are wxyz (w >= 0).
DESIGN.md: ee_euler_xyz = (roll, pitch, yaw), extrinsic x-y-z, R = Rz(yaw) Ry(pitch) Rx(roll),
which is scipy's from_euler("xyz", ...) (lower case = extrinsic in scipy).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from statgen.core.geometry import (
    R_to_euler_xyz,
    R_to_quat_wxyz,
    R_to_rot6d,
    euler_xyz_to_R,
    invert_T,
    look_at_R,
    make_T,
    quat_wxyz_to_R,
    transform_point,
)

N_RANDOM = 2000
SEED = 12345
# Float64 round-off of a handful of 3x3 products, sqrt and atan2: ~1e-15; 1e-9 leaves
# lots of room yet catches any wrong sign, order or axis (errors of order 1).
ATOL = 1e-9
# At and near gimbal lock R's round trip is only good to ~sqrt(machine eps) = 1.5e-8:
# statgen takes pitch = arcsin(-R[2,0]), and arcsin(1 - d) = pi/2 - sqrt(2 d), so one ulp
# of rounding in R[2,0] ~ 1e-16 becomes 1.5e-8 rad of pitch (and near the lock the
# (roll, yaw) split rests on matrix entries of size eps). 1e-6 rad is far below one ROSA
# bin (2 pi / 255 = 0.025 rad) and still catches any wrong formula (errors of order 1).
NEAR_LOCK_ATOL = 1e-6


def wrap(a):
    """Angle difference wrapped to (-pi, pi]."""
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def xyzw_to_wxyz(q):
    return np.array([q[3], q[0], q[1], q[2]])


def rx(a):
    return Rotation.from_euler("x", a).as_matrix()


def ry(a):
    return Rotation.from_euler("y", a).as_matrix()


def rz(a):
    return Rotation.from_euler("z", a).as_matrix()


@pytest.fixture(scope="module")
def rotations() -> Rotation:
    return Rotation.random(N_RANDOM, random_state=SEED)


# ----------------------------------------------------------------------------- quaternions


def test_R_to_quat_matches_scipy_with_w_nonnegative(rotations):
    for rot in rotations:
        q = R_to_quat_wxyz(rot.as_matrix())
        q_ref = xyzw_to_wxyz(rot.as_quat(canonical=True))  # canonical: w >= 0
        assert q[0] >= 0
        assert np.linalg.norm(q) == pytest.approx(1.0, abs=ATOL)
        np.testing.assert_allclose(q, q_ref, atol=ATOL)


def test_quat_to_R_matches_scipy_for_any_sign_and_scale(rotations):
    rng = np.random.default_rng(SEED)
    for rot in rotations[:500]:
        q_xyzw = rot.as_quat() * rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 5.0)  # MJCF quats may be unnormalised
        R = quat_wxyz_to_R(xyzw_to_wxyz(q_xyzw))
        np.testing.assert_allclose(R, Rotation.from_quat(q_xyzw).as_matrix(), atol=ATOL)


@pytest.mark.parametrize(
    "axis, angle",
    [("x", np.pi), ("y", np.pi), ("z", np.pi), ("x", np.pi - 1e-3), ("y", -np.pi + 1e-3), ("z", 3.0)],
)
def test_R_to_quat_near_half_turn_every_shepperd_branch(axis, angle):
    """Half turns make w ~ 0 so each of x, y, z becomes the largest component in turn."""
    rot = Rotation.from_euler(axis, angle)
    q = R_to_quat_wxyz(rot.as_matrix())
    q_ref = xyzw_to_wxyz(rot.as_quat(canonical=True))
    assert q[0] >= 0
    if abs(q_ref[0]) < ATOL:  # w = 0: q and -q both have w >= 0; the matrix decides
        assert min(np.abs(q - q_ref).max(), np.abs(q + q_ref).max()) < ATOL
    else:
        np.testing.assert_allclose(q, q_ref, atol=ATOL)
    np.testing.assert_allclose(quat_wxyz_to_R(q), rot.as_matrix(), atol=ATOL)


def test_half_turn_about_diagonal_axis():
    axis = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    R = Rotation.from_rotvec(np.pi * axis).as_matrix()
    q = R_to_quat_wxyz(R)
    assert abs(q[0]) < ATOL
    assert min(np.abs(q[1:] - axis).max(), np.abs(q[1:] + axis).max()) < ATOL


@pytest.mark.parametrize(
    "R, q_wxyz",
    [
        (np.eye(3), [1, 0, 0, 0]),
        ([[1, 0, 0], [0, 0, -1], [0, 1, 0]], [np.sqrt(0.5), np.sqrt(0.5), 0, 0]),  # +90 deg about x
        ([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], [np.sqrt(0.5), 0, np.sqrt(0.5), 0]),  # +90 deg about y
        ([[0, -1, 0], [1, 0, 0], [0, 0, 1]], [np.sqrt(0.5), 0, 0, np.sqrt(0.5)]),  # +90 deg about z
    ],
    ids=["identity", "x90", "y90", "z90"],
)
def test_known_quaternions(R, q_wxyz):
    R = np.array(R, dtype=float)
    np.testing.assert_allclose(R_to_quat_wxyz(R), q_wxyz, atol=ATOL)
    np.testing.assert_allclose(quat_wxyz_to_R(np.array(q_wxyz, dtype=float)), R, atol=ATOL)


# ----------------------------------------------------------------------------- Euler angles


def test_euler_to_R_matches_scipy_extrinsic_xyz(rotations):
    rng = np.random.default_rng(SEED + 1)
    for _ in range(N_RANDOM):
        e = rng.uniform([-np.pi, -np.pi / 2, -np.pi], [np.pi, np.pi / 2, np.pi])
        R_ref = Rotation.from_euler("xyz", e).as_matrix()
        np.testing.assert_allclose(euler_xyz_to_R(e), R_ref, atol=ATOL)
        # and that equals Rz(yaw) Ry(pitch) Rx(roll), spelled out
        np.testing.assert_allclose(R_ref, rz(e[2]) @ ry(e[1]) @ rx(e[0]), atol=ATOL)


def test_R_to_euler_matches_scipy(rotations):
    for rot in rotations:
        e = R_to_euler_xyz(rot.as_matrix())
        e_ref = rot.as_euler("xyz")
        assert abs(np.cos(e_ref[1])) > 1e-6, "a random draw hit gimbal lock; change SEED"
        assert -np.pi / 2 <= e[1] <= np.pi / 2
        assert np.all(np.abs(e[[0, 2]]) <= np.pi)
        np.testing.assert_allclose(wrap(e - e_ref), 0.0, atol=ATOL)
        np.testing.assert_allclose(Rotation.from_euler("xyz", e).as_matrix(), rot.as_matrix(), atol=ATOL)


@pytest.mark.parametrize(
    "R, euler",
    [
        (np.eye(3), [0, 0, 0]),
        ([[1, 0, 0], [0, 0, -1], [0, 1, 0]], [np.pi / 2, 0, 0]),
        ([[0, -1, 0], [1, 0, 0], [0, 0, 1]], [0, 0, np.pi / 2]),
        ([[1, 0, 0], [0, -1, 0], [0, 0, -1]], [np.pi, 0, 0]),  # top-down tool: z points at the floor
    ],
    ids=["identity", "x90", "z90", "x180"],
)
def test_known_euler(R, euler):
    e = R_to_euler_xyz(np.array(R, dtype=float))
    np.testing.assert_allclose(wrap(e - np.array(euler)), 0.0, atol=ATOL)


def test_y90_is_gimbal_lock_but_round_trips():
    R = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], dtype=float)  # +90 deg about y
    e = R_to_euler_xyz(R)
    assert e[1] == pytest.approx(np.pi / 2, abs=NEAR_LOCK_ATOL)
    np.testing.assert_allclose(euler_xyz_to_R(e), R, atol=NEAR_LOCK_ATOL)


@pytest.mark.parametrize("yaw", [-2.5, -0.3, 0.0, 1.2, 3.0])
def test_top_down_gripper_roll_seam(yaw):
    """Tool z pointing down: roll sits at +-pi. Euler jumps by ~2 pi across the seam, R and rot6d don't."""
    delta = 1e-3
    R_plus = rz(yaw) @ rx(np.pi - delta)
    R_minus = rz(yaw) @ rx(-np.pi + delta)
    e_plus, e_minus = R_to_euler_xyz(R_plus), R_to_euler_xyz(R_minus)
    assert e_plus[0] == pytest.approx(np.pi - delta, abs=ATOL)
    assert e_minus[0] == pytest.approx(-np.pi + delta, abs=ATOL)
    for e, R in ((e_plus, R_plus), (e_minus, R_minus)):
        assert e[1] == pytest.approx(0.0, abs=ATOL)
        assert wrap(e[2] - yaw) == pytest.approx(0.0, abs=ATOL)
        np.testing.assert_allclose(euler_xyz_to_R(e), R, atol=ATOL)
    # rot6d is continuous across the seam: the two poses are 2*delta apart
    assert np.abs(R_to_rot6d(R_plus) - R_to_rot6d(R_minus)).max() < 3 * delta


@pytest.mark.parametrize("pitch", [np.pi / 2, -np.pi / 2])
@pytest.mark.parametrize("roll, yaw", [(0.3, 0.5), (-2.0, 1.0), (3.0, -3.0), (0.0, 0.0)])
def test_gimbal_lock_round_trips_R(pitch, roll, yaw):
    """At |pitch| = pi/2 only yaw -+ roll is defined; the angles differ but R must come back."""
    R = Rotation.from_euler("xyz", [roll, pitch, yaw]).as_matrix()
    e = R_to_euler_xyz(R)
    assert np.all(np.isfinite(e))
    assert e[1] == pytest.approx(pitch, abs=NEAR_LOCK_ATOL)
    np.testing.assert_allclose(euler_xyz_to_R(e), R, atol=NEAR_LOCK_ATOL)
    np.testing.assert_allclose(Rotation.from_euler("xyz", e).as_matrix(), R, atol=NEAR_LOCK_ATOL)


@pytest.mark.parametrize("eps", [1e-13, 1e-9, 1e-7, 1e-5])
@pytest.mark.parametrize("sign", [1, -1])
def test_near_gimbal_lock_round_trips_R(eps, sign):
    R = Rotation.from_euler("xyz", [0.7, sign * (np.pi / 2 - eps), -1.1]).as_matrix()
    np.testing.assert_allclose(euler_xyz_to_R(R_to_euler_xyz(R)), R, atol=NEAR_LOCK_ATOL)


# ----------------------------------------------------------------------------- rot6d, transforms


def test_rot6d_is_first_two_columns(rotations):
    for rot in rotations[:200]:
        R = rot.as_matrix()
        np.testing.assert_array_equal(R_to_rot6d(R), [R[0, 0], R[1, 0], R[2, 0], R[0, 1], R[1, 1], R[2, 1]])


def test_rot6d_of_x90_by_hand():
    # columns of Rx(90): (1,0,0), (0,0,1), (0,-1,0)
    np.testing.assert_allclose(R_to_rot6d(rx(np.pi / 2)), [1, 0, 0, 0, 0, 1], atol=ATOL)


def test_invert_T_and_transform_point(rotations):
    rng = np.random.default_rng(SEED + 2)
    for rot in rotations[:300]:
        p = rng.uniform(-2, 2, 3)
        T = make_T(rot.as_matrix(), p)
        np.testing.assert_array_equal(T[3], [0, 0, 0, 1])
        Ti = invert_T(T)
        np.testing.assert_allclose(Ti, np.linalg.inv(T), atol=ATOL)
        np.testing.assert_allclose(T @ Ti, np.eye(4), atol=ATOL)
        x = rng.uniform(-1, 1, 3)
        np.testing.assert_allclose(transform_point(T, x), rot.apply(x) + p, atol=ATOL)
        np.testing.assert_allclose(transform_point(Ti, transform_point(T, x)), x, atol=ATOL)


def test_invert_T_by_hand():
    # T_a_b: b is a's frame turned +90 deg about z and moved to (1, 2, 3)
    T = make_T(rz(np.pi / 2), np.array([1.0, 2.0, 3.0]))
    # the origin of a, seen from b: a's origin is at -(1,2,3) rotated back by -90 deg about z
    np.testing.assert_allclose(invert_T(T)[:3, 3], [-2.0, 1.0, -3.0], atol=ATOL)


# ----------------------------------------------------------------------------- look_at_R


def test_look_at_by_hand():
    # eye on +x looking at the origin: forward -x, right +y, up +z; a MuJoCo camera's
    # columns are (right, up, -forward).
    R = look_at_R(eye=np.array([1.0, 0, 0]), target=np.zeros(3))
    np.testing.assert_allclose(R, [[0, 0, 1], [1, 0, 0], [0, 1, 0]], atol=ATOL)


def test_look_at_random():
    rng = np.random.default_rng(SEED + 3)
    for _ in range(500):
        eye, target = rng.uniform(-3, 3, 3), rng.uniform(-3, 3, 3)
        fwd = (target - eye) / np.linalg.norm(target - eye)
        if abs(fwd[2]) > 0.99:
            continue
        R = look_at_R(eye=eye, target=target)
        np.testing.assert_allclose(R.T @ R, np.eye(3), atol=ATOL)
        assert np.linalg.det(R) == pytest.approx(1.0, abs=ATOL)
        np.testing.assert_allclose(-R[:, 2], fwd, atol=ATOL)  # MuJoCo cameras look along -z
        assert abs(R[2, 0]) < ATOL  # the image x axis is horizontal (no roll)
        assert R[2, 1] > 0  # the image's up points up
        # the target projects to the image centre: it lies on the camera's -z axis
        p_cam = R.T @ (target - eye)
        np.testing.assert_allclose(p_cam[:2], 0.0, atol=ATOL)
        assert p_cam[2] < 0


def test_look_at_custom_up():
    # statgen's wrist cameras pass a body-frame 'up'; the image up must lean towards it
    R = look_at_R(eye=np.array([0.07, 0, 0.01]), target=np.array([0, 0, 0.16]), up=np.array([1.0, 0, 0]))
    assert R[:, 1] @ np.array([1.0, 0, 0]) > 0
    assert abs(R[:, 0] @ np.array([1.0, 0, 0])) < ATOL


def test_look_at_rejects_degenerate():
    with pytest.raises(ValueError):
        look_at_R(eye=np.ones(3), target=np.ones(3))
    with pytest.raises(ValueError):
        look_at_R(eye=np.array([0, 0, 2.0]), target=np.zeros(3))  # straight down, parallel to up
