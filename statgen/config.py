"""Robot, task and pipeline configuration: TOML data, validated into frozen dataclasses.

robots/, tasks/ and pipelines/ ship inside the wheel under ``statgen/_data/``; in a
source checkout (editable install) they are read from the repo's top-level folders.
A user may pass a path to their own file instead of a name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from statgen.core.rosa import DIMS
from statgen.errors import ConfigError

SAMPLE_SCHEMA = "statgen.sample/1"
DATASET_SCHEMA = "statgen.dataset/1"
IMAGE_FORMATS = ("jpg", "png", "webp")
MODEL_SOURCES = ("menagerie", "dm_control", "file")
MAX_INDEX = 10**9 - 1  # the key is f"{index:09d}"
CAMERA_SIZE_RANGE = (16, 4096)


# --------------------------------------------------------------------------- data files


def data_dir(kind: str) -> Path:
    """Folder holding the shipped robots/, tasks/ or pipelines/ TOMLs."""
    packaged = resources.files("statgen") / "_data" / kind
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[1] / kind  # source checkout / editable install


def available(kind: str) -> list[str]:
    """Names of the shipped TOMLs of one kind, sorted."""
    d = data_dir(kind)
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def find_toml(kind: str, name_or_path: str) -> Path:
    """A shipped TOML by name, or the user's own file by path.

    A value with a slash or a .toml suffix is a path; otherwise a shipped name wins over a
    folder of that name in the working directory (an --out folder called `franka`, say).
    """
    p = Path(name_or_path)
    what = kind[:-1]
    looks_like_path = p.suffix == ".toml" or "/" in name_or_path
    if looks_like_path or not (data_dir(kind) / f"{name_or_path}.toml").is_file():
        if p.is_dir():
            raise ConfigError(_folder_message(what, name_or_path, p))
    if looks_like_path:
        if not p.is_file():
            raise ConfigError(f"{what} file {name_or_path!r} does not exist; pass a name ({', '.join(available(kind))}) or a path to a .toml file")
        return p.resolve()
    cand = data_dir(kind) / f"{name_or_path}.toml"
    if not cand.is_file():
        raise ConfigError(f"unknown {what} {name_or_path!r}; valid choices: {', '.join(available(kind))} (or a path to a .toml file)")
    return cand


def _folder_message(what: str, given: str, folder: Path) -> str:
    """'--robot DIR' names a folder: say so, and point at the .toml inside when there is one."""
    tomls = sorted(q.name for q in folder.glob("*.toml") if q.is_file())
    head = f"{what} {given!r} is a folder; expected a {what} .toml file"
    if len(tomls) == 1:
        return f"{head}: did you mean {(folder / tomls[0]).as_posix()!r}?"
    if tomls:
        return f"{head}: pass one of the files in it ({', '.join(tomls)})"
    return f"{head}, and it holds no .toml file; pass a name ({', '.join(available(what + 's'))}) or a path to a .toml file"


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict. Every failure is a ConfigError naming the file.

    TOML is UTF-8 by definition; a UTF-8 byte-order mark is accepted and dropped.
    Latin-1, UTF-16 and binary files are refused with one line saying so.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: {_not_utf8(raw, e)}; a statgen config file must be UTF-8 TOML (re-save it as UTF-8)") from None
    if "\x00" in text:  # UTF-16 without a byte-order mark decodes as UTF-8 with a NUL after every ASCII byte
        at = text.index("\x00")
        raise ConfigError(f"{path}: NUL byte at offset {at} (UTF-16 or binary?); a statgen config file must be UTF-8 TOML (re-save it as UTF-8)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e}); fix the syntax") from None


def _not_utf8(raw: bytes, e: UnicodeDecodeError) -> str:
    """What a file that is not UTF-8 looks like, in a few words: 'expected UTF-8, got ...'."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        got = "UTF-16 (it starts with a UTF-16 byte-order mark)"
    else:
        got = f"byte 0x{raw[e.start]:02x} at offset {e.start}, which is not UTF-8 (Latin-1 or binary?)"
    return f"expected UTF-8 text, got {got}"


# --------------------------------------------------------------------------- validation helpers


class _Table:
    """A TOML table being read: every key must be consumed, with its type checked."""

    def __init__(self, data: Any, where: str):
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
        self.data, self.where, self.used = data, where, set()

    def get(self, key: str, kind: str, default: Any = dataclasses.MISSING) -> Any:
        self.used.add(key)
        where = f"{self.where}.{key}" if self.where else key
        if key not in self.data:
            if default is dataclasses.MISSING:
                raise ConfigError(f"{where}: missing; add it to the file")
            return default
        return check(self.data[key], kind, where)

    def sub(self, key: str, *, optional: bool = False) -> _Table | None:
        self.used.add(key)
        if key not in self.data:
            if optional:
                return None
            raise ConfigError(f"{self.where}.{key}: missing table; add [{self.where}.{key}]".replace("[.", "["))
        return _Table(self.data[key], f"{self.where}.{key}" if self.where else key)

    def done(self) -> None:
        extra = sorted(set(self.data) - self.used)
        if extra:
            raise ConfigError(f"{self.where or 'top level'}: unknown key {extra[0]!r}; valid keys: {', '.join(sorted(self.used))}")


def check(v: Any, kind: str, where: str) -> Any:
    """Check a TOML value against a small type language: str, int, float, bool, vec3, vec4, range, list[str]."""
    num = (int, float)
    ok = {
        "str": lambda: isinstance(v, str) and v != "",
        "int": lambda: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda: isinstance(v, num) and not isinstance(v, bool) and math.isfinite(v),
        "bool": lambda: isinstance(v, bool),
        "vec3": lambda: isinstance(v, list) and len(v) == 3 and all(isinstance(x, num) and not isinstance(x, bool) for x in v),
        "vec4": lambda: isinstance(v, list) and len(v) == 4 and all(isinstance(x, num) and not isinstance(x, bool) for x in v),
        "range": lambda: isinstance(v, list) and len(v) == 2 and all(isinstance(x, num) and not isinstance(x, bool) for x in v) and v[0] < v[1],
        "list[str]": lambda: isinstance(v, list) and all(isinstance(x, str) and x for x in v),
        "list[float]": lambda: isinstance(v, list) and all(isinstance(x, num) and not isinstance(x, bool) and math.isfinite(x) for x in v),
        "list[table]": lambda: isinstance(v, list) and all(isinstance(x, dict) for x in v),
        "any": lambda: True,
    }[kind]()
    if not ok:
        expected = {"range": "[low, high] with low < high", "vec3": "3 numbers", "vec4": "4 numbers", "str": "a non-empty string",
                    "list[float]": "a list of numbers", "list[table]": "a list of tables"}.get(kind, kind)
        raise ConfigError(f"{where}: expected {expected}, got {v!r}")
    if kind == "float":
        return float(v)
    if kind in ("vec3", "vec4", "range"):
        return tuple(float(x) for x in v)
    if kind == "list[str]":
        return tuple(v)
    if kind == "list[float]":
        return tuple(float(x) for x in v)
    return v


# --------------------------------------------------------------------------- robot


@dataclass(frozen=True)
class Point:
    """A point fixed to a body: `pos` [m] in the body frame."""

    body: str
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    site: str | None = None  # or an existing site of the model (then body and pos are unused)


@dataclass(frozen=True)
class Attachment:
    """Another MJCF attached to a site of the main model (e.g. the Jaco hand on its wrist)."""

    file: str
    body: str
    site: str
    prefix: str = ""


@dataclass(frozen=True)
class ModelRef:
    source: str  # menagerie | dm_control | file
    name: str  # menagerie folder name, dm_control-relative folder, or a folder path
    file: str  # the MJCF inside that folder
    base_body: str
    attach: tuple[Attachment, ...] = ()
    license: str = "unknown"


@dataclass(frozen=True)
class WristCamera:
    body: str
    pos: tuple[float, float, float]
    target: tuple[float, float, float]  # a point in the body frame the camera looks at
    up: tuple[float, float, float] = (1.0, 0.0, 0.0)  # body-frame direction that appears up


@dataclass(frozen=True)
class RobotSpec:
    """One robot, as robots/<name>.toml describes it."""

    name: str
    description: str
    model: ModelRef
    tcp: Point
    arm_joints: tuple[str, ...]
    arm_ranges: tuple[tuple[str, tuple[float, float]], ...]  # overrides of the model's limits [rad or m]
    gripper_joints: tuple[str, ...]  # () for an arm without a gripper (see has_gripper)
    gripper_closed: tuple[float, ...]
    gripper_open: tuple[float, ...]
    gripper_bodies: tuple[str, ...]
    fingertips: tuple[Point, ...]  # two points; () when there are no gripper joints
    workspace_min: tuple[float, float, float]  # TCP box in the base frame [m]
    workspace_max: tuple[float, float, float]
    rosa_ranges: tuple[tuple[float, float], ...]  # (7, 2): x y z [m], roll pitch yaw [rad], gripper
    wrist_camera: WristCamera | None
    source_path: str

    @property
    def has_gripper(self) -> bool:
        """False for an arm without gripper joints. Its samples then have gripper_open_fraction 0.0,
        gripper_open false and gripper_width 0.0, the ROSA gripper token 0, and text that names no gripper.

        A property, not a field: it follows from gripper_joints, so dataset.json and the run
        identity of existing datasets stay as they were.
        """
        return bool(self.gripper_joints)


def _point(t: _Table, *, allow_site: bool = False) -> Point:
    if allow_site and "site" in t.data:
        p = Point(body="", pos=(0.0, 0.0, 0.0), site=t.get("site", "str"))
    else:
        p = Point(body=t.get("body", "str"), pos=t.get("pos", "vec3", (0.0, 0.0, 0.0)))
    t.done()
    return p


def _rosa_ranges(v: Any, where: str) -> tuple[tuple[float, float], ...]:
    if not (isinstance(v, list) and len(v) == len(DIMS)):
        raise ConfigError(f"{where}: expected {len(DIMS)} ranges for {', '.join(DIMS)}, got {v!r}")
    ranges = tuple(check(r, "range", f"{where}[{i}] ({DIMS[i]})") for i, r in enumerate(v))
    if ranges[-1] != (0.0, 1.0):
        raise ConfigError(f"{where}[6] (gripper): expected [0, 1] (the gripper token is binary: 0 closed, 255 open), got {list(ranges[-1])}")
    return ranges


def _gripper(g: _Table | None, path: Path, arm_joints: tuple[str, ...]):
    """[gripper] -> (joints, closed, open, bodies, fingertips).

    An arm without a gripper leaves [gripper] out or sets `joints = []`. Then closed and
    open must be empty and fingertips absent (there is no width to measure: it is 0.0);
    bodies stay allowed (a fixed tool: its geoms may touch each other and do not hide the TCP).
    """
    if g is None:
        return (), (), (), (), ()
    g_joints = g.get("joints", "list[str]")
    if not g_joints:
        closed, opened = g.get("closed", "list[float]", ()), g.get("open", "list[float]", ())
        if closed or opened:
            raise ConfigError(f"{path}: gripper: expected closed = [] and open = [] for a robot without gripper joints, got {list(closed)} and {list(opened)}")
        bodies = g.get("bodies", "list[str]", ())
        _unique(bodies, f"{path}: gripper.bodies", "body")
        if "fingertips" in g.data:
            raise ConfigError(
                f"{path}: gripper.fingertips: expected none for a robot without gripper joints (its gripper_width is 0.0), "
                f"got {len(g.data['fingertips']) if isinstance(g.data['fingertips'], list) else 1} point(s); "
                "remove fingertips, or list the finger joints in gripper.joints"
            )
        g.done()
        return (), (), (), bodies, ()
    closed = g.get("closed", "list[float]")
    opened = g.get("open", "list[float]")
    if not (len(g_joints) == len(closed) == len(opened)):
        raise ConfigError(f"{path}: gripper: expected one closed and one open value per joint ({len(g_joints)}), got {len(closed)} and {len(opened)}")
    if any(c == o for c, o in zip(closed, opened)):
        raise ConfigError(f"{path}: gripper: closed and open must differ for every joint, got {closed} and {opened}")
    _unique(g_joints, f"{path}: gripper.joints", "joint")
    both = [j for j in g_joints if j in arm_joints]
    if both:
        raise ConfigError(f"{path}: joint {both[0]!r} is in both arm.joints and gripper.joints; expected each joint in one list only")
    bodies = g.get("bodies", "list[str]")
    _unique(bodies, f"{path}: gripper.bodies", "body")
    tips = g.get("fingertips", "list[table]")
    if not (isinstance(tips, list) and len(tips) == 2):
        raise ConfigError(f"{path}: gripper.fingertips: expected two points, got {tips!r}")
    fingertips = (_point(_Table(tips[0], "gripper.fingertips[0]")), _point(_Table(tips[1], "gripper.fingertips[1]")))
    g.done()
    return g_joints, closed, opened, bodies, fingertips


def _unique(names: tuple[str, ...], where: str, what: str) -> None:
    """Refuse a name listed twice: a joint sampled twice (or never), a body counted twice."""
    seen = set()
    for x in names:
        if x in seen:
            raise ConfigError(f"{where}: {what} {x!r} is listed twice; expected each {what} once, got {list(names)}")
        seen.add(x)


def _in_file(path: Path, fn):
    """Run fn(); a ConfigError from it names the file when it does not already."""
    try:
        return fn()
    except ConfigError as e:
        if str(path) in str(e):
            raise
        raise ConfigError(f"{path}: {e}") from None


def load_robot(name_or_path: str) -> RobotSpec:
    path = find_toml("robots", name_or_path)
    return _in_file(path, lambda: _load_robot(path))


def _load_robot(path: Path) -> RobotSpec:
    top = _Table(read_toml(path), "")
    name = top.get("name", "str")
    description = top.get("description", "str", "")

    m = top.sub("model")
    source = m.get("source", "str")
    if source not in MODEL_SOURCES:
        raise ConfigError(f"{path}: model.source: expected one of {', '.join(MODEL_SOURCES)}, got {source!r}")
    attach = []
    for i, a in enumerate(m.get("attach", "list[table]", [])):
        at = _Table(a, f"model.attach[{i}]")
        prefix = at.get("prefix", "any", "")
        if not isinstance(prefix, str):
            raise ConfigError(f"model.attach[{i}].prefix: expected a string, got {prefix!r}")
        attach.append(Attachment(file=at.get("file", "str"), body=at.get("body", "str"), site=at.get("site", "str"), prefix=prefix))
        at.done()
    model = ModelRef(
        source=source, name=m.get("name", "str"), file=m.get("file", "str"), base_body=m.get("base_body", "str"),
        attach=tuple(attach), license=m.get("license", "str", "unknown"),
    )
    m.done()

    tcp = _point(top.sub("tcp"), allow_site=True)

    a = top.sub("arm")
    arm_joints = a.get("joints", "list[str]")
    if not arm_joints:
        raise ConfigError(f"{path}: arm.joints: expected at least one joint name, got []")
    _unique(arm_joints, f"{path}: arm.joints", "joint")
    rng = a.sub("ranges", optional=True)
    arm_ranges = []
    if rng is not None:
        for j in list(rng.data):
            if j not in arm_joints:
                raise ConfigError(f"{path}: arm.ranges.{j}: not an arm joint; valid: {', '.join(arm_joints)}")
            arm_ranges.append((j, rng.get(j, "range")))
        rng.done()
    a.done()

    g_joints, closed, opened, bodies, fingertips = _gripper(top.sub("gripper", optional=True), path, arm_joints)

    w = top.sub("workspace")
    wmin, wmax = w.get("min", "vec3"), w.get("max", "vec3")
    if not all(lo < hi for lo, hi in zip(wmin, wmax)):
        raise ConfigError(f"{path}: workspace: expected min < max on every axis, got min={wmin} max={wmax}")
    w.done()

    r = top.sub("rosa")
    rosa = _rosa_ranges(r.get("ranges", "any"), f"{path}: rosa.ranges")
    r.done()

    wc = top.sub("wrist_camera", optional=True)
    wrist = None
    if wc is not None:
        wrist = WristCamera(body=wc.get("body", "str"), pos=wc.get("pos", "vec3"), target=wc.get("target", "vec3"), up=wc.get("up", "vec3", (1.0, 0.0, 0.0)))
        wc.done()
    top.done()
    return RobotSpec(
        name=name, description=description, model=model, tcp=tcp, arm_joints=arm_joints, arm_ranges=tuple(arm_ranges),
        gripper_joints=g_joints, gripper_closed=closed, gripper_open=opened, gripper_bodies=bodies, fingertips=fingertips,
        workspace_min=wmin, workspace_max=wmax, rosa_ranges=rosa, wrist_camera=wrist, source_path=str(path),
    )


# --------------------------------------------------------------------------- task


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


def _camera_size(t: _Table, key: str, where: str) -> int:
    v = t.get(key, "int")
    lo, hi = CAMERA_SIZE_RANGE
    if not lo <= v <= hi:
        raise ConfigError(f"{where}.{key}: expected an integer in {lo}..{hi} pixels, got {v}")
    return v


def load_task(name_or_path: str) -> TaskSpec:
    path = find_toml("tasks", name_or_path)
    return _in_file(path, lambda: _load_task(path))


def _load_task(path: Path) -> TaskSpec:
    top = _Table(read_toml(path), "")
    name = top.get("name", "str")
    t = top.sub("table")
    table = dict(size=t.get("size", "vec3"), center=t.get("center", "vec3", (0.0, 0.0, 0.0)), height=t.get("height", "float"), rgba=t.get("rgba", "vec4", (0.55, 0.45, 0.35, 1.0)))
    t.done()
    if min(table["size"]) <= 0 or table["height"] <= 0:
        raise ConfigError(f"{path}: table: expected positive size and height, got size={table['size']} height={table['height']}")
    floor_rgba = top.get("floor_rgba", "vec4", (0.3, 0.3, 0.32, 1.0))
    r = top.sub("robot")
    robot_pos, robot_yaw = r.get("pos", "vec3"), r.get("yaw_deg", "float", 0.0)
    r.done()
    lights = []
    for i, lt in enumerate(top.get("lights", "list[table]", [])):
        lt_t = _Table(lt, f"lights[{i}]")
        lights.append((lt_t.get("pos", "vec3"), lt_t.get("dir", "vec3")))
        lt_t.done()
    cams = []
    ct = top.sub("cameras")
    for cname in list(ct.data):
        c = ct.sub(cname)
        where = f"{path}: cameras.{cname}"
        on_wrist = c.get("on_wrist", "bool", False)
        fovy = c.get("fovy_deg", "float")
        if not 1.0 <= fovy <= 170.0:
            raise ConfigError(f"{where}.fovy_deg: expected 1..170 degrees, got {fovy}")
        cams.append(CameraSpec(
            name=cname, width=_camera_size(c, "width", where), height=_camera_size(c, "height", where), fovy_deg=fovy,
            pos=None if on_wrist else c.get("pos", "vec3"), target=None if on_wrist else c.get("target", "vec3"), on_wrist=on_wrist,
        ))
        c.done()
    ct.done()
    if not any(c.name == "front" for c in cams):
        raise ConfigError(f"{path}: cameras: a 'front' camera is required (it decides which samples are in view)")
    props = []
    for i, p in enumerate(top.get("props", "list[table]", [])):
        pt = _Table(p, f"props[{i}]")
        shape = pt.get("shape", "str")
        if shape not in ("box", "sphere", "cylinder"):
            raise ConfigError(f"{path}: props[{i}].shape: expected box, sphere or cylinder, got {shape!r}")
        props.append(Prop(shape=shape, pos=pt.get("pos", "vec3"), size=pt.get("size", "vec3"), rgba=pt.get("rgba", "vec4", (0.8, 0.2, 0.2, 1.0))))
        pt.done()
    top.done()
    return TaskSpec(
        name=name, table_size=table["size"], table_center_xy=table["center"], table_height=table["height"], table_rgba=table["rgba"],
        floor_rgba=floor_rgba, robot_pos=robot_pos, robot_yaw_deg=robot_yaw, lights=tuple(lights), cameras=tuple(cams), props=tuple(props),
        source_path=str(path),
    )


# --------------------------------------------------------------------------- pipeline / generate config


@dataclass(frozen=True)
class RenderSettings:
    """Renderer quality. Each costs frames/s on a CPU; see the README's table."""

    shadows: bool = False
    reflections: bool = False
    multisample: int = 0  # offscreen MSAA samples: 0 (off), 2, 4, 8 ...
    visual_reduction: float = 0.85  # fraction of visual-mesh faces removed by decimation (0 = full meshes)


@dataclass(frozen=True)
class GenerateConfig:
    """Everything `statgen.generate` needs. Identity fields decide the data; the rest only where and how fast."""

    robot: str
    n: int
    task: str = "tabletop"
    seed: int = 0
    shard_size: int = 1000
    cameras: tuple[str, ...] = ("front",)
    image_format: str = "jpg"
    jpeg_quality: int = 90
    depth: bool = False
    seg: bool = False
    render: RenderSettings = field(default_factory=RenderSettings)
    require_visible: bool = False
    max_draws_per_sample: int = 200
    rosa_ranges: tuple[tuple[float, float], ...] | None = None  # None: the robot's
    pipeline: str | None = None  # the pipeline file it came from (not part of the identity)
    # --- not part of the run identity ---
    out: str | None = None
    workers: int | None = None
    assets: str | None = None
    address: str | None = None
    resume: bool = False
    overwrite: bool = False  # replace the statgen dataset in `out`
    progress: bool = True

    def identity(self) -> dict[str, Any]:
        """The fields that change the data (DESIGN.md, 'run identity'), JSON-ready with sorted keys."""
        d = dataclasses.asdict(self)
        for k in ("out", "workers", "assets", "address", "resume", "overwrite", "progress", "pipeline"):
            d.pop(k)
        d["schema"] = SAMPLE_SCHEMA
        return json.loads(json.dumps(d, sort_keys=True))

    def identity_sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()


PIPELINE_KEYS = {
    # section.key: (GenerateConfig field, type)
    "pipeline.robot": ("robot", "str"),
    "pipeline.task": ("task", "str"),
    "pipeline.n": ("n", "int"),
    "pipeline.seed": ("seed", "int"),
    "pipeline.shard_size": ("shard_size", "int"),
    "pipeline.cameras": ("cameras", "list[str]"),
    "image.format": ("image_format", "str"),
    "image.jpeg_quality": ("jpeg_quality", "int"),
    "image.depth": ("depth", "bool"),
    "image.seg": ("seg", "bool"),
    "render.shadows": ("render.shadows", "bool"),
    "render.reflections": ("render.reflections", "bool"),
    "render.multisample": ("render.multisample", "int"),
    "render.visual_reduction": ("render.visual_reduction", "float"),
    "sampling.require_visible": ("require_visible", "bool"),
    "sampling.max_draws_per_sample": ("max_draws_per_sample", "int"),
    "rosa.ranges": ("rosa_ranges", "any"),
}


def load_pipeline(name_or_path: str) -> dict[str, Any]:
    """A pipeline TOML as a flat dict of GenerateConfig fields (defaults that flags override)."""
    path = find_toml("pipelines", name_or_path)
    raw = read_toml(path)
    out: dict[str, Any] = {"pipeline": str(path)}
    sections = sorted({k.split(".")[0] for k in PIPELINE_KEYS})
    for sec, body in raw.items():
        if sec not in sections or not isinstance(body, dict):
            raise ConfigError(f"{path}: unknown section [{sec}]; valid sections: {', '.join(sections)}")
        for key, v in body.items():
            full = f"{sec}.{key}"
            if full not in PIPELINE_KEYS:
                valid = ", ".join(k.split(".")[1] for k in PIPELINE_KEYS if k.startswith(sec + "."))
                raise ConfigError(f"{path}: [{sec}] unknown key {key!r}; valid keys: {valid}")
            fld, kind = PIPELINE_KEYS[full]
            out[fld] = _rosa_ranges(v, f"{path}: rosa.ranges") if fld == "rosa_ranges" else check(v, kind, f"{path}: {full}")
    return out


FIELD_KINDS = {
    # GenerateConfig field -> kind for `check` (flags and pipeline values alike)
    "robot": "str", "n": "int", "task": "str", "seed": "int", "shard_size": "int", "cameras": "list[str]",
    "image_format": "str", "jpeg_quality": "int", "depth": "bool", "seg": "bool", "require_visible": "bool",
    "max_draws_per_sample": "int", "out": "str", "workers": "int", "assets": "str", "address": "str",
    "resume": "bool", "overwrite": "bool", "progress": "bool", "pipeline": "str",
    "render.shadows": "bool", "render.reflections": "bool", "render.multisample": "int", "render.visual_reduction": "float",
}


def build_config(values: dict[str, Any]) -> GenerateConfig:
    """GenerateConfig from flat values (pipeline defaults merged with flags), validated."""
    values = {k: v for k, v in values.items() if v is not None}
    _resume_or_overwrite(values.get("resume"), values.get("overwrite"))  # before "no robot": --resume may have no --robot
    if "robot" not in values:
        raise ConfigError("no robot given: pass --robot NAME (e.g. --robot franka) or a --pipeline that sets it")
    if "n" not in values:
        raise ConfigError("no sample count given: pass --n N or a --pipeline that sets it")
    for k, v in list(values.items()):
        if k == "rosa_ranges":
            values[k] = _rosa_ranges(list(v) if isinstance(v, tuple) else v, "rosa.ranges")
        elif k not in FIELD_KINDS:
            raise ConfigError(f"unknown setting {k!r}; valid: {', '.join(sorted(FIELD_KINDS))}")
        else:
            values[k] = check(list(v) if isinstance(v, tuple) else v, FIELD_KINDS[k], k.replace("_", "-") if "." not in k else k)
    render = RenderSettings(**{k.split(".")[1]: values.pop(k) for k in list(values) if k.startswith("render.")})
    cfg = GenerateConfig(render=render, **values)
    validate(cfg)
    return cfg


def _resume_or_overwrite(resume: Any, overwrite: Any) -> None:
    if resume is True and overwrite is True:
        raise ConfigError("--resume and --overwrite exclude each other: --resume continues the dataset in --out, --overwrite replaces it")


def validate(cfg: GenerateConfig) -> None:
    """Range checks that need no model. Raises ConfigError."""
    if not isinstance(cfg.n, int) or cfg.n < 1:
        raise ConfigError(f"--n: expected a positive integer, got {cfg.n}")
    if cfg.n > MAX_INDEX + 1:
        raise ConfigError(f"--n: at most {MAX_INDEX + 1} samples fit the 9-digit key, got {cfg.n}")
    if cfg.shard_size < 1 or cfg.shard_size > 100_000:
        raise ConfigError(f"--shard-size: expected 1..100000 samples, got {cfg.shard_size}")
    if cfg.seed < 0 or cfg.seed >= 2**63:
        raise ConfigError(f"--seed: expected an integer in 0..2^63-1, got {cfg.seed}")
    if cfg.image_format not in IMAGE_FORMATS:
        raise ConfigError(f"image.format: expected one of {', '.join(IMAGE_FORMATS)}, got {cfg.image_format!r}")
    if not 1 <= cfg.jpeg_quality <= 100:
        raise ConfigError(f"image.jpeg_quality: expected 1..100, got {cfg.jpeg_quality}")
    if cfg.render.multisample < 0 or cfg.render.multisample > 16:
        raise ConfigError(f"render.multisample: expected 0..16 samples, got {cfg.render.multisample}")
    if not 0.0 <= cfg.render.visual_reduction < 0.99:
        raise ConfigError(f"render.visual_reduction: expected a fraction in [0, 0.99), got {cfg.render.visual_reduction}")
    if cfg.max_draws_per_sample < 1:
        raise ConfigError(f"sampling.max_draws_per_sample: expected >= 1, got {cfg.max_draws_per_sample}")
    if not cfg.cameras or "front" not in cfg.cameras:
        raise ConfigError(f"cameras: expected a list that includes 'front', got {list(cfg.cameras)}")
    if len(set(cfg.cameras)) != len(cfg.cameras):
        raise ConfigError(f"cameras: expected unique names, got {list(cfg.cameras)}")
    _resume_or_overwrite(cfg.resume, cfg.overwrite)
    if cfg.workers is not None and cfg.workers < 1:
        raise ConfigError(f"--workers: expected a positive integer, got {cfg.workers}")


# --------------------------------------------------------------------------- from dataset.json


def robot_from_dict(d: dict[str, Any]) -> RobotSpec:
    """A RobotSpec from dataset.json's `robot_spec` (dataclasses.asdict without source_path)."""
    m = d["model"]
    model = ModelRef(**{**m, "attach": tuple(Attachment(**a) for a in m.get("attach", ()))})
    wrist = d.get("wrist_camera")

    def point(p: dict) -> Point:
        return Point(**{k: _tuples(v) for k, v in p.items()})

    return RobotSpec(**{
        **d, "model": model, "tcp": point(d["tcp"]), "fingertips": tuple(point(p) for p in d["fingertips"]),
        "wrist_camera": WristCamera(**{k: _tuples(v) for k, v in wrist.items()}) if wrist else None, "source_path": "dataset.json",
        **{k: _tuples(d[k]) for k in ("arm_joints", "arm_ranges", "gripper_joints", "gripper_closed", "gripper_open",
                                       "gripper_bodies", "workspace_min", "workspace_max", "rosa_ranges")},
    })


def task_from_dict(d: dict[str, Any]) -> TaskSpec:
    """A TaskSpec from dataset.json's `task_spec`."""
    return TaskSpec(**{
        **d, "cameras": tuple(CameraSpec(**{k: _tuples(v) for k, v in c.items()}) for c in d["cameras"]),
        "props": tuple(Prop(**{k: _tuples(v) for k, v in p.items()}) for p in d["props"]),
        "lights": _tuples(d["lights"]), "source_path": "dataset.json",
        **{k: _tuples(d[k]) for k in ("table_size", "table_center_xy", "table_rgba", "floor_rgba", "robot_pos")},
    })


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v
