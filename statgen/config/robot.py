"""The robot: robots/<name>.toml as a frozen RobotSpec. Every problem of a file is reported at once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from statgen.config.check import INVALID, Problems, Table, ok, rosa_ranges, unique
from statgen.config.files import find_toml, read_toml
from statgen.errors import ConfigError

MODEL_SOURCES = ("menagerie", "dm_control", "file")


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
    # [limits]: per arm joint [rad/s or m/s] and [rad/s^2 or m/s^2], for --mode trajectory; () = the defaults
    # from the joint ranges (statgen.core.trajectory). Left out of dataset.json when () (schema.spec_json).
    joint_velocity_limits: tuple[float, ...] = ()
    joint_acceleration_limits: tuple[float, ...] = ()

    @property
    def has_gripper(self) -> bool:
        """False for an arm without gripper joints. Its samples then have gripper_open_fraction 0.0,
        gripper_open false and gripper_width 0.0, the ROSA gripper token 0, and text that names no gripper.

        A property, not a field: it follows from gripper_joints, so dataset.json and the run
        identity of existing datasets stay as they were.
        """
        return bool(self.gripper_joints)


def load_robot(name_or_path: str) -> RobotSpec:
    """A shipped robot by name, or a robot .toml by path; ConfigError listing every problem of the file."""
    path = find_toml("robots", name_or_path)
    return robot_from_toml(read_toml(path), path)


def robot_from_toml(raw: dict[str, Any], path: Path | str) -> RobotSpec:
    """Validate a robot TOML's content (no I/O). Every problem is collected; one ConfigError names the file."""
    pr = Problems(str(path))
    top = Table(raw, "", pr)
    name = top.get("name", "str")
    description = top.get("description", "str", "")

    m = top.sub("model")
    source = m.get("source", "str")
    if ok(source) and not m.dead and source not in MODEL_SOURCES:
        pr.add(f"model.source: expected one of {', '.join(MODEL_SOURCES)}, got {source!r}")
    attach = []
    for i, a in enumerate(m.get("attach", "list[table]", []) or []):
        at = Table(a, f"model.attach[{i}]", pr)
        prefix = at.get("prefix", "any", "")
        if not isinstance(prefix, str) and ok(prefix):
            pr.add(f"model.attach[{i}].prefix: expected a string, got {prefix!r}")
        attach.append(Attachment(file=at.get("file", "str"), body=at.get("body", "str"), site=at.get("site", "str"), prefix=prefix))
        at.done()
    model = dict(source=source, name=m.get("name", "str"), file=m.get("file", "str"), base_body=m.get("base_body", "str"),
                 license=m.get("license", "str", "unknown"))
    m.done()

    tcp = _point(top.sub("tcp"), allow_site=True)

    a = top.sub("arm")
    arm_joints = a.get("joints", "list[str]")
    if ok(arm_joints) and not a.dead and not arm_joints:
        pr.add("arm.joints: expected at least one joint name, got []")
    pr.run(unique, arm_joints, "arm.joints", "joint")
    rng = a.sub("ranges", optional=True)
    arm_ranges = []
    if rng is not None:
        for j in list(rng.data):
            if ok(arm_joints) and j not in arm_joints:
                rng.used.add(j)
                pr.add(f"arm.ranges.{j}: not an arm joint; valid: {', '.join(arm_joints)}")
                continue
            arm_ranges.append((j, rng.get(j, "range")))
        rng.done()
    a.done()

    g_joints, closed, opened, bodies, fingertips = _gripper(top.sub("gripper", optional=True), arm_joints, pr)

    w = top.sub("workspace")
    wmin, wmax = w.get("min", "vec3"), w.get("max", "vec3")
    if ok(wmin, wmax) and not w.dead and not all(lo < hi for lo, hi in zip(wmin, wmax)):
        pr.add(f"workspace: expected min < max on every axis, got min={wmin} max={wmax}")
    w.done()

    r = top.sub("rosa")
    ranges_raw = r.get("ranges", "any")
    rosa = pr.run(rosa_ranges, ranges_raw, "rosa.ranges") if ok(ranges_raw) and not r.dead else INVALID
    r.done()

    lim = top.sub("limits", optional=True)
    vel, acc = (), ()
    if lim is not None:
        vel, acc = lim.get("velocity", "list[float]", ()), lim.get("acceleration", "list[float]", ())
        for key, v in (("velocity", vel), ("acceleration", acc)):
            if ok(v, arm_joints) and v and (len(v) != len(arm_joints) or not all(x > 0 for x in v)):
                pr.add(f"limits.{key}: expected {len(arm_joints)} positive values (one per arm joint), got {list(v)}")
        lim.done()

    wc = top.sub("wrist_camera", optional=True)
    wrist = None
    if wc is not None:
        wrist = WristCamera(body=wc.get("body", "str"), pos=wc.get("pos", "vec3"), target=wc.get("target", "vec3"), up=wc.get("up", "vec3", (1.0, 0.0, 0.0)))
        wc.done()
    top.done()
    pr.raise_if_any()
    return RobotSpec(
        name=name, description=description, model=ModelRef(**model, attach=tuple(attach)), tcp=tcp, arm_joints=arm_joints,
        arm_ranges=tuple(arm_ranges), gripper_joints=g_joints, gripper_closed=closed, gripper_open=opened, gripper_bodies=bodies,
        fingertips=fingertips, workspace_min=wmin, workspace_max=wmax, rosa_ranges=rosa, wrist_camera=wrist, source_path=str(path),
        joint_velocity_limits=tuple(vel) if ok(vel) else (), joint_acceleration_limits=tuple(acc) if ok(acc) else (),
    )


def _point(t: Table, *, allow_site: bool = False) -> Point:
    if allow_site and t.has("site"):
        p = Point(body="", pos=(0.0, 0.0, 0.0), site=t.get("site", "str"))
    else:
        p = Point(body=t.get("body", "str"), pos=t.get("pos", "vec3", (0.0, 0.0, 0.0)))
    t.done()
    return p


def _gripper(g: Table | None, arm_joints: Any, pr: Problems):
    """[gripper] -> (joints, closed, open, bodies, fingertips).

    An arm without a gripper leaves [gripper] out or sets `joints = []`. Then closed and
    open must be empty and fingertips absent (there is no width to measure: it is 0.0);
    bodies stay allowed (a fixed tool: its geoms may touch each other and do not hide the TCP).
    """
    if g is None:
        return (), (), (), (), ()
    g_joints = g.get("joints", "list[str]")
    if ok(g_joints) and not g_joints:
        closed, opened = g.get("closed", "list[float]", ()), g.get("open", "list[float]", ())
        if ok(closed, opened) and (closed or opened):
            pr.add(f"gripper: expected closed = [] and open = [] for a robot without gripper joints, got {list(closed)} and {list(opened)}")
        bodies = g.get("bodies", "list[str]", ())
        pr.run(unique, bodies, "gripper.bodies", "body")
        if g.has("fingertips"):
            g.used.add("fingertips")
            tips = g.data["fingertips"]
            pr.add(f"gripper.fingertips: expected none for a robot without gripper joints (its gripper_width is 0.0), "
                   f"got {len(tips) if isinstance(tips, list) else 1} point(s); remove fingertips, or list the finger joints in gripper.joints")
        g.done()
        return (), (), (), bodies, ()
    closed = g.get("closed", "list[float]")
    opened = g.get("open", "list[float]")
    if ok(g_joints, closed, opened):
        if not (len(g_joints) == len(closed) == len(opened)):
            pr.add(f"gripper: expected one closed and one open value per joint ({len(g_joints)}), got {len(closed)} and {len(opened)}")
        elif any(c == o for c, o in zip(closed, opened)):
            pr.add(f"gripper: closed and open must differ for every joint, got {closed} and {opened}")
    pr.run(unique, g_joints, "gripper.joints", "joint")
    if ok(g_joints, arm_joints):
        both = [j for j in g_joints if j in arm_joints]
        if both:
            pr.add(f"joint {both[0]!r} is in both arm.joints and gripper.joints; expected each joint in one list only")
    bodies = g.get("bodies", "list[str]")
    pr.run(unique, bodies, "gripper.bodies", "body")
    tips = g.get("fingertips", "list[table]")
    fingertips: Any = INVALID
    if ok(tips):
        if len(tips) != 2:
            pr.add(f"gripper.fingertips: expected two points, got {tips!r}")
        else:
            fingertips = (_point(Table(tips[0], "gripper.fingertips[0]", pr)), _point(Table(tips[1], "gripper.fingertips[1]", pr)))
    g.done()
    return g_joints, closed, opened, bodies, fingertips


def robot_from_dict(d: dict[str, Any]) -> RobotSpec:
    """A RobotSpec from dataset.json's `robot_spec` (dataclasses.asdict without source_path).

    ConfigError when the dict does not have a RobotSpec's shape."""
    try:
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
            **{k: _tuples(d[k]) for k in ("joint_velocity_limits", "joint_acceleration_limits") if k in d},
        })
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ConfigError(f"robot_spec: malformed ({type(e).__name__}: {e})") from None


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v
