"""Random feasible joint configurations and their exact labels by forward kinematics.

Every random draw comes from the `np.random.Generator` passed in; there is no global RNG.
Rejection order is cheapest first: workspace box, then the front camera's view, then
collision. Visibility is a label (a ray cast), never a filter unless the pipeline asks.
"""

from __future__ import annotations

from typing import NamedTuple

import mujoco
import numpy as np

from statgen.core import camera as cam
from statgen.core.geometry import R_to_euler_xyz, R_to_quat_wxyz, R_to_rot6d, invert_T, make_T
from statgen.errors import RunError
from statgen.schema import Acceptance, CameraLabel, State
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
    """OpenCV-convention camera pose (x right, y down, z forward)."""
    return cam.T_world_cam_from_mujoco(pos=data.cam_xpos[cam_id], R_world_mjcam=data.cam_xmat[cam_id].reshape(3, 3))


def set_configuration(scene: Scene, data: mujoco.MjData, *, q_arm: np.ndarray, open_fraction: float, cameras: bool = True) -> None:
    """Write the arm joints [rad or m] and the gripper opening [0..1] into qpos, then run FK.

    cameras=False skips the camera/light poses (mj_camlight), for tests that need only bodies.
    """
    ix = scene.index
    q_gripper = ix.gripper_closed + open_fraction * (ix.gripper_open - ix.gripper_closed)
    set_qpos(scene, data, qpos=np.concatenate([q_arm, q_gripper]), cameras=cameras)


def set_qpos(scene: Scene, data: mujoco.MjData, *, qpos: np.ndarray, cameras: bool = True) -> None:
    """Write state.qpos (arm joints, then gripper joints; shape (n_arm + n_grip,)) and run FK."""
    ix = scene.index
    n_arm = len(ix.arm_qpos)
    data.qpos[ix.arm_qpos] = qpos[:n_arm]
    data.qpos[ix.gripper_qpos] = qpos[n_arm:]
    mujoco.mj_kinematics(scene.model, data)
    if cameras:
        mujoco.mj_camlight(scene.model, data)


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


def in_collision(scene: Scene, data: mujoco.MjData) -> bool:
    """True when any robot geom penetrates another geom (the gripper touching itself is allowed)."""
    mujoco.mj_collision(scene.model, data)
    if data.ncon == 0:
        return False
    g1, g2 = data.contact.geom1[: data.ncon], data.contact.geom2[: data.ncon]
    dist = data.contact.dist[: data.ncon]
    rg, gg = scene.index.robot_geoms, scene.index.gripper_geoms
    bad = (rg[g1] | rg[g2]) & ~(gg[g1] & gg[g2]) & (dist < 0)
    return bool(np.any(bad))


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


def camera_labels(scene: Scene, data: mujoco.MjData, *, T_world_ee: np.ndarray) -> dict[str, CameraLabel]:
    """Per camera: size, K, T_world_cam, the TCP's pixel, depth, in-view and visible flags."""
    out = {}
    p = T_world_ee[:3, 3]
    for name in scene.cameras:
        c = scene.task.camera(name)
        K = cam.intrinsics(width=c.width, height=c.height, fovy_deg=float(scene.model.cam_fovy[scene.index.camera_ids[name]]))
        T_world_cam = T_world_camera(data, scene.index.camera_ids[name])
        pr = cam.project(K=K, T_world_cam=T_world_cam, p_world=p)
        in_view = cam.in_image(pr.pixel, width=c.width, height=c.height)
        out[name] = CameraLabel(
            width=c.width, height=c.height, K=K.tolist(), T_world_cam=T_world_cam.tolist(),
            ee_pixel=None if pr.pixel is None else pr.pixel.tolist(), ee_depth=pr.depth, ee_in_view=in_view,
            ee_visible=bool(in_view and tcp_visible(scene, data, cam_pos=T_world_cam[:3, 3], p_tcp=p)),
        )
    return out


class Sampler:
    """Draws feasible configurations for one scene; owns one MjData."""

    def __init__(self, scene: Scene, *, require_visible: bool = False, max_draws_per_sample: int = 200):
        self.scene = scene
        m = scene.model
        self.data = mujoco.MjData(m)
        self.require_visible = require_visible
        self.max_draws = max_draws_per_sample
        r = scene.robot
        self.ws_min, self.ws_max = np.array(r.workspace_min), np.array(r.workspace_max)
        front = scene.task.camera("front")
        self.front_id, self.front_wh = scene.index.camera_ids["front"], (front.width, front.height)
        self.front_K = cam.intrinsics(width=front.width, height=front.height, fovy_deg=float(m.cam_fovy[self.front_id]))
        # The base is welded to the world and the front camera is fixed in it, so their poses
        # are computed once; the rejection tests then cost a few multiplications per draw.
        mujoco.mj_kinematics(m, self.data)
        mujoco.mj_camlight(m, self.data)
        self.T_base_world = invert_T(T_world_body(self.data, scene.index.base_body))
        front_fixed = m.cam_bodyid[self.front_id] == 0
        self.T_cam_world = invert_T(T_world_camera(self.data, self.front_id)) if front_fixed else None

    def _in_workspace(self, p_world: np.ndarray) -> bool:
        """True when a world point (3,) [m] lies inside the robot's workspace box (base frame)."""
        p_base = self.T_base_world[:3, :3] @ p_world + self.T_base_world[:3, 3]
        return not (np.any(p_base < self.ws_min) or np.any(p_base > self.ws_max))

    def _in_front_view(self, p_world: np.ndarray) -> bool:
        T_cam_world = self.T_cam_world if self.T_cam_world is not None else invert_T(T_world_camera(self.data, self.front_id))
        p_cam = T_cam_world[:3, :3] @ p_world + T_cam_world[:3, 3]
        if p_cam[2] <= 0:
            return False
        u, v, w = self.front_K @ p_cam
        return cam.in_image(np.array([u / w, v / w]), width=self.front_wh[0], height=self.front_wh[1])

    def draw(self, rng: np.random.Generator, acc: Acceptance) -> Labels:
        """Draw until a configuration is accepted; leaves self.data at it. Returns the labels."""
        ix, d, m = self.scene.index, self.data, self.scene.model
        lo, span = ix.arm_ranges[:, 0], ix.arm_ranges[:, 1] - ix.arm_ranges[:, 0]
        n_arm = len(lo)
        for _ in range(self.max_draws):
            # One call for the arm joints and the gripper opening; the same numbers, in the same
            # order, as rng.uniform(lo, hi) then rng.uniform(0, 1), at a third of the cost.
            # An arm without a gripper draws the opening too and ignores it: one layout for every robot.
            u = rng.random(n_arm + 1)
            q = lo + span * u[:n_arm]
            frac = float(u[n_arm])
            acc.drawn += 1
            set_configuration(self.scene, d, q_arm=q, open_fraction=frac, cameras=False)  # cameras only once accepted
            p_world = d.site_xpos[ix.tcp_site].copy()
            if not self._in_workspace(p_world):
                acc.rejected["workspace"] += 1
                continue
            if self.T_cam_world is None:
                mujoco.mj_camlight(m, d)
            if not self._in_front_view(p_world):
                acc.rejected["out_of_view"] += 1
                continue
            if in_collision(self.scene, d):
                acc.rejected["collision"] += 1
                continue
            mujoco.mj_camlight(m, d)  # moving cameras (wrist) follow the arm
            labels = Labels(*state_labels(self.scene, d), camera_labels(self.scene, d, T_world_ee=T_world_site(d, ix.tcp_site)))
            if self.require_visible and not labels.cameras["front"].ee_visible:
                acc.rejected["not_visible"] += 1
                continue
            acc.accepted += 1
            return labels
        raise RunError(
            f"robot {self.scene.robot.name}: no feasible configuration in {self.max_draws} draws "
            f"(rejected so far: {acc.rejected}); widen the workspace box, move the front camera, or raise sampling.max_draws_per_sample"
        )
