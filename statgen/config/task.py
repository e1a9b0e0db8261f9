"""The scene: tasks/<name>.toml as a frozen TaskSpec. Every problem of a file is reported at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import math

import numpy as np

from statgen.config.check import INVALID, Problems, Table, ok
from statgen.config.files import find_toml, read_toml
from statgen.config.settings import LEVERS, check_value
from statgen.errors import ConfigError

CAMERA_SIZE_RANGE = (16, 4096)
FOVY_RANGE_DEG = (1.0, 170.0)
PROP_SHAPES = ("box", "sphere", "cylinder")
RIGID_TOL = 1e-6  # T_base_cam's rotation: |R^T R - I| and |det R - 1| below this


@dataclass(frozen=True)
class Shell:
    """Where a camera may stand at randomize level "full": on a shell around the robot base, looking at
    a random point of the central `target_scale` part of the robot's workspace box."""

    distance: tuple[float, float]  # from the base origin [m]
    azimuth_deg: tuple[float, float]  # about the base's z axis, 0 = the base's +x
    elevation_deg: tuple[float, float]  # above the base's xy plane
    target_scale: float = 0.5  # 1: the whole workspace box, 0: its centre


@dataclass(frozen=True)
class CameraSpec:
    name: str
    width: int
    height: int
    fovy_deg: float  # a calibrated camera: 2 atan(H / 2 fy), for information
    pos: tuple[float, float, float] | None = None  # world [m]; None for the wrist and calibrated cameras
    target: tuple[float, float, float] | None = None  # world point looked at [m]
    on_wrist: bool = False
    K: tuple[tuple[float, float, float], ...] | None = None  # a calibrated camera: OpenCV intrinsics [px]
    T_base_cam: tuple[tuple[float, float, float, float], ...] | None = None  # its pose in the robot base frame (OpenCV axes) [m]
    shell: Shell | None = None

    @property
    def calibrated(self) -> bool:
        return self.K is not None


@dataclass(frozen=True)
class Prop:
    shape: str  # box | sphere | cylinder
    pos: tuple[float, float, float]  # on the table top, in table-top coordinates [m]
    size: tuple[float, float, float]
    rgba: tuple[float, float, float, float]


@dataclass(frozen=True)
class TaskSpec:
    """One scene, as tasks/<name>.toml describes it."""

    name: str
    table_size: tuple[float, float, float]  # full extents [m]
    table_center_xy: tuple[float, float, float]  # (x, y, 0) of the table centre in world [m]
    table_height: float  # world z of the table top [m]
    table_rgba: tuple[float, float, float, float]
    floor_rgba: tuple[float, float, float, float]
    robot_pos: tuple[float, float, float]  # base position on the table top (x, y, dz) [m]
    robot_yaw_deg: float
    lights: tuple[tuple[tuple[float, float, float], tuple[float, float, float]], ...]  # (pos, dir)
    cameras: tuple[CameraSpec, ...]
    props: tuple[Prop, ...]
    source_path: str
    randomize: tuple[tuple[str, Any], ...] = ()  # the task's [randomize] lever values, sorted by key

    @property
    def levers(self) -> dict[str, Any]:
        """The task's [randomize] values (a pipeline's override them; statgen.config.settings.RandomizeSettings)."""
        return dict(self.randomize)

    def camera(self, name: str) -> CameraSpec:
        for c in self.cameras:
            if c.name == name:
                return c
        raise ConfigError(f"task {self.name}: unknown camera {name!r}; valid: {', '.join(c.name for c in self.cameras)}")


def load_task(name_or_path: str) -> TaskSpec:
    """A shipped scene by name, or a task .toml by path; ConfigError listing every problem of the file."""
    path = find_toml("tasks", name_or_path)
    return task_from_toml(read_toml(path), path)


def _camera_size(t: Table, key: str, pr: Problems) -> Any:
    v = t.get(key, "int")
    lo, hi = CAMERA_SIZE_RANGE
    if ok(v) and not lo <= v <= hi:
        pr.add(f"{t.where}.{key}: expected an integer in {lo}..{hi} pixels, got {v}")
        return INVALID
    return v


def task_from_toml(raw: dict[str, Any], path: Path | str) -> TaskSpec:
    """Validate a task TOML's content (no I/O). Every problem is collected; one ConfigError names the file."""
    pr = Problems(str(path))
    top = Table(raw, "", pr)
    name = top.get("name", "str")
    t = top.sub("table")
    size, center = t.get("size", "vec3"), t.get("center", "vec3", (0.0, 0.0, 0.0))
    height, rgba = t.get("height", "float"), t.get("rgba", "vec4", (0.55, 0.45, 0.35, 1.0))
    t.done()
    if ok(size, height) and not t.dead and (min(size) <= 0 or height <= 0):
        pr.add(f"table: expected positive size and height, got size={size} height={height}")
    floor_rgba = top.get("floor_rgba", "vec4", (0.3, 0.3, 0.32, 1.0))
    r = top.sub("robot")
    robot_pos, robot_yaw = r.get("pos", "vec3"), r.get("yaw_deg", "float", 0.0)
    r.done()
    lights = []
    for i, lt in enumerate(top.get("lights", "list[table]", []) or []):
        lt_t = Table(lt, f"lights[{i}]", pr)
        lights.append((lt_t.get("pos", "vec3"), lt_t.get("dir", "vec3")))
        lt_t.done()
    cams = []
    ct = top.sub("cameras")
    for cname in list(ct.data):
        c = ct.sub(cname)
        cams.append(_camera(c, cname, pr))
        c.done()
    ct.done()
    if not ct.dead and not any(c.name == "front" for c in cams):
        pr.add("cameras: a 'front' camera is required (it decides which samples are in view)")
    props = []
    for i, p in enumerate(top.get("props", "list[table]", []) or []):
        pt = Table(p, f"props[{i}]", pr)
        shape = pt.get("shape", "str")
        if ok(shape) and shape not in PROP_SHAPES:
            pr.add(f"props[{i}].shape: expected box, sphere or cylinder, got {shape!r}")
        props.append(Prop(shape=shape, pos=pt.get("pos", "vec3"), size=pt.get("size", "vec3"), rgba=pt.get("rgba", "vec4", (0.8, 0.2, 0.2, 1.0))))
        pt.done()
    levers = _levers(top.sub("randomize", optional=True), pr)
    top.done()
    pr.raise_if_any()
    return TaskSpec(
        name=name, table_size=size, table_center_xy=center, table_height=height, table_rgba=rgba,
        floor_rgba=floor_rgba, robot_pos=robot_pos, robot_yaw_deg=robot_yaw, lights=tuple(lights), cameras=tuple(cams), props=tuple(props),
        source_path=str(path), randomize=levers,
    )


def _levers(t: Table | None, pr: Problems) -> tuple[tuple[str, Any], ...]:
    """A task's [randomize] table: the per-lever ranges declared in statgen.config.settings (same keys, kinds and checks)."""
    if t is None:
        return ()
    out = []
    for key in list(t.data):
        t.used.add(key)
        d = LEVERS.get(key)
        if d is None:
            pr.add(f"randomize: unknown key {key!r}; valid keys: {', '.join(sorted(LEVERS))}")
            continue
        v = check_value(d, t.data[key], pr, label=f"randomize.{key}")
        if ok(v):
            out.append((key, v))
    t.done()
    return tuple(sorted(out))


def _camera(c: Table, name: str, pr: Problems) -> CameraSpec:
    """One [cameras.NAME] table: on the wrist, at pos/target/fovy_deg, or calibrated (K and T_base_cam)."""
    width, height = _camera_size(c, "width", pr), _camera_size(c, "height", pr)
    on_wrist = c.get("on_wrist", "bool", False)
    shell = None
    if c.has("shell"):
        st = c.sub("shell")
        dist, az, el = st.get("distance", "range"), st.get("azimuth_deg", "interval"), st.get("elevation_deg", "interval")
        scale = st.get("target_scale", "float", 0.5)
        st.done()
        if ok(dist) and dist[0] <= 0:
            pr.add(f"{st.where}.distance: expected positive distances [m], got {list(dist)}")
        if ok(el) and not -90 <= el[0] <= el[1] <= 90:
            pr.add(f"{st.where}.elevation_deg: expected [low, high] within -90..90 degrees, got {list(el)}")
        if ok(scale) and not 0 <= scale <= 1:
            pr.add(f"{st.where}.target_scale: expected 0..1, got {scale}")
        if on_wrist:
            pr.add(f"{st.where}: a wrist camera rides on the hand; a shell is for cameras in the world")
        shell = Shell(distance=dist, azimuth_deg=az, elevation_deg=el, target_scale=scale) if ok(dist, az, el, scale) else INVALID
    if c.has("K") or c.has("T_base_cam"):
        K, T = _matrix(c, "K", 3, pr), _matrix(c, "T_base_cam", 4, pr)
        for key in ("pos", "target", "fovy_deg"):
            if c.has(key):
                c.get(key, "any")
                pr.add(f"{c.where}.{key}: a calibrated camera (K, T_base_cam) takes its pose and field of view from them; drop {key}")
        if on_wrist:
            pr.add(f"{c.where}: a calibrated camera is given in the robot base frame (T_base_cam); the wrist camera's mount is in the robot TOML")
        fovy = INVALID
        if ok(K):
            fx, s_, cx, s2, fy, cy, a, b, one = (x for row in K for x in row)
            if not (fx > 0 and fy > 0 and s_ == 0 and s2 == 0 and (a, b, one) == (0, 0, 1)):
                pr.add(f"{c.where}.K: expected [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] with fx, fy > 0 (no skew), got {[list(r) for r in K]}")
                K = INVALID
            else:
                fovy = math.degrees(2 * math.atan2(height / 2, fy)) if ok(height) else INVALID
        if ok(T):
            M = np.array(T)
            R = M[:3, :3]
            if not (np.allclose(M[3], [0, 0, 0, 1]) and np.abs(R.T @ R - np.eye(3)).max() < RIGID_TOL and abs(np.linalg.det(R) - 1) < RIGID_TOL):
                pr.add(f"{c.where}.T_base_cam: expected a rigid transform (orthonormal rotation, last row [0, 0, 0, 1])")
                T = INVALID
        return CameraSpec(name=name, width=width, height=height, fovy_deg=fovy, K=K, T_base_cam=T, shell=shell)
    fovy = c.get("fovy_deg", "float")
    lo, hi = FOVY_RANGE_DEG
    if ok(fovy) and not lo <= fovy <= hi:
        pr.add(f"{c.where}.fovy_deg: expected {lo:.0f}..{hi:.0f} degrees, got {fovy}")
    return CameraSpec(name=name, width=width, height=height, fovy_deg=fovy, pos=None if on_wrist else c.get("pos", "vec3"),
                      target=None if on_wrist else c.get("target", "vec3"), on_wrist=on_wrist, shell=shell)


def _matrix(t: Table, key: str, n: int, pr: Problems) -> Any:
    """An n x n matrix of finite numbers, as a tuple of tuples."""
    v = t.get(key, "any")
    if not ok(v):
        return v
    good = isinstance(v, list) and len(v) == n and all(
        isinstance(r, list) and len(r) == n and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in r) for r in v)
    if not good:
        pr.add(f"{t.where}.{key}: expected a {n}x{n} matrix of numbers, got {v!r}")
        return INVALID
    return tuple(tuple(float(x) for x in r) for r in v)


def task_from_dict(d: dict[str, Any]) -> TaskSpec:
    """A TaskSpec from dataset.json's `task_spec`; ConfigError when the dict does not have its shape."""
    try:
        return TaskSpec(**{
            **d, "cameras": tuple(CameraSpec(**{k: (Shell(**{a: _tuples(b) for a, b in v.items()}) if k == "shell" and v is not None else _tuples(v))
                                                for k, v in c.items()}) for c in d["cameras"]),
            "props": tuple(Prop(**{k: _tuples(v) for k, v in p.items()}) for p in d["props"]),
            "lights": _tuples(d["lights"]), "source_path": "dataset.json",
            "randomize": tuple((k, _tuples(v)) for k, v in d.get("randomize", [])),
            **{k: _tuples(d[k]) for k in ("table_size", "table_center_xy", "table_rgba", "floor_rgba", "robot_pos")},
        })
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ConfigError(f"task_spec: malformed ({type(e).__name__}: {e})") from None


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v
