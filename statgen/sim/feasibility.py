"""Whether a configuration is accepted: the TCP inside the workspace box, in the front camera's view,
and no robot geom penetrating anything. Cheapest first (make bench-levers measures the order).

The frames the first two tests use (the base's pose, the front camera's pose and K) are computed
by `refresh()` from the model and data as they are, not once per process: a scene variation may
move the camera or edit the model, and the producer calls refresh() after it applied one. Between
two refreshes they are constant, so each test costs a few multiplications per draw.
"""

from __future__ import annotations

import mujoco
import numpy as np

from statgen.core import camera as cam
from statgen.core.geometry import invert_T
from statgen.sim.labels import T_world_body, T_world_camera, camera_K
from statgen.sim.scene import Scene


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


class Feasibility:
    """The rejection tests for one scene and one MjData."""

    def __init__(self, scene: Scene, data: mujoco.MjData):
        self.scene, self.data = scene, data
        r = scene.robot
        self.ws_min, self.ws_max = np.array(r.workspace_min), np.array(r.workspace_max)
        front = scene.task.camera("front")
        self.front_id, self.front_wh = scene.index.camera_ids["front"], (front.width, front.height)
        # A front camera on a moving body follows the arm: its pose is read per draw, after mj_camlight.
        self.front_moves = bool(scene.model.cam_bodyid[self.front_id] != 0)
        self.refresh()

    def refresh(self) -> None:
        """Recompute the base's pose and the front camera's pose and K from the model and data as they are now.

        The base is welded to the world and a world-fixed camera does not move with the arm, so
        these depend on the scene (and its variation), not on the configuration."""
        m, d = self.scene.model, self.data
        mujoco.mj_kinematics(m, d)
        mujoco.mj_camlight(m, d)
        self.front_K = camera_K(self.scene, "front")
        self.T_base_world = invert_T(T_world_body(d, self.scene.index.base_body))
        self.T_cam_world = None if self.front_moves else invert_T(T_world_camera(d, self.front_id))

    def in_workspace(self, p_world: np.ndarray) -> bool:
        """True when a world point (3,) [m] lies inside the robot's workspace box (base frame)."""
        p_base = self.T_base_world[:3, :3] @ p_world + self.T_base_world[:3, 3]
        return not (np.any(p_base < self.ws_min) or np.any(p_base > self.ws_max))

    def in_front_view(self, p_world: np.ndarray) -> bool:
        """True when a world point projects inside the front camera's image (data after mj_camlight when the camera moves)."""
        T_cam_world = self.T_cam_world if self.T_cam_world is not None else invert_T(T_world_camera(self.data, self.front_id))
        p_cam = T_cam_world[:3, :3] @ p_world + T_cam_world[:3, 3]
        if p_cam[2] <= 0:
            return False
        u, v, w = self.front_K @ p_cam
        return cam.in_image(np.array([u / w, v / w]), width=self.front_wh[0], height=self.front_wh[1])

    def in_collision(self) -> bool:
        return in_collision(self.scene, self.data)
