"""Exact labels of the simulator state: the robot's state by forward kinematics, and per camera its
K, pose and where the TCP is in its image. Read from the model and data as they are: after a scene
variation was applied and a configuration set, labels describe exactly what is rendered."""

from __future__ import annotations

from typing import NamedTuple

import mujoco
import numpy as np

from statgen.core import camera as cam
from statgen.core.geometry import R_to_euler_xyz, R_to_quat_wxyz, R_to_rot6d, make_T
from statgen.schema import CameraLabel, State
from statgen.sim.scene import RENDERED_GROUPS, Scene

RAY_MAX_HOPS = 32  # gripper geoms a visibility ray may pass through before giving up
RAY_NUDGE_M = 1e-6  # step past a surface the ray has just passed through [m]


class Labels(NamedTuple):
    """A configuration's labels, from the simulator state."""

    state: State
    T_world_base: list[list[float]]
    cameras: dict[str, CameraLabel]


def T_world_body(data: mujoco.MjData, body: int) -> np.ndarray:
    return make_T(data.xmat[body].reshape(3, 3), data.xpos[body])


def T_world_site(data: mujoco.MjData, site: int) -> np.ndarray:
    return make_T(data.site_xmat[site].reshape(3, 3), data.site_xpos[site])


def T_world_camera(data: mujoco.MjData, cam_id: int) -> np.ndarray:
    """OpenCV-convention camera pose (x right, y down, z forward), from data after mj_camlight."""
    return cam.T_world_cam_from_mujoco(pos=data.cam_xpos[cam_id], R_world_mjcam=data.cam_xmat[cam_id].reshape(3, 3))


def camera_K(scene: Scene, name: str) -> np.ndarray:
    """The camera's OpenCV K as it is set now: a calibrated camera's K exactly as given (or as a variation
    wrote it into the model), else from the model's fovy and the image size."""
    K = scene.intrinsics.get(name)
    if K is not None:
        return K
    c = scene.task.camera(name)
    return cam.intrinsics(width=c.width, height=c.height, fovy_deg=float(scene.model.cam_fovy[scene.index.camera_ids[name]]))


def state_labels(scene: Scene, data: mujoco.MjData) -> tuple[State, list[list[float]]]:
    """DESIGN.md's `state` block (base frame) and T_world_base, from data after FK."""
    ix = scene.index
    R_world_base, p_world_base = data.xmat[ix.base_body].reshape(3, 3), data.xpos[ix.base_body]
    R = R_world_base.T @ data.site_xmat[ix.tcp_site].reshape(3, 3)  # R_base_ee
    ee_pos = R_world_base.T @ (data.site_xpos[ix.tcp_site] - p_world_base)
    q_grip = data.qpos[ix.gripper_qpos]
    if len(ix.gripper_qpos):
        tips = [data.xmat[b].reshape(3, 3) @ p + data.xpos[b] for b, p in zip(ix.fingertip_bodies, ix.fingertip_pos)]
        width = float(np.linalg.norm(tips[0] - tips[1]))
        frac = float(np.clip(np.mean((q_grip - ix.gripper_closed) / (ix.gripper_open - ix.gripper_closed)), 0.0, 1.0))
    else:  # an arm without a gripper: the same fields and types, constant (README, "What a dataset is")
        width, frac = 0.0, 0.0
    qpos = np.concatenate([data.qpos[ix.arm_qpos], q_grip])
    state = State(
        frame="base", joint_names=list(ix.joint_names), qpos=qpos.tolist(), ee_pos=ee_pos.tolist(), ee_quat_wxyz=R_to_quat_wxyz(R).tolist(),
        ee_euler_xyz=R_to_euler_xyz(R).tolist(), ee_rot6d=R_to_rot6d(R).tolist(), gripper_width=width, gripper_open_fraction=frac,
        gripper_open=bool(frac >= 0.5),
    )
    return state, make_T(R_world_base, p_world_base).tolist()


def tcp_visible(scene: Scene, data: mujoco.MjData, *, cam_pos: np.ndarray, p_tcp: np.ndarray) -> bool:
    """Ray cast from the camera centre to the TCP over rendered geoms, ignoring the gripper's own."""
    m = scene.model
    d = p_tcp - cam_pos
    dist = float(np.linalg.norm(d))
    direction = d / dist
    start, travelled, exclude = cam_pos.copy(), 0.0, -1
    geomid = np.zeros(1, dtype=np.int32)
    for _ in range(RAY_MAX_HOPS):
        x = mujoco.mj_ray(m, data, start, direction, RENDERED_GROUPS, 1, exclude, geomid)
        if x < 0 or travelled + x >= dist - RAY_NUDGE_M:
            return True
        g = int(geomid[0])
        if not scene.index.gripper_geoms[g]:
            return False
        travelled += x + RAY_NUDGE_M
        start = cam_pos + travelled * direction
        exclude = int(m.geom_bodyid[g])
    return True


def camera_label(scene: Scene, data: mujoco.MjData, name: str, *, p_tcp: np.ndarray) -> CameraLabel:
    """One camera's size, K, T_world_cam, the TCP's pixel, depth, in-view and visible flags (data after mj_camlight)."""
    c = scene.task.camera(name)
    K = camera_K(scene, name)
    T_world_cam = T_world_camera(data, scene.index.camera_ids[name])
    pr = cam.project(K=K, T_world_cam=T_world_cam, p_world=p_tcp, behind=True)  # schema 2: ee_pixel is never null
    in_view = pr.depth > 0 and cam.in_image(pr.pixel, width=c.width, height=c.height)
    return CameraLabel(
        width=c.width, height=c.height, K=K.tolist(), T_world_cam=T_world_cam.tolist(),
        ee_pixel=pr.pixel.tolist(), ee_depth=pr.depth, ee_in_view=in_view,
        ee_visible=bool(in_view and tcp_visible(scene, data, cam_pos=T_world_cam[:3, 3], p_tcp=p_tcp)),
    )


def camera_labels(scene: Scene, data: mujoco.MjData, *, T_world_ee: np.ndarray) -> dict[str, CameraLabel]:
    """Every enabled camera's labels (camera_label)."""
    p = T_world_ee[:3, 3]
    return {name: camera_label(scene, data, name, p_tcp=p) for name in scene.cameras}


def labels(scene: Scene, data: mujoco.MjData) -> Labels:
    """All labels of the state in `data` (after FK and mj_camlight)."""
    return Labels(*state_labels(scene, data), camera_labels(scene, data, T_world_ee=T_world_site(data, scene.index.tcp_site)))
