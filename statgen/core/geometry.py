"""Rotations and rigid transforms.

Conventions (DESIGN.md): quaternions are wxyz with w >= 0; Euler angles are
``euler_xyz`` = (roll, pitch, yaw), extrinsic X then Y then Z, so
R = Rz(yaw) @ Ry(pitch) @ Rx(roll) (scipy's ``from_euler("xyz", ...)``).
``T_a_b`` maps coordinates in frame b to frame a.
"""

from __future__ import annotations

import math

import numpy as np

from statgen.errors import GeometryError


def make_T(R: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Homogeneous transform from R (3, 3) and p (3,) [m]. Returns (4, 4)."""
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = p
    return T


def invert_T(T_a_b: np.ndarray) -> np.ndarray:
    """T_b_a from T_a_b, both (4, 4)."""
    R = T_a_b[:3, :3]
    p = T_a_b[:3, 3]
    return make_T(R.T, -R.T @ p)


def transform_point(T_a_b: np.ndarray, p_b: np.ndarray) -> np.ndarray:
    """p_a = T_a_b @ p_b for a point p_b (3,) [m]."""
    return T_a_b[:3, :3] @ p_b + T_a_b[:3, 3]


def quat_wxyz_to_R(q_wxyz: np.ndarray) -> np.ndarray:
    """Rotation matrix (3, 3) from a unit quaternion (4,) in wxyz order."""
    w, x, y, z = np.asarray(q_wxyz, dtype=float) / np.linalg.norm(q_wxyz)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def R_to_quat_wxyz(R: np.ndarray) -> np.ndarray:
    """Unit quaternion (4,) in wxyz order with w >= 0, from a rotation matrix (3, 3).

    Shepperd's method: pick the largest of the four squared components for stability.
    Scalar math on Python floats: this runs once per sample on the hot path.
    """
    (r00, r01, r02), (r10, r11, r12), (r20, r21, r22) = np.asarray(R, dtype=float).tolist()
    tr = r00 + r11 + r22
    diag = (tr, r00, r11, r22)
    i = diag.index(max(diag))
    if i == 0:
        s = 2.0 * math.sqrt(max(1.0 + tr, 0.0))
        q = (0.25 * s, (r21 - r12) / s, (r02 - r20) / s, (r10 - r01) / s)
    elif i == 1:
        s = 2.0 * math.sqrt(max(1.0 + r00 - r11 - r22, 0.0))
        q = ((r21 - r12) / s, 0.25 * s, (r01 + r10) / s, (r02 + r20) / s)
    elif i == 2:
        s = 2.0 * math.sqrt(max(1.0 + r11 - r00 - r22, 0.0))
        q = ((r02 - r20) / s, (r01 + r10) / s, 0.25 * s, (r12 + r21) / s)
    else:
        s = 2.0 * math.sqrt(max(1.0 + r22 - r00 - r11, 0.0))
        q = ((r10 - r01) / s, (r02 + r20) / s, (r12 + r21) / s, 0.25 * s)
    k = (-1.0 if q[0] < 0 else 1.0) / math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    return np.array([k * q[0], k * q[1], k * q[2], k * q[3]])


def R_to_euler_xyz(R: np.ndarray) -> np.ndarray:
    """(roll, pitch, yaw) [rad] with R = Rz(yaw) @ Ry(pitch) @ Rx(roll).

    pitch is in [-pi/2, pi/2]; roll and yaw in (-pi, pi]. At gimbal lock
    (|pitch| = pi/2) roll is set to 0 and yaw absorbs the rest.
    """
    (r00, r01, _), (r10, r11, _), (r20, r21, r22) = np.asarray(R, dtype=float).tolist()
    sp = -r20
    # atan2 keeps full precision near +-pi/2, where arcsin(1 - d) loses half the digits.
    pitch = math.atan2(sp, math.hypot(r00, r10))
    if abs(sp) < 1.0 - 1e-12:
        roll = math.atan2(r21, r22)
        yaw = math.atan2(r10, r00)
    else:  # gimbal lock: only yaw - sign(pitch) * roll is defined
        roll = 0.0
        yaw = math.atan2(-r01, r11)
    return np.array([roll, pitch, yaw])


def euler_xyz_to_R(euler_xyz: np.ndarray) -> np.ndarray:
    """R = Rz(yaw) @ Ry(pitch) @ Rx(roll) from (roll, pitch, yaw) [rad]."""
    r, p, y = euler_xyz
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    Rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    Ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    Rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return Rz @ Ry @ Rx


def R_to_rot6d(R: np.ndarray) -> np.ndarray:
    """The first two columns of R, concatenated: [R[:,0], R[:,1]] (6,)."""
    R = np.asarray(R, dtype=float)
    return np.concatenate([R[:, 0], R[:, 1]])


def look_at_R(*, eye: np.ndarray, target: np.ndarray, up: np.ndarray = (0.0, 0.0, 1.0)) -> np.ndarray:
    """R_world_mjcam for a MuJoCo camera at `eye` looking at `target` (both (3,) [m]).

    A MuJoCo camera looks along its -z axis with +y up.
    """
    eye, target, up = (np.asarray(v, dtype=float) for v in (eye, target, up))
    fwd = target - eye
    n = np.linalg.norm(fwd)
    if n == 0:
        raise GeometryError(f"look_at: expected eye != target, got both {eye.tolist()}")
    fwd /= n
    right = np.cross(fwd, up)
    if np.linalg.norm(right) < 1e-9:
        raise GeometryError(f"look_at: expected a view direction not parallel to up={up.tolist()}, got {fwd.tolist()}")
    right /= np.linalg.norm(right)
    cam_up = np.cross(right, fwd)
    return np.stack([right, cam_up, -fwd], axis=1)
