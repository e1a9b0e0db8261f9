"""The scene: tasks/<name>.toml as a frozen TaskSpec. Every problem of a file is reported at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from statgen.config.check import INVALID, Problems, Table, ok
from statgen.config.files import find_toml, read_toml
from statgen.errors import ConfigError

CAMERA_SIZE_RANGE = (16, 4096)
FOVY_RANGE_DEG = (1.0, 170.0)
PROP_SHAPES = ("box", "sphere", "cylinder")


@dataclass(frozen=True)
class CameraSpec:
    name: str
    width: int
    height: int
    fovy_deg: float
    pos: tuple[float, float, float] | None = None  # world [m]; None for the wrist camera
    target: tuple[float, float, float] | None = None  # world point looked at [m]
    on_wrist: bool = False


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
        on_wrist = c.get("on_wrist", "bool", False)
        fovy = c.get("fovy_deg", "float")
        lo, hi = FOVY_RANGE_DEG
        if ok(fovy) and not lo <= fovy <= hi:
            pr.add(f"{c.where}.fovy_deg: expected {lo:.0f}..{hi:.0f} degrees, got {fovy}")
        cams.append(CameraSpec(
            name=cname, width=_camera_size(c, "width", pr), height=_camera_size(c, "height", pr), fovy_deg=fovy,
            pos=None if on_wrist else c.get("pos", "vec3"), target=None if on_wrist else c.get("target", "vec3"), on_wrist=on_wrist,
        ))
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
    top.done()
    pr.raise_if_any()
    return TaskSpec(
        name=name, table_size=size, table_center_xy=center, table_height=height, table_rgba=rgba,
        floor_rgba=floor_rgba, robot_pos=robot_pos, robot_yaw_deg=robot_yaw, lights=tuple(lights), cameras=tuple(cams), props=tuple(props),
        source_path=str(path),
    )


def task_from_dict(d: dict[str, Any]) -> TaskSpec:
    """A TaskSpec from dataset.json's `task_spec`; ConfigError when the dict does not have its shape."""
    try:
        return TaskSpec(**{
            **d, "cameras": tuple(CameraSpec(**{k: _tuples(v) for k, v in c.items()}) for c in d["cameras"]),
            "props": tuple(Prop(**{k: _tuples(v) for k, v in p.items()}) for p in d["props"]),
            "lights": _tuples(d["lights"]), "source_path": "dataset.json",
            **{k: _tuples(d[k]) for k in ("table_size", "table_center_xy", "table_rgba", "floor_rgba", "robot_pos")},
        })
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ConfigError(f"task_spec: malformed ({type(e).__name__}: {e})") from None


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v
