"""Randomised looks: the SceneVariations of randomize levels "appearance" and "full", and "none"'s record.

A look is a JSON-ready record, the sample's `scene` block (docs/FORMAT.md), and the variation
writes exactly what the record says into the model and data, nothing else: so the record is what
was rendered, and a sample renders again from its record alone (`apply`).

Per shard (`initialize_shard`, the layout stream `[seed, shard, 2]`): the layout. At "full": the
table's size and height, the robot base's offset and yaw on it, 0..k distractors on the table
top (never overlapping the base's footprint, the props or each other, never overhanging), the
walls; at both levels: the shard's texture slots (recipes from the seed's library, uploaded once
per shard). All edits are in place on a model compiled at the largest extents: no recompile, no
new GL context.

Per sample (`draw`, the look stream `[seed, shard, 1]`): every surface's material (flat or one of
the shard's textures) and colour, the light pool (which are on, pose, colour, intensity), the
headlight, the robot's colours (only with randomize.robot_colors) and, at "full", each camera:
jittered around its task pose (position, look-at point, roll, fovy or a calibrated camera's focal
length), or placed on its shell around the base.

Floats are rounded when drawn (colours to 1e-3, positions to 1e-4 m, angles to 1e-2 deg) and the
rounded values are what is applied: the record is exact and short.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import mujoco
import numpy as np

from statgen.core.camera import R_MJCAM_CVCAM, intrinsics
from statgen.core.geometry import R_to_quat_wxyz, quat_wxyz_to_R
from statgen.sim.library import TexturePixels, library_recipe
from statgen.sim.scene import Scene, write_intrinsics
from statgen.sim.stage import HIDDEN_GROUP, PARK_Z, SHAPES, WALL_HALF, WALLS, Stage

WRIST_JITTER = 0.25  # a wrist camera's position and look-at jitter, as a fraction of the world cameras'
TINT = (0.7, 1.0)  # a textured surface's colour (it multiplies the texture: keep it light)
FLAT = (0.05, 0.95)  # an untextured surface's colour
DIRECTIONAL_PROB = 0.3  # a pool light is directional, else a spot light
LIGHT_BOX = (np.array([-2.0, -2.0, 1.0]), np.array([2.0, 2.0, 2.5]))  # where pool lights stand, about the table top's centre [m]
TEXTURE_REPEAT = (0.5, 2.0)  # texture tiles per metre (texuniform)
PLACE_TRIES = 50
MARGIN_M = 0.02  # between placed things, and from the table's edge [m]
BASE_MARGIN_M = 0.05  # added to the base's footprint [m]
WALL_CLEARANCE_M = 0.3  # walls stay this far beyond where any camera can stand [m]
SHELL_TRIES = 20


def _r(x: float, nd: int) -> float:
    return float(round(float(x), nd))


def _rl(v, nd: int) -> list[float]:
    return [_r(x, nd) for x in v]


def _Rz(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _camera_record(pos, quat, fovy: float, K: np.ndarray, frame: str, shell: bool) -> dict[str, Any]:
    return {"frame": frame, "pos": [float(x) for x in pos], "quat_wxyz": [float(x) for x in quat], "fovy_deg": float(fovy),
            "K": np.asarray(K, dtype=float).tolist(), "shell": bool(shell)}


def _at_fovy(cam: _Camera, eye, quat, fovy: float, *, shell: bool) -> dict[str, Any]:
    """The record of an uncalibrated camera at a drawn pose and vertical field of view [deg] (its K from fovy)."""
    return _camera_record(eye, quat, fovy, intrinsics(width=cam.spec.width, height=cam.spec.height, fovy_deg=fovy), cam.frame, shell)


class _Camera:
    """A camera's nominal pose as the look-at triple (eye, target, up) in its body's frame."""

    def __init__(self, scene: Scene, name: str):
        m, c = scene.model, scene.task.camera(name)
        self.name, self.spec, self.id = name, c, scene.index.camera_ids[name]
        self.body = int(m.cam_bodyid[self.id])
        self.frame = "world" if self.body == 0 else m.body(self.body).name
        self.pos0, self.quat0, self.fovy0 = m.cam_pos[self.id].copy(), m.cam_quat[self.id].copy(), float(m.cam_fovy[self.id])
        self.K0 = np.array(c.K, dtype=float) if c.calibrated else intrinsics(width=c.width, height=c.height, fovy_deg=self.fovy0)
        if c.on_wrist:
            w = scene.robot.wrist_camera
            self.eye, self.target, self.up, self.scale = np.array(w.pos), np.array(w.target), np.array(w.up), WRIST_JITTER
        elif c.calibrated:
            T = np.array(c.T_base_cam)
            self.eye, fwd, self.up = T[:3, 3], T[:3, 2], -T[:3, 1]
            self.target = self.eye + fwd * max(0.3, float(-self.eye @ fwd))  # toward the base origin's depth
            self.scale = 1.0
        else:
            self.eye, self.target, self.up, self.scale = np.array(c.pos), np.array(c.target), np.array([0.0, 0.0, 1.0]), 1.0
        self.up_t = tuple(float(x) for x in self.up)

        self._nominal = _camera_record(self.pos0, self.quat0, self.fovy0, self.K0, self.frame, False)

    def nominal(self) -> dict[str, Any]:
        """The camera as built (one record, shared: records are never edited)."""
        return self._nominal


class AsBuilt:
    """Level "none": the scene exactly as the task builds it. Draws nothing and applies nothing; its
    record describes the as-built scene (the same fields as the other levels, values as modelled)."""

    def __init__(self, scene: Scene):
        self.scene = scene
        m, t = scene.model, scene.task
        surfaces = [("floor", t.floor_rgba), ("table_top", t.table_rgba), ("table_legs", t.table_rgba)]
        surfaces += [(f"prop{i}", p.rgba) for i, p in enumerate(t.props)]
        self.record = {
            "level": "none", "layout_id": 0,
            "layout": {"table": {"size": list(t.table_size), "height": t.table_height}, "base": {"offset": [0.0, 0.0], "yaw_deg": 0.0},
                       "walls": [], "distractors": [], "textures": []},
            "surfaces": [{"name": n, "material": -1, "rgba": list(c)} for n, c in surfaces],
            "lights": [{"active": bool(m.light_active[i]), "directional": int(m.light_type[i]) == int(mujoco.mjtLightType.mjLIGHT_DIRECTIONAL),
                        "pos": _rl(m.light_pos[i], 6), "dir": _rl(m.light_dir[i], 6), "diffuse": _rl(m.light_diffuse[i], 6),
                        "ambient": _rl(m.light_ambient[i], 6), "specular": _rl(m.light_specular[i], 6)} for i in range(m.nlight)],
            "headlight": {"active": bool(m.vis.headlight.active), "ambient": _rl(m.vis.headlight.ambient, 6),
                          "diffuse": _rl(m.vis.headlight.diffuse, 6), "specular": _rl(m.vis.headlight.specular, 6)},
            "robot": [],
            "cameras": {n: _Camera(scene, n).nominal() for n in scene.cameras},
        }
        self._shard_record = self.record

    def initialize_shard(self, *, rng: np.random.Generator, shard: int = 0) -> None:
        self._shard_record = {**self.record, "layout_id": int(shard)}

    def draw(self, *, rng: np.random.Generator) -> dict[str, Any]:
        return self._shard_record

    def apply(self, params: dict[str, Any], *, data: mujoco.MjData) -> None:
        pass


class Looks:
    """Levels "appearance" and "full" (see the module doc). `uploader(tex_id)` uploads a texture to the
    renderer's GL context (None without a renderer: the pixels are then never made)."""

    def __init__(self, scene: Scene, *, uploader: Callable[[int], None] | None = None):
        assert scene.stage is not None, "Looks needs a scene built with a randomize level"
        self.scene, self.stage, self.cfg = scene, scene.stage, scene.look
        self.model = m = scene.model
        self.lv = self.cfg.levers
        self.full = self.cfg.level == "full"
        self.uploader = uploader
        self.pixels = TexturePixels(self.cfg.texture_size, user=self.cfg.user)
        self.library_size = self.cfg.library + (len(self.cfg.user.images) if self.cfg.user else 0)
        st, t = self.stage, scene.task
        self.cams = {n: _Camera(scene, n) for n in scene.cameras}
        # Named surfaces: the geoms each look colours together.
        self.surfaces: list[tuple[str, tuple[int, ...]]] = [("floor", (st.floor,)), ("table_top", (st.table_top,)), ("table_legs", st.legs),
                                                            ("walls", st.walls)]
        self.surfaces += [(f"prop{i}", (g,)) for i, g in enumerate(st.props)]
        self.n_distractors = int(self.lv["distractors"]) if self.full else 0
        self._surface_names = [n for n, _ in self.surfaces] + [f"distractor{j}" for j in range(self.n_distractors)]
        self._fixed_geoms = np.array([g for _, gs in self.surfaces for g in gs], dtype=np.int64)  # the named surfaces' geoms
        self._fixed_owner = np.array([i for i, (_, gs) in enumerate(self.surfaces) for _ in gs], dtype=np.int64)
        self._n_fixed = len(self.surfaces)
        self._materials = np.array(st.materials, dtype=np.int64)
        self._lights = np.array(st.lights, dtype=np.int64)
        self._directional, self._spot = int(mujoco.mjtLightType.mjLIGHT_DIRECTIONAL), int(mujoco.mjtLightType.mjLIGHT_SPOT)
        self._n_robot = len(st.robot_materials) if self.cfg.robot_colors else 0
        self._n_draw = 8 * len(self._surface_names) + 12 * len(st.lights) + 6 + 3 * self._n_robot  # the look's uniform numbers
        self._plan, self._plan_for = None, None
        self._mocap = np.array([d.mocap for d in st.distractors], dtype=np.int64)
        self._mocap_body = np.array([d.body for d in st.distractors], dtype=np.int64)
        # mj_ray (the ee_visible label) skips a geom whose colour or material has alpha 0. A look writes
        # alpha 1 everywhere, so the draws may skip the appearance only if nothing it writes starts at 0.
        geoms = np.concatenate([self._fixed_geoms, np.array([d.geom for d in st.distractors], dtype=np.int64)])
        mats = [*st.materials, *(st.robot_materials if self._n_robot else ()), *(int(i) for i in m.geom_matid[geoms] if i >= 0)]
        self._opaque = bool(np.all(m.geom_rgba[geoms, 3] > 0) and np.all(m.mat_rgba[mats, 3] > 0))
        for g in (*st.walls, *st.legs):
            m.geom_sameframe[g] = 0  # their geom_pos and geom_quat are edited
        for i in st.other_lights:
            m.light_active[i] = 0  # the task's and the robot's lights: the pool replaces them
        for i in st.lights:
            m.light_mode[i] = 0  # fixed in the world
        self.ws_min, self.ws_max = np.array(scene.robot.workspace_min), np.array(scene.robot.workspace_max)
        self.layout: dict[str, Any] | None = None  # as applied
        self.layout_id = 0
        self._table_center = np.array(t.table_center_xy[:2], dtype=float)
        # Which way is "back" (away from the front camera), for the walls.
        front = self.cams.get("front")
        away = self._table_center - (front.eye[:2] if front is not None and front.frame == "world" else self._table_center + np.array([1.0, 0.0]))
        self.back = away / (np.linalg.norm(away) or 1.0)

    # ------------------------------------------------------------------ per shard

    def initialize_shard(self, *, rng: np.random.Generator, shard: int = 0) -> None:
        self.layout_id = int(shard)
        layout = self.draw_layout(rng)
        self.apply_layout(layout)

    def draw_layout(self, rng: np.random.Generator) -> dict[str, Any]:
        t, lv = self.scene.task, self.lv
        if self.full:
            size = [t.table_size[0] * rng.uniform(*lv["table_scale"]), t.table_size[1] * rng.uniform(*lv["table_scale"]), t.table_size[2]]
            ext = self.stage.extents.size
            for p in t.props:  # the props stay on the table
                rel, r = np.array(p.pos[:2]) - self._table_center, _footprint(p.shape, p.size)
                size[0] = max(size[0], 2 * (abs(rel[0]) + r + MARGIN_M))
                size[1] = max(size[1], 2 * (abs(rel[1]) + r + MARGIN_M))
            size = [_r(min(size[0], ext[0]), 4), _r(min(size[1], ext[1]), 4), float(t.table_size[2])]
            height = _r(t.table_height + rng.uniform(*lv["table_height_m"]), 4)
            base = self._draw_base(rng, size)
        else:
            size, height, base = [float(x) for x in t.table_size], float(t.table_height), {"offset": [0.0, 0.0], "yaw_deg": 0.0}
        T_world_base = self._T_world_base(base, height)
        walls = self._draw_walls(rng, size, T_world_base)
        distractors = self._draw_distractors(rng, size, height, T_world_base) if self.full else []
        n_slots = len(self.stage.textures)
        picks = rng.choice(self.library_size, n_slots, replace=self.library_size < n_slots)
        textures = [{"recipe": library_recipe(self.cfg.seed, int(i), self.cfg.user, self.cfg.library), "repeat": _r(rng.uniform(*TEXTURE_REPEAT), 2)}
                    for i in picks]
        return {"table": {"size": size, "height": height}, "base": base, "walls": walls, "distractors": distractors, "textures": textures}

    def _base_xy(self, base: dict[str, Any]) -> np.ndarray:
        p0 = self.stage.T_world_parent[:3, :3] @ self.stage.base_pos0 + self.stage.T_world_parent[:3, 3]
        return p0[:2] + np.array(base["offset"])

    def _draw_base(self, rng: np.random.Generator, size: list[float]) -> dict[str, Any]:
        """The base's offset and yaw: its footprint on the table, clear of the props."""
        lv, half = self.lv, np.array(size[:2]) / 2
        r = self.stage.base_radius
        for _ in range(PLACE_TRIES):
            base = {"offset": _rl(rng.uniform(-lv["base_xy_m"], lv["base_xy_m"], 2), 4), "yaw_deg": _r(rng.uniform(-lv["base_yaw_deg"], lv["base_yaw_deg"]), 2)}
            xy = self._base_xy(base) - self._table_center
            if np.any(np.abs(xy) + r + MARGIN_M > half):
                continue
            if any(np.linalg.norm(xy - (np.array(p.pos[:2]) - self._table_center)) < r + _footprint(p.shape, p.size) + MARGIN_M for p in self.scene.task.props):
                continue
            return base
        return {"offset": [0.0, 0.0], "yaw_deg": 0.0}

    def _T_world_base(self, base: dict[str, Any], height: float) -> np.ndarray:
        """The state frame's world pose in a layout (what labels call T_world_base, the frame of the workspace
        box and of a calibrated camera's T_base_cam): the base body's (_T_world_mount) times the state frame."""
        return self._T_world_mount(base, height) @ self.stage.T_mount_state

    def _T_world_mount(self, base: dict[str, Any], height: float) -> np.ndarray:
        """The model's base body's world pose in a layout: the task's mount, moved by the offset and the table's height, turned by the yaw."""
        st = self.stage
        T0 = st.T_world_parent @ _T(quat_wxyz_to_R(st.base_quat0), st.base_pos0)
        dz = height - self.scene.task.table_height
        R = _Rz(math.radians(base["yaw_deg"])) @ T0[:3, :3]
        p = T0[:3, 3] + np.array([base["offset"][0], base["offset"][1], dz])
        return _T(R, p)

    def _base_quat(self, base: dict[str, Any]) -> np.ndarray:
        """The base's body_quat in a layout: the yaw about world z composed with the task's mount (in the parent's frame)."""
        st = self.stage
        half = math.radians(base["yaw_deg"]) / 2
        q_yaw_parent = np.zeros(4)
        mujoco.mju_mat2Quat(q_yaw_parent, (st.T_world_parent[:3, :3].T @ _Rz(2 * half) @ st.T_world_parent[:3, :3]).ravel())
        q = np.zeros(4)
        mujoco.mju_mulQuat(q, q_yaw_parent, st.base_quat0)
        return q

    def _camera_reach(self, normal: np.ndarray, T_world_base: np.ndarray) -> float:
        """How far along `normal` (from the table centre) any camera, or the arm's workspace, can reach [m]."""
        lv, c0 = self.lv, np.array([*self._table_center, 0.0])
        pts = [T_world_base[:3, :3] @ np.array([x, y, z]) + T_world_base[:3, 3]
               for x in (self.ws_min[0], self.ws_max[0]) for y in (self.ws_min[1], self.ws_max[1]) for z in (self.ws_min[2], self.ws_max[2])]
        reach = max(float((p - c0) @ normal) for p in pts) + WALL_CLEARANCE_M  # the arm's links reach past the TCP's box
        for cam in self.cams.values():
            if cam.spec.on_wrist:
                continue
            a = float(lv["camera_pos_m"]) * math.sqrt(3) if self.full else 0.0
            T = T_world_base if cam.frame != "world" else np.eye(4)
            eye = T[:3, :3] @ cam.eye + T[:3, 3]
            reach = max(reach, float((eye - c0) @ normal) + a + WALL_CLEARANCE_M)
            sh = cam.spec.shell
            if sh is not None and self.full:
                for d in sh.distance:
                    for az in np.linspace(*sh.azimuth_deg, 25):
                        for el in np.linspace(*sh.elevation_deg, 7):
                            e = d * np.array([math.cos(math.radians(el)) * math.cos(math.radians(az)),
                                              math.cos(math.radians(el)) * math.sin(math.radians(az)), math.sin(math.radians(el))])
                            w = T_world_base[:3, :3] @ e + T_world_base[:3, 3]
                            reach = max(reach, float((w - c0) @ normal) + WALL_CLEARANCE_M)
        return reach

    def _draw_walls(self, rng: np.random.Generator, size: list[float], T_world_base: np.ndarray) -> list[dict[str, Any]]:
        """Three walls: behind the table (as the front camera sees it) and on either side, beyond every camera."""
        b = np.array([self.back[0], self.back[1], 0.0])
        side = np.array([-b[1], b[0], 0.0])
        lo, hi = self.lv["wall_distance_m"]
        out = []
        for name, n in zip(WALLS, (b, side, -side)):
            d = rng.uniform(lo, hi) if self.full else (lo + hi) / 2
            edge = abs(n[0]) * size[0] / 2 + abs(n[1]) * size[1] / 2
            s = max(edge + d, self._camera_reach(n, T_world_base))
            pos = np.array([*self._table_center, 0.0]) + n * s + np.array([0.0, 0.0, WALL_HALF[1]])
            # local z along the normal (the thin axis), local y up, local x along the wall
            R = np.stack([np.cross(np.array([0.0, 0.0, 1.0]), n), np.array([0.0, 0.0, 1.0]), n], axis=1)
            out.append({"name": name, "pos": _rl(pos, 4), "quat_wxyz": [float(x) for x in R_to_quat_wxyz(R)]})
        return out

    def _draw_distractors(self, rng: np.random.Generator, size: list[float], height: float, T_world_base: np.ndarray) -> list[dict[str, Any]]:
        lv, st, t = self.lv, self.stage, self.scene.task
        n_max = self.n_distractors
        k = int(rng.integers(0, n_max + 1))
        free = {shape: [i for i, s in enumerate(st.distractors) if s.shape == shape] for shape in (*SHAPES, "mesh")}
        kinds = [s for s in SHAPES if free[s]] + (["mesh"] if free["mesh"] else [])
        half = np.array(size[:2]) / 2
        base_xy, base_r = (T_world_base @ np.linalg.inv(st.T_mount_state))[:2, 3] - self._table_center, st.base_radius + BASE_MARGIN_M  # about the base body
        placed: list[tuple[np.ndarray, float]] = [(base_xy, base_r)]
        placed += [(np.array(p.pos[:2]) - self._table_center, _footprint(p.shape, p.size)) for p in t.props]
        out = []
        smin, smax = lv["distractor_size_m"]
        for _ in range(k):
            kind = kinds[int(rng.integers(len(kinds)))] if kinds else None
            if kind is None or not free[kind]:
                continue
            slot_i = free[kind][0]
            slot = st.distractors[slot_i]
            if kind == "mesh":
                gsize = [float(x) for x in slot.max_size]
                r, hz = float(np.hypot(slot.mesh_extent[0], slot.mesh_extent[1])), 0.0
            else:
                a, b_, c = (_r(x, 4) for x in rng.uniform(smin, smax, 3))
                gsize = {"box": [a, b_, c], "cylinder": [a, c, 0.0], "sphere": [a, 0.0, 0.0], "capsule": [a, c, 0.0], "ellipsoid": [a, b_, c]}[kind]
                r = _footprint(kind, gsize)
                hz = {"box": c, "cylinder": c, "sphere": a, "capsule": a + c, "ellipsoid": c}[kind]
            yaw = rng.uniform(0, 2 * math.pi)
            for _ in range(PLACE_TRIES):
                xy = rng.uniform(-(half - r - MARGIN_M), half - r - MARGIN_M) if np.all(half - r - MARGIN_M > 0) else None
                if xy is None:
                    break
                xy = np.array(_rl(xy, 4))
                if all(np.linalg.norm(xy - q) >= r + rq + MARGIN_M for q, rq in placed):
                    placed.append((xy, r))
                    free[kind].pop(0)
                    out.append({"active": True, "shape": kind, "mesh": slot.mesh, "slot": slot_i, "size": gsize,
                                "pos": [float(xy[0] + self._table_center[0]), float(xy[1] + self._table_center[1]), _r(height + hz, 4)],
                                "quat_wxyz": [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]})
                    break
        while len(out) < n_max:
            out.append({"active": False, "shape": "", "mesh": "", "slot": -1, "size": [0.0, 0.0, 0.0], "pos": [0.0, 0.0, PARK_Z], "quat_wxyz": [1.0, 0.0, 0.0, 0.0]})
        return out

    def apply_layout(self, layout: dict[str, Any], data: mujoco.MjData | None = None) -> None:
        """Write a layout into the model (and the distractors' mocap poses into data, when given)."""
        m, st, t = self.model, self.stage, self.scene.task
        if self.full:
            sx, sy, sz = layout["table"]["size"]
            h = layout["table"]["height"]
            m.body_pos[st.table_body] = [t.table_center_xy[0], t.table_center_xy[1], h]
            m.geom_size[st.table_top] = [sx / 2, sy / 2, sz / 2]
            leg_h = (h - sz) / 2
            for g, (dx, dy) in zip(st.legs, [(1, 1), (1, -1), (-1, 1), (-1, -1)]):
                m.geom_size[g] = [0.03, 0.03, leg_h]
                m.geom_pos[g] = [dx * (sx / 2 - 0.05), dy * (sy / 2 - 0.05), -sz - leg_h]
            # The model's base body (the robot's root), not the state frame's body fixed to it: the whole robot moves.
            T = np.linalg.inv(st.T_world_parent) @ self._T_world_mount(layout["base"], h)  # in the base's parent frame
            m.body_pos[self.scene.index.root_body] = T[:3, 3]
            m.body_quat[self.scene.index.root_body] = self._base_quat(layout["base"])
            for slot in st.distractors:  # every slot parked and hidden, then the layout's placed
                m.geom_group[slot.geom] = HIDDEN_GROUP
                m.geom_contype[slot.geom] = m.geom_conaffinity[slot.geom] = 0
                m.body_pos[slot.body] = [0.0, 0.0, PARK_Z]
                m.body_quat[slot.body] = [1.0, 0.0, 0.0, 0.0]
            for dct in layout["distractors"]:
                if not dct["active"]:
                    continue
                slot = st.distractors[dct["slot"]]
                m.geom_group[slot.geom] = 0
                m.geom_contype[slot.geom] = m.geom_conaffinity[slot.geom] = 1
                if slot.shape != "mesh":
                    m.geom_size[slot.geom] = dct["size"]
                m.body_pos[slot.body] = dct["pos"]  # mocap bodies: MjData.mocap_pos starts from body_pos
                m.body_quat[slot.body] = dct["quat_wxyz"]
        for g, w in zip(st.walls, layout["walls"]):
            m.geom_pos[g] = w["pos"]
            m.geom_quat[g] = w["quat_wxyz"]
        for k, (tex, mat, slot) in enumerate(zip(st.textures, st.materials, layout["textures"])):
            m.mat_texrepeat[mat] = [slot["repeat"], slot["repeat"]]
            if self.uploader is not None:
                px = self.pixels.pixels(slot["recipe"])
                if px.shape != (m.tex_height[tex], m.tex_width[tex], 3):  # a slice of tex_data would spill into the next slot
                    raise RuntimeError(f"texture pixels {px.shape} for a {m.tex_width[tex]}x{m.tex_height[tex]} slot: randomize.texture_size "
                                       "differs between the scene and the texture cache")
                adr = int(m.tex_adr[tex])
                m.tex_data[adr:adr + px.size] = px.ravel()
                self.uploader(tex)
        self.layout = layout
        if data is not None:
            self.sync_mocap(data)

    def sync_mocap(self, data: mujoco.MjData) -> None:
        """The distractors' mocap poses in data, from the model's body poses (which the layout wrote)."""
        if len(self._mocap):
            data.mocap_pos[self._mocap] = self.model.body_pos[self._mocap_body]
            data.mocap_quat[self._mocap] = self.model.body_quat[self._mocap_body]

    # ------------------------------------------------------------------ per sample
    #
    # On the hot path (once per sample, and apply twice): the draws are made in a few vectorised
    # calls and the writes are indexed numpy assignments (make bench-looks measures the cost).

    def _draw_plan(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Offsets, scales and rounding of the look's uniform numbers (see draw), for the layout applied now:
        value = offset + scale * u, rounded to 1/mult where mult > 0."""
        lv, n, L, R = self.lv, len(self._surface_names), len(self.stage.lights), self._n_robot
        off, scale, mult = np.zeros(self._n_draw), np.ones(self._n_draw), np.zeros(self._n_draw)

        def put(i: int, k: int, lo, hi, m: float) -> None:
            off[i:i + k], scale[i:i + k], mult[i:i + k] = lo, np.asarray(hi) - np.asarray(lo), m

        put(2 * n, 3 * n, TINT[0], TINT[1], 1e3)
        put(5 * n, 3 * n, FLAT[0], FLAT[1], 1e3)
        centre = np.array([*self._table_center, self.layout["table"]["height"]])
        k = 8 * n + 1 + L
        for i in range(L):  # pos (3), aim (3), warmth, intensity, directional, ambient, specular
            j = k + 11 * i
            put(j, 3, centre + LIGHT_BOX[0], centre + LIGHT_BOX[1], 1e4)
            put(j + 3, 3, centre - 0.3, centre + 0.3, 0)
            put(j + 6, 1, -lv["light_warmth"], lv["light_warmth"], 0)
            put(j + 7, 1, *lv["light_diffuse"], 0)
            put(j + 9, 1, *lv["light_ambient"], 1e3)
            put(j + 10, 1, 0.1, 0.5, 1e3)
        k += 11 * L
        put(k + 1, 1, 0.0, 0.1, 1e3)
        put(k + 2, 1, *lv["headlight_diffuse"], 1e3)
        put(k + 3, 1, 0.0, 0.3, 1e3)
        put(k + 5, 3 * R, FLAT[0], FLAT[1], 1e3)
        return off, scale, mult

    def draw(self, *, rng: np.random.Generator) -> dict[str, Any]:
        """A look: every number but the cameras' comes from one call on the look stream, mapped and
        rounded in a few vectorised steps (this runs once per sample)."""
        lv, st = self.lv, self.stage
        names = self._surface_names
        n, L, R = len(names), len(st.lights), self._n_robot
        if self._plan_for is not self.layout:
            self._plan, self._plan_for = self._draw_plan(), self.layout
        off, scale, mult = self._plan
        v = off + scale * rng.random(self._n_draw)
        u = np.where(mult > 0, np.round(v * mult) / np.where(mult > 0, mult, 1.0), v).tolist()
        p_tex, n_mat = float(lv["texture_prob"]), len(st.materials)
        surfaces = []
        for i, name in enumerate(names):
            if u[i] < p_tex:
                surfaces.append({"name": name, "material": int(u[n + i] * n_mat), "rgba": [*u[2 * n + 3 * i: 2 * n + 3 * i + 3], 1.0]})
            else:
                c = u[5 * n + 3 * i: 5 * n + 3 * i + 3]
                if c == [0.5, 0.5, 0.5]:  # MuJoCo reads (0.5, 0.5, 0.5, 1) as "the material's colour"
                    c[0] = 0.501
                surfaces.append({"name": name, "material": -1, "rgba": [*c, 1.0]})
        k = 8 * n
        lo, hi = (int(x) for x in lv["lights"])
        on = set(sorted(range(L), key=lambda i: u[k + 1 + i])[: min(lo + int(u[k] * (hi - lo + 1)), L)])
        k += 1 + L
        lights = []
        for i in range(L):
            q = u[k + 11 * i: k + 11 * i + 11]
            dx, dy, dz = q[3] - q[0], q[4] - q[1], q[5] - q[2]
            dn = math.sqrt(dx * dx + dy * dy + dz * dz)
            w, inten = q[6], q[7]
            lights.append({"active": i in on, "directional": q[8] < DIRECTIONAL_PROB, "pos": q[0:3],
                           "dir": [round(dx / dn, 4), round(dy / dn, 4), round(dz / dn, 4)],
                           "diffuse": [round(min(max(inten * (1 + w), 0.0), 2.0), 3), round(min(inten, 2.0), 3), round(min(max(inten * (1 - w), 0.0), 2.0), 3)],
                           "ambient": [q[9]] * 3, "specular": [q[10]] * 3})
        k += 11 * L
        headlight = {"active": u[k] < lv["headlight_prob"], "ambient": [u[k + 1]] * 3, "diffuse": [u[k + 2]] * 3, "specular": [u[k + 3]] * 3}
        k += 5
        robot = [[*u[k + 3 * j: k + 3 * j + 3], 1.0] for j in range(R)]
        cameras = {n_: (self._draw_camera(c, rng) if self.full else c.nominal()) for n_, c in self.cams.items()}
        return {"level": self.cfg.level, "layout_id": self.layout_id, "layout": self.layout, "surfaces": surfaces, "lights": lights,
                "headlight": headlight, "robot": robot, "cameras": cameras}

    def _draw_camera(self, cam: _Camera, rng: np.random.Generator) -> dict[str, Any]:
        lv = self.lv
        roll = math.radians(rng.uniform(-lv["camera_roll_deg"], lv["camera_roll_deg"]))
        sh = cam.spec.shell
        if sh is not None and rng.random() < lv["shell_prob"]:
            T_wb = self._T_world_base(self.layout["base"], self.layout["table"]["height"])
            c, h = (self.ws_min + self.ws_max) / 2, (self.ws_max - self.ws_min) / 2 * sh.target_scale
            for _ in range(SHELL_TRIES):
                d, az, el = rng.uniform(*sh.distance), math.radians(rng.uniform(*sh.azimuth_deg)), math.radians(rng.uniform(*sh.elevation_deg))
                eye = T_wb[:3, :3] @ (d * np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])) + T_wb[:3, 3]
                target = T_wb[:3, :3] @ (c + rng.uniform(-1, 1, 3) * h) + T_wb[:3, 3]
                R = _look_at(eye.tolist(), target.tolist(), (0.0, 0.0, 1.0), roll)
                if R is not None:
                    break
            else:
                return self._jitter(cam, rng, roll)
            if cam.spec.calibrated:  # it rides on the state frame's body: its pose is stored in that frame, its K kept
                eye, R = T_wb[:3, :3].T @ (eye - T_wb[:3, 3]), T_wb[:3, :3].T @ R
                return self._lens(cam, eye, R_to_quat_wxyz(R), rng.uniform(-1.0, 1.0), shell=True)
            fovy = cam.fovy0 + rng.uniform(-lv["camera_fovy_deg"], lv["camera_fovy_deg"])  # as drawn before, to the last bit
            return _at_fovy(cam, eye, R_to_quat_wxyz(R), fovy, shell=True)
        return self._jitter(cam, rng, roll)

    def _jitter(self, cam: _Camera, rng: np.random.Generator, roll: float) -> dict[str, Any]:
        lv = self.lv
        u = rng.uniform(-1.0, 1.0, 7)  # eye (3), target (3), fovy or focal scale
        eye = (cam.eye + u[:3] * (lv["camera_pos_m"] * cam.scale)).tolist()
        target = (cam.target + u[3:6] * (lv["camera_target_m"] * cam.scale)).tolist()
        R = _look_at(eye, target, cam.up_t, roll)
        if R is None:
            eye, R = cam.eye.tolist(), _look_at(cam.eye.tolist(), cam.target.tolist(), cam.up_t, roll)
        return self._lens(cam, eye, R_to_quat_wxyz(R), u[6], shell=False)

    def _lens(self, cam: _Camera, eye, quat, u: float, *, shell: bool) -> dict[str, Any]:
        """A camera record at a drawn pose, its intrinsics jittered by u in [-1, 1]: a calibrated camera keeps its
        K, its focal lengths scaled by up to camera_focal_frac; any other camera's fovy moves by up to camera_fovy_deg."""
        lv = self.lv
        if cam.spec.calibrated:
            s = 1 + u * lv["camera_focal_frac"]
            K = cam.K0.copy()
            K[0, 0], K[1, 1] = K[0, 0] * s, K[1, 1] * s
            return _camera_record(eye, quat, math.degrees(2 * math.atan2(cam.spec.height / 2, K[1, 1])), K, cam.frame, shell)
        return _at_fovy(cam, eye, quat, cam.fovy0 + u * lv["camera_fovy_deg"], shell=shell)

    def apply(self, params: dict[str, Any], *, data: mujoco.MjData, appearance: bool = True) -> None:
        """Write a look (a `scene` record) into the model and data: its layout when it is not the one
        applied, then surfaces, lights, headlight, robot colours and cameras. Leaves qpos alone.

        appearance=False (apply_geometry) writes the layout and the cameras only: all that the feasibility
        tests and the labels read. mj_ray reads colours only through alpha == 0, and a look's alphas are all 1,
        so this holds when no surface starts transparent (self._opaque; else apply_geometry applies all)."""
        if not params:
            return
        m, st = self.model, self.stage
        layout = params["layout"]
        if layout is not self.layout and layout != self.layout:
            self.layout_id = int(params.get("layout_id", self.layout_id))
            self.apply_layout(layout, data)
        elif self.full:
            self.sync_mocap(data)  # another MjData than the layout was written with, or mocap moved
        if appearance:
            self._apply_appearance(params)
        if self.full:
            self._apply_cameras(params["cameras"])
        mujoco.mj_camlight(m, data)

    def apply_geometry(self, params: dict[str, Any], *, data: mujoco.MjData) -> None:
        """The look's layout and cameras only, for the draws before a render (which applies the whole look);
        the whole look when a surface it colours starts transparent (alpha 0), which mj_ray would skip."""
        self.apply(params, data=data, appearance=not self._opaque)

    def _apply_appearance(self, params: dict[str, Any]) -> None:
        m, st, layout = self.model, self.stage, params["layout"]
        surfaces = params["surfaces"]
        mat = np.fromiter((x["material"] for x in surfaces), dtype=np.int64, count=len(surfaces))
        mat = np.where(mat < 0, -1, self._materials[np.maximum(mat, 0)])
        rgba = np.array([x["rgba"] for x in surfaces])
        m.geom_matid[self._fixed_geoms] = mat[self._fixed_owner]
        m.geom_rgba[self._fixed_geoms] = rgba[self._fixed_owner]
        for j, dct in enumerate(layout["distractors"]):
            if dct["active"]:
                g = st.distractors[dct["slot"]].geom
                m.geom_matid[g], m.geom_rgba[g] = mat[self._n_fixed + j], rgba[self._n_fixed + j]
        lights = params["lights"]
        ids = self._lights
        m.light_active[ids] = [x["active"] for x in lights]
        m.light_type[ids] = [self._directional if x["directional"] else self._spot for x in lights]
        m.light_pos[ids] = [x["pos"] for x in lights]
        m.light_dir[ids] = [x["dir"] for x in lights]
        m.light_diffuse[ids] = [x["diffuse"] for x in lights]
        m.light_ambient[ids] = [x["ambient"] for x in lights]
        m.light_specular[ids] = [x["specular"] for x in lights]
        hl, h = m.vis.headlight, params["headlight"]
        hl.active, hl.ambient, hl.diffuse, hl.specular = int(h["active"]), h["ambient"], h["diffuse"], h["specular"]
        for mid, c in zip(st.robot_materials, params["robot"]):
            m.mat_rgba[mid] = c

    def _apply_cameras(self, cameras: dict[str, Any]) -> None:
        m = self.model
        for name, c in cameras.items():
            cam = self.cams[name]
            m.cam_pos[cam.id], m.cam_quat[cam.id] = c["pos"], c["quat_wxyz"]
            if cam.spec.calibrated:
                K = np.array(c["K"], dtype=float)
                write_intrinsics(m, cam.id, K, width=cam.spec.width, height=cam.spec.height)
                self.scene.intrinsics[name] = K
            else:
                m.cam_fovy[cam.id] = c["fovy_deg"]


def _look_at(eye, target, up, roll: float) -> np.ndarray | None:
    """R_world_mjcam (3, 3) of a MuJoCo camera at eye looking at target, turned by roll [rad] about its
    optical axis (statgen.core.geometry.look_at_R then a roll, in scalar math: it runs per sample).
    None when eye == target or the view is parallel to up."""
    fx, fy, fz = target[0] - eye[0], target[1] - eye[1], target[2] - eye[2]
    n = math.sqrt(fx * fx + fy * fy + fz * fz)
    if n == 0:
        return None
    fx, fy, fz = fx / n, fy / n, fz / n
    rx, ry, rz = fy * up[2] - fz * up[1], fz * up[0] - fx * up[2], fx * up[1] - fy * up[0]  # fwd x up
    n = math.sqrt(rx * rx + ry * ry + rz * rz)
    if n < 1e-9:
        return None
    rx, ry, rz = rx / n, ry / n, rz / n
    ux, uy, uz = ry * fz - rz * fy, rz * fx - rx * fz, rx * fy - ry * fx  # right x fwd
    c, s = math.cos(roll), math.sin(roll)
    return np.array([[c * rx + s * ux, -s * rx + c * ux, -fx], [c * ry + s * uy, -s * ry + c * uy, -fy], [c * rz + s * uz, -s * rz + c * uz, -fz]])


def _T(R: np.ndarray, p: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, p
    return T


def _footprint(shape: str, size) -> float:
    """The radius of a circle about an upright object's centre that covers its footprint on the table [m]."""
    s = [float(x) for x in size]
    return {"box": math.hypot(s[0], s[1]), "ellipsoid": max(s[0], s[1])}.get(shape, s[0])


def make_variation(scene: Scene, *, uploader: Callable[[int], None] | None = None):
    """The variation of a scene's randomize level: AsBuilt at "none", else Looks."""
    return AsBuilt(scene) if scene.look.level == "none" else Looks(scene, uploader=uploader)
