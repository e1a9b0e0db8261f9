"""The robot: robots/<name>.toml as a frozen RobotSpec. Every problem of a file is reported at once.

The format (README, "Robots, scenes and recipes", and robots/*.toml):

- `[model]`: where the model is (`source`, `name`, `file`: an MJCF, or a `.urdf` with an
  optional `package_root` for `package://` paths), its `base_body`, `license` and
  `provenance`; `attach` (MJCFs of the same folder attached at a site, the Jaco's hand);
  `collide_links` (let every collision geom of the robot collide with every other);
  `[model.state_frame]` (the frame the state is reported in, relative to the base body);
  `[model.gripper]` (a gripper model from another folder, attached at a body or a site of
  the arm with a pos/quat offset and a name prefix).
- `[gripper]`: the driver joints (what state.qpos records), their closed and open values,
  the gripper's bodies and two fingertip points; `[gripper.coupling]`: joints held at fixed
  values and joints solved from the model's equality constraints (`sim.grippers.GripperSolver`).
- `[render]`: the robot's own visual-mesh decimation defaults (a pipeline's
  `render.visual_reduction` / `render.visual_max_error` override them).
- `[framing]`: how the task's world cameras are framed for this robot's size.

A RobotSpec is recorded in dataset.json (`robot_spec`, `RobotSpec.to_json`); the fields
added after the first datasets are left out there while they hold their defaults, so a
robot that uses none of them (the Panda) is recorded exactly as before.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from statgen.config.check import INVALID, Problems, Table, ok, rosa_ranges, unique
from statgen.config.files import find_toml, read_toml
from statgen.errors import ConfigError

# menagerie: Menagerie's own model (a Menagerie-layout folder, else the mujoco-menagerie cache or download);
# assets: a model in a Menagerie-layout folder (--assets, STATGEN_ASSETS, MENAGERIE_ROOT), never downloaded
# (for models that are not Menagerie's, whose folder names Menagerie may use for another model);
# dm_control: a folder inside the dm_control package; file: a folder relative to the robot TOML.
MODEL_SOURCES = ("menagerie", "assets", "dm_control", "file")
MODEL_SUFFIXES = (".xml", ".urdf")
MAX_VISUAL_REDUCTION = 0.99
FRAMING_SCALE_RANGE = (0.1, 4.0)


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
class Pose:
    """A fixed pose relative to a parent frame: `pos` [m] and `quat` (w, x, y, z, normalised)."""

    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)

    @property
    def is_identity(self) -> bool:
        return self.pos == (0.0, 0.0, 0.0) and self.quat == (1.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class GripperModel:
    """A gripper model from another folder, attached to the arm (`compose.attach_gripper`).

    Its body `body` (and subtree) is mounted at the arm's `parent_body` or `parent_site`
    (exactly one), moved by `mount` (the mount frame's pose in that body's or site's frame);
    every name it brings gets `prefix`.
    """

    source: str  # as ModelRef.source
    name: str
    file: str
    body: str
    prefix: str
    parent_body: str | None = None
    parent_site: str | None = None
    mount: Pose = Pose()
    license: str = "unknown"
    provenance: str = ""


@dataclass(frozen=True)
class ModelRef:
    source: str  # menagerie | assets | dm_control | file
    name: str  # menagerie folder name, dm_control-relative folder, or a folder path
    file: str  # the MJCF (or URDF) inside that folder
    base_body: str
    attach: tuple[Attachment, ...] = ()
    license: str = "unknown"
    provenance: str = ""  # where the model came from, what was changed (free text)
    package_root: str | None = None  # URDF: the folder package://NAME/... resolves under (relative to the model folder)
    gripper: GripperModel | None = None
    state_frame: Pose = Pose()  # the frame the state is reported in, relative to base_body
    collide_links: bool = False  # every collision geom of the robot collides with every other (contype = conaffinity = 1)


@dataclass(frozen=True)
class Coupling:
    """Gripper joints besides the drivers: `held` at fixed values [rad or m], `coupled` solved from
    the model's equality constraints at each opening (`sim.grippers.GripperSolver`)."""

    held: tuple[tuple[str, float], ...] = ()
    coupled: tuple[str, ...] = ()


@dataclass(frozen=True)
class RobotRender:
    """The robot's visual-mesh decimation defaults (a pipeline's render settings override them).

    visual_reduction: the fraction of visual-mesh triangles removed (None: the pipeline default, 0.85);
    max_error: meshoptimizer's bound on the surface error, as a fraction of each mesh's extent
    (None: statgen's first, unbounded quadric simplifier).
    """

    visual_reduction: float | None = None
    max_error: float | None = None


@dataclass(frozen=True)
class Framing:
    """How the task's world-fixed cameras are framed for this robot.

    scale: each camera's position and target move toward the robot's mount point by this
    factor (1: the task's own framing, made for a Panda-size arm; 0.5: half the distance,
    for an arm of half the reach). The field of view is kept, so the arm fills the image
    about as much as the Panda does.
    """

    scale: float = 1.0


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
    coupling: Coupling = Coupling()
    render: RobotRender = RobotRender()
    framing: Framing = Framing()
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

    def to_json(self) -> dict[str, Any]:
        """The spec as dataset.json and the run identity record it: its fields, JSON-ready, without
        source_path and the models' provenance texts, and without the later fields (OPTIONAL_FIELDS)
        while they hold their defaults."""
        d = json.loads(json.dumps(dataclasses.asdict(self), sort_keys=True))
        d.pop("source_path", None)
        d["model"].pop("provenance", None)  # documentation, like source_path: not what the data is
        if d["model"].get("gripper"):
            d["model"]["gripper"].pop("provenance", None)
        for key, default in OPTIONAL_FIELDS.items():
            if d.get(key) == default:
                d.pop(key)
        for key, default in OPTIONAL_MODEL_FIELDS.items():
            if d["model"].get(key) == default:
                d["model"].pop(key)
        return d


def _json_default(v: Any) -> Any:
    return json.loads(json.dumps(dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v))


# Fields added after the first datasets were made: left out of to_json() while at these defaults.
OPTIONAL_FIELDS = {"coupling": _json_default(Coupling()), "render": _json_default(RobotRender()), "framing": _json_default(Framing()),
                   "joint_velocity_limits": [], "joint_acceleration_limits": []}  # [limits]: a robot without them records as before
OPTIONAL_MODEL_FIELDS = {"package_root": None, "gripper": None, "state_frame": _json_default(Pose()), "collide_links": False}


DEFAULT_VISUAL_REDUCTION = 0.85  # a robot whose TOML gives no [render] visual_reduction


def resolve_render(render: Any, robot: RobotSpec) -> Any:
    """The render settings a run uses and records: each decimation setting the pipeline or flags left
    unset (None) takes the robot's own ([render] in its TOML), else statgen's default (0.85, no error
    bound). A visual_max_error of 0 from a pipeline means no bound. `render` is a RenderSettings."""
    reduction = render.visual_reduction
    if reduction is None:
        reduction = robot.render.visual_reduction if robot.render.visual_reduction is not None else DEFAULT_VISUAL_REDUCTION
    max_error = render.visual_max_error if render.visual_max_error is not None else robot.render.max_error
    return dataclasses.replace(render, visual_reduction=reduction, visual_max_error=max_error)


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
    source = _source(m, "model", pr)
    attach = []
    for i, a in enumerate(m.get("attach", "list[table]", []) or []):
        at = Table(a, f"model.attach[{i}]", pr)
        prefix = at.get("prefix", "any", "")
        if not isinstance(prefix, str) and ok(prefix):
            pr.add(f"model.attach[{i}].prefix: expected a string, got {prefix!r}")
        attach.append(Attachment(file=at.get("file", "str"), body=at.get("body", "str"), site=at.get("site", "str"), prefix=prefix))
        at.done()
    file = m.get("file", "str")
    if ok(file) and not m.dead and not file.lower().endswith(MODEL_SUFFIXES):
        pr.add(f"model.file: expected an MJCF (.xml) or URDF (.urdf) file, got {file!r}")
    package_root = m.get("package_root", "str", None)
    if ok(file, package_root) and package_root is not None and not m.dead and not file.lower().endswith(".urdf"):
        pr.add(f"model.package_root: only a URDF reads package:// paths, got it with {file!r}")
    sf = m.sub("state_frame", optional=True)
    state_frame = _pose(sf, "model.state_frame", pr) if sf is not None else Pose()
    gm = m.sub("gripper", optional=True)
    gripper_model = _gripper_model(gm, pr) if gm is not None else None
    if gripper_model is not None and ok(gripper_model) and attach:
        pr.add("model: expected either model.attach (same folder) or [model.gripper] (another folder), got both")
    model = dict(source=source, name=m.get("name", "str"), file=file, base_body=m.get("base_body", "str"),
                 license=m.get("license", "str", "unknown"), provenance=m.get("provenance", "str", ""), package_root=package_root,
                 gripper=gripper_model, state_frame=state_frame, collide_links=m.get("collide_links", "bool", False))
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

    g_joints, closed, opened, bodies, fingertips, coupling = _gripper(top.sub("gripper", optional=True), arm_joints, pr)

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

    rd = top.sub("render", optional=True)
    render = RobotRender()
    if rd is not None:
        reduction, max_error = rd.get("visual_reduction", "float", None), rd.get("max_error", "float", None)
        if ok(reduction) and reduction is not None and not 0.0 <= reduction < MAX_VISUAL_REDUCTION:
            pr.add(f"render.visual_reduction: expected a fraction in [0, {MAX_VISUAL_REDUCTION}), got {reduction}")
        if ok(max_error) and max_error is not None and not 0.0 < max_error < 1.0:
            pr.add(f"render.max_error: expected a fraction of the mesh extent in (0, 1), got {max_error}")
        render = RobotRender(visual_reduction=reduction, max_error=max_error)
        rd.done()

    fr = top.sub("framing", optional=True)
    framing = Framing()
    if fr is not None:
        scale = fr.get("scale", "float", 1.0)
        lo, hi = FRAMING_SCALE_RANGE
        if ok(scale) and not lo <= scale <= hi:
            pr.add(f"framing.scale: expected {lo}..{hi} (1 = the task's own framing), got {scale}")
        framing = Framing(scale=scale)
        fr.done()
    top.done()
    pr.raise_if_any()
    return RobotSpec(
        name=name, description=description, model=ModelRef(**model, attach=tuple(attach)), tcp=tcp, arm_joints=arm_joints,
        arm_ranges=tuple(arm_ranges), gripper_joints=g_joints, gripper_closed=closed, gripper_open=opened, gripper_bodies=bodies,
        fingertips=fingertips, workspace_min=wmin, workspace_max=wmax, rosa_ranges=rosa, wrist_camera=wrist, source_path=str(path),
        coupling=coupling, render=render, framing=framing,
        joint_velocity_limits=tuple(vel) if ok(vel) else (), joint_acceleration_limits=tuple(acc) if ok(acc) else (),
    )


def _source(t: Table, where: str, pr: Problems) -> Any:
    source = t.get("source", "str")
    if ok(source) and not t.dead and source not in MODEL_SOURCES:
        pr.add(f"{where}.source: expected one of {', '.join(MODEL_SOURCES)}, got {source!r}")
        return INVALID
    return source


def _pose(t: Table, where: str, pr: Problems) -> Any:
    """pos [m] and quat (w, x, y, z; normalised here) of a table; both optional."""
    pos, quat = t.get("pos", "vec3", (0.0, 0.0, 0.0)), t.get("quat", "vec4", (1.0, 0.0, 0.0, 0.0))
    t.done()
    return _make_pose(pos, quat, where, pr)


def _make_pose(pos: Any, quat: Any, where: str, pr: Problems) -> Any:
    if not ok(pos, quat):
        return INVALID
    n = math.sqrt(sum(x * x for x in quat))
    if not n > 1e-9:
        pr.add(f"{where}.quat: expected a non-zero quaternion [w, x, y, z], got {list(quat)}")
        return INVALID
    q = tuple(x / n for x in quat)
    return Pose(pos=pos, quat=(1.0, 0.0, 0.0, 0.0) if q == (1.0, 0.0, 0.0, 0.0) else q)


def _gripper_model(g: Table, pr: Problems) -> Any:
    """[model.gripper]: a gripper model from another folder and where it is mounted on the arm."""
    source = _source(g, "model.gripper", pr)
    file = g.get("file", "str")
    if ok(file) and not g.dead and not file.lower().endswith(".xml"):
        pr.add(f"model.gripper.file: expected an MJCF (.xml) file, got {file!r}")
    prefix = g.get("prefix", "any", "")
    if ok(prefix) and not isinstance(prefix, str):
        pr.add(f"model.gripper.prefix: expected a string, got {prefix!r}")
        prefix = INVALID
    parent_body, parent_site = g.get("parent_body", "str", None), g.get("parent_site", "str", None)
    if ok(parent_body, parent_site) and not g.dead and (parent_body is None) == (parent_site is None):
        pr.add(f"model.gripper: expected exactly one of parent_body and parent_site, got body={parent_body!r}, site={parent_site!r}")
    pos, quat = g.get("pos", "vec3", (0.0, 0.0, 0.0)), g.get("quat", "vec4", (1.0, 0.0, 0.0, 0.0))
    mount = _make_pose(pos, quat, "model.gripper", pr)
    out = GripperModel(source=source, name=g.get("name", "str"), file=file, body=g.get("body", "str"), prefix=prefix,
                       parent_body=parent_body, parent_site=parent_site, mount=mount,
                       license=g.get("license", "str", "unknown"), provenance=g.get("provenance", "str", ""))
    g.done()
    return out


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
        return (), (), (), (), (), Coupling()
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
        if g.has("coupling"):
            g.used.add("coupling")
            pr.add("gripper.coupling: expected none for a robot without gripper joints, got a table; remove it, or list the driver joints in gripper.joints")
        g.done()
        return (), (), (), bodies, (), Coupling()
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
    c = g.sub("coupling", optional=True)
    coupling = Coupling()
    if c is not None:
        held_t = c.sub("held", optional=True)
        held = []
        if held_t is not None:
            for j in list(held_t.data):
                held.append((j, held_t.get(j, "float")))
            held_t.done()
        coupled = c.get("coupled", "list[str]", ())
        c.done()
        pr.run(unique, coupled, "gripper.coupling.coupled", "joint")
        if ok(coupled, g_joints, arm_joints) and not c.dead:
            listed = {"arm.joints": set(arm_joints or ()), "gripper.joints": set(g_joints or ())}
            for j in [*(h for h, _ in held), *coupled]:
                for where, names in listed.items():
                    if j in names:
                        pr.add(f"gripper.coupling: joint {j!r} is also in {where}; expected each joint in one list only")
            both = {h for h, _ in held} & set(coupled)
            if both:
                pr.add(f"gripper.coupling: joint {sorted(both)[0]!r} is both held and coupled; expected one of the two")
        if ok(coupled) and all(ok(v) for _, v in held):
            coupling = Coupling(held=tuple(held), coupled=tuple(coupled))
    g.done()
    return g_joints, closed, opened, bodies, fingertips, coupling


def robot_from_dict(d: dict[str, Any]) -> RobotSpec:
    """A RobotSpec from dataset.json's `robot_spec` (RobotSpec.to_json: fields added later may be absent).

    ConfigError when the dict does not have a RobotSpec's shape."""
    try:
        m = dict(d["model"])
        g = m.get("gripper")
        gripper = None if g is None else GripperModel(**{**g, "mount": _pose_from(g.get("mount"))})
        model = ModelRef(**{**m, "attach": tuple(Attachment(**a) for a in m.get("attach", ())), "gripper": gripper,
                            "state_frame": _pose_from(m.get("state_frame"))})
        wrist = d.get("wrist_camera")
        c = d.get("coupling") or {}

        def point(p: dict) -> Point:
            return Point(**{k: _tuples(v) for k, v in p.items()})

        return RobotSpec(**{
            **d, "model": model, "tcp": point(d["tcp"]), "fingertips": tuple(point(p) for p in d["fingertips"]),
            "wrist_camera": WristCamera(**{k: _tuples(v) for k, v in wrist.items()}) if wrist else None, "source_path": "dataset.json",
            **{k: _tuples(d[k]) for k in ("arm_joints", "arm_ranges", "gripper_joints", "gripper_closed", "gripper_open",
                                           "gripper_bodies", "workspace_min", "workspace_max", "rosa_ranges")},
            "coupling": Coupling(held=_tuples(c.get("held", [])), coupled=_tuples(c.get("coupled", []))),
            "render": RobotRender(**d.get("render", {})), "framing": Framing(**d.get("framing", {})),
            **{k: _tuples(d[k]) for k in ("joint_velocity_limits", "joint_acceleration_limits") if k in d},
        })
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ConfigError(f"robot_spec: malformed ({type(e).__name__}: {e})") from None


def _pose_from(p: dict | None) -> Pose:
    return Pose() if p is None else Pose(pos=_tuples(p["pos"]), quat=_tuples(p["quat"]))


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v
