"""Pinhole camera in the OpenCV convention (x right, y down, z forward).

Pixel centres sit on integer coordinates: the top-left pixel's centre is (0, 0).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from statgen.core.geometry import invert_T, make_T

# MuJoCo's camera looks along -z with y up; OpenCV's looks along +z with y down.
R_MJCAM_CVCAM = np.diag([1.0, -1.0, -1.0])


def intrinsics(*, width: int, height: int, fovy_deg: float) -> np.ndarray:
    """K (3, 3) of a MuJoCo camera with a centred principal point.

    fx = fy = (H/2) / tan(fovy/2); cx = (W-1)/2; cy = (H-1)/2 [px].
    """
    f = (height / 2.0) / np.tan(np.deg2rad(fovy_deg) / 2.0)
    return np.array([[f, 0.0, (width - 1) / 2.0], [0.0, f, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def T_world_cam_from_mujoco(*, pos: np.ndarray, R_world_mjcam: np.ndarray) -> np.ndarray:
    """OpenCV-convention T_world_cam (4, 4) from a MuJoCo camera's world pose."""
    return make_T(np.asarray(R_world_mjcam) @ R_MJCAM_CVCAM, np.asarray(pos))


MIN_ABS_DEPTH = 1e-9  # [m]: a point in the camera's centre plane is projected as if this far in front of it


class Projection(NamedTuple):
    pixel: np.ndarray | None  # (2,) [px] (u, v); None behind the camera unless projected with behind=True
    depth: float  # z in the camera frame [m]; <= 0 means behind


def project(*, K: np.ndarray, T_world_cam: np.ndarray, p_world: np.ndarray, behind: bool = False) -> Projection:
    """Project a world point (3,) [m] through K (3, 3) and T_world_cam (4, 4).

    behind=True: the pixel (fx x/z + cx, fy y/z + cy) whatever the sign of z (schema 2's ee_pixel),
    else None for a point behind the camera (z <= 0)."""
    T_cam_world = invert_T(T_world_cam)
    p_cam = T_cam_world[:3, :3] @ np.asarray(p_world, dtype=float) + T_cam_world[:3, 3]
    z = float(p_cam[2])
    if z <= 0 and not behind:
        return Projection(None, z)
    if abs(z) < MIN_ABS_DEPTH:
        p_cam = np.array([p_cam[0], p_cam[1], MIN_ABS_DEPTH])
    uvw = K @ p_cam
    return Projection(uvw[:2] / uvw[2], z)


def in_image(pixel: np.ndarray | None, *, width: int, height: int, margin_px: float = 0.0) -> bool:
    """True when `pixel` lies inside the image, `margin_px` away from its border."""
    if pixel is None:
        return False
    u, v = pixel
    return bool(
        -0.5 + margin_px <= u <= width - 0.5 - margin_px and -0.5 + margin_px <= v <= height - 0.5 - margin_px
    )
