"""The data contract, declared once: the sample, dataset.json and the Parquet index.

Every writer and reader goes through these declarations: the producer builds `Sample`s and
writes `Sample.to_json()`; the index is `index_schema()` (an explicit Arrow schema) filled with
`index_row()`; dataset.json is a `DatasetInfo`. Readers (verify, preview, loading) parse with
`Sample.from_json` and `DatasetInfo.from_json`, which check the types, shapes and versions
against the declarations and report every problem at once (SchemaError, one line).

Versions. A sample names its schema ("statgen.sample/1"). `SAMPLE_SCHEMAS` lists every version
this code reads, and `_SAMPLE_VERSIONS` what each adds or requires beyond the fields every
version has. A new version (a `scene` block, episode fields) adds fields with a default of None
here, lists them under its version, and bumps SAMPLE_SCHEMA; older datasets keep reading.

`to_json()` builds plain dicts (what orjson writes, with sorted keys) without
dataclasses.asdict: it runs once per sample on the hot path. For the same reason the sample's
classes are slotted but not frozen (a frozen dataclass's __init__ sets each field through
object.__setattr__, about four times the cost); treat them as values, never mutate one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

from statgen.config import robot_from_dict, task_from_dict
from statgen.config.check import problems_message
from statgen.config.settings import config_from_identity
from statgen.errors import ConfigError, VerifyError

SAMPLE_SCHEMA = "statgen.sample/2"  # what this code writes in independent mode
TRAJECTORY_SAMPLE_SCHEMA = "statgen.sample/3"  # and in trajectory mode (schema 2 + `episode` and `action`)
SAMPLE_SCHEMAS = ("statgen.sample/1", "statgen.sample/2", "statgen.sample/3")  # what it reads
DATASET_SCHEMA = "statgen.dataset/2"
DATASET_SCHEMAS = ("statgen.dataset/1", "statgen.dataset/2")
REJECT_REASONS = ("collision", "workspace", "out_of_view", "not_visible")
LEVELS = ("none", "appearance", "full")

# Per sample version (docs/FORMAT.md): the sample fields it has beyond those every version has
# (required, not null), and the camera fields that must not be null in it (schema 2 stores
# ee_pixel whatever the sign of z). A field another version adds must be absent.
_SAMPLE_VERSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "statgen.sample/1": {"fields": (), "not_null": ()},
    "statgen.sample/2": {"fields": ("scene",), "not_null": ("ee_pixel",)},
    "statgen.sample/3": {"fields": ("scene", "episode", "action"), "not_null": ("ee_pixel",)},
}


def sample_schema_of(config: Any) -> str:
    """The sample schema version a run writes: 3 for trajectories, else 2 (a GenerateConfig)."""
    return TRAJECTORY_SAMPLE_SCHEMA if config.trajectory.mode == "trajectory" else SAMPLE_SCHEMA


class SchemaError(VerifyError):
    """Data that does not match its declaration (a damaged or foreign file). Exit code 1.
    `problems` lists every problem; the message is one line."""

    def __init__(self, problems: list[str], what: str = ""):
        super().__init__(problems_message(problems, what))
        self.problems = problems


def _shape(*dims: int) -> dict[str, Any]:
    """Field metadata: a list of this shape ((3,) a 3-vector, (4, 4) a matrix)."""
    return {"shape": dims}


def _min(lo: int) -> dict[str, Any]:
    """Field metadata: an integer >= lo."""
    return {"min": lo}


# --------------------------------------------------------------------------- the scene record (schema 2)
#
# Every parameter that changes a sample's pixels (statgen.sim.looks writes exactly these into the
# model): a sample renders again from its record alone. The same keys and types in every sample of
# a dataset (fixed-length lists with `active` flags). Frames and units: docs/FORMAT.md.
# Readers get the record as parsed JSON (a dict); these classes declare and check its shape.


@dataclass(slots=True)
class TextureRecipe:
    pattern: str  # statgen.core.textures.PATTERNS, "image" (a user's file) or a builtin
    colors: list[list[float]] = field(metadata=_shape(2, 3))  # RGB in [0, 1]
    frequency: int  # cycles across the tile
    angle: int  # which integer wave vector (0 x, 1 y, 2 and 3 the diagonals)
    seed: int  # the pattern's own noise
    path: str  # an image: relative to randomize.texture_dir; "" otherwise
    sha256: str  # an image: of its file; "" otherwise


@dataclass(slots=True)
class TextureSlot:
    recipe: TextureRecipe
    repeat: float  # tiles per metre (uniform texture mapping)


@dataclass(slots=True)
class TableRecord:
    size: list[float] = field(metadata=_shape(3))  # full extents [m]
    height: float  # world z of the top [m]


@dataclass(slots=True)
class BaseRecord:
    offset: list[float] = field(metadata=_shape(2))  # the robot base moved on the table, world x, y [m]
    yaw_deg: float  # and turned about world z through its origin [deg]


@dataclass(slots=True)
class WallRecord:
    name: str  # back, left, right
    pos: list[float] = field(metadata=_shape(3))  # the wall box's centre, world [m]
    quat_wxyz: list[float] = field(metadata=_shape(4))  # its orientation, world (thin axis = local z)


@dataclass(slots=True)
class DistractorRecord:
    active: bool
    shape: str  # box, cylinder, sphere, capsule, ellipsoid, mesh; "" when inactive
    mesh: str  # a mesh: its path relative to randomize.mesh_dir
    slot: int  # the pool slot it uses (-1 when inactive)
    size: list[float] = field(metadata=_shape(3))  # MuJoCo geom size [m]
    pos: list[float] = field(metadata=_shape(3))  # its centre, world [m]
    quat_wxyz: list[float] = field(metadata=_shape(4))  # world


@dataclass(slots=True)
class LayoutRecord:
    table: TableRecord
    base: BaseRecord
    walls: list[WallRecord]
    distractors: list[DistractorRecord]
    textures: list[TextureSlot]  # the shard's texture slots; a surface's material indexes them, then the builtins


@dataclass(slots=True)
class SurfaceRecord:
    name: str  # floor, table_top, table_legs, walls, prop<i>, distractor<j>
    material: int  # -1: flat colour; else a texture slot (0..P-1) or a builtin (P, P+1)
    rgba: list[float] = field(metadata=_shape(4))  # the colour; with a texture, its tint


@dataclass(slots=True)
class LightRecord:
    active: bool
    directional: bool  # else a spot light
    pos: list[float] = field(metadata=_shape(3))  # world [m]
    dir: list[float] = field(metadata=_shape(3))  # world, unit
    diffuse: list[float] = field(metadata=_shape(3))
    ambient: list[float] = field(metadata=_shape(3))
    specular: list[float] = field(metadata=_shape(3))


@dataclass(slots=True)
class HeadlightRecord:
    active: bool
    ambient: list[float] = field(metadata=_shape(3))
    diffuse: list[float] = field(metadata=_shape(3))
    specular: list[float] = field(metadata=_shape(3))


@dataclass(slots=True)
class CameraRecord:
    frame: str  # the body it rides on: "world", the labels' base frame (a calibrated camera: the robot's state-frame body), the hand (wrist)
    pos: list[float] = field(metadata=_shape(3))  # MuJoCo cam_pos in that body's frame [m]
    quat_wxyz: list[float] = field(metadata=_shape(4))  # MuJoCo cam_quat (looks along -z, y up) in that frame
    fovy_deg: float  # vertical field of view [deg]
    K: list[list[float]] = field(metadata=_shape(3, 3))  # OpenCV intrinsics [px], as rendered
    shell: bool  # placed on the camera's shell (else jittered about its task pose, or as built)


@dataclass(slots=True)
class SceneRecord:
    level: str  # none, appearance, full
    layout_id: int = field(metadata=_min(0))  # the shard: one layout per shard
    layout: LayoutRecord
    surfaces: list[SurfaceRecord]
    lights: list[LightRecord]
    headlight: HeadlightRecord
    robot: list[list[float]]  # RGBA per robot material (randomize.robot_colors), else []
    cameras: dict[str, CameraRecord]


# --------------------------------------------------------------------------- the sample


@dataclass(slots=True)
class State:
    """The robot's state in its base frame (DESIGN.md, "Sample")."""

    frame: str
    joint_names: list[str]
    qpos: list[float]  # arm joints, then gripper joints [rad or m]
    ee_pos: list[float] = field(metadata=_shape(3))  # [m]
    ee_quat_wxyz: list[float] = field(metadata=_shape(4))
    ee_euler_xyz: list[float] = field(metadata=_shape(3))  # roll, pitch, yaw [rad]
    ee_rot6d: list[float] = field(metadata=_shape(6))
    gripper_width: float  # [m]
    gripper_open_fraction: float
    gripper_open: bool

    def to_json(self) -> dict[str, Any]:
        return {"frame": self.frame, "joint_names": self.joint_names, "qpos": self.qpos, "ee_pos": self.ee_pos,
                "ee_quat_wxyz": self.ee_quat_wxyz, "ee_euler_xyz": self.ee_euler_xyz, "ee_rot6d": self.ee_rot6d,
                "gripper_width": self.gripper_width, "gripper_open_fraction": self.gripper_open_fraction, "gripper_open": self.gripper_open}


@dataclass(slots=True)
class CameraLabel:
    """One camera's labels: its size, OpenCV K and T_world_cam, and where the TCP is in its image."""

    width: int
    height: int
    K: list[list[float]] = field(metadata=_shape(3, 3))
    T_world_cam: list[list[float]] = field(metadata=_shape(4, 4))
    ee_pixel: list[float] | None = field(metadata=_shape(2))  # [px]; schema 1: None behind the camera
    ee_depth: float  # z in the camera frame [m]
    ee_in_view: bool
    ee_visible: bool

    def to_json(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "K": self.K, "T_world_cam": self.T_world_cam, "ee_pixel": self.ee_pixel,
                "ee_depth": self.ee_depth, "ee_in_view": self.ee_in_view, "ee_visible": self.ee_visible}


@dataclass(slots=True)
class QA:
    question: str
    answer: str

    def to_json(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer}


@dataclass(slots=True)
class Episode:
    """Schema 3: where a sample sits in its episode. id: global and dense (index // steps); step: 0..steps-1."""

    id: int = field(metadata=_min(0))
    step: int = field(metadata=_min(0))
    steps: int = field(metadata=_min(1))
    hz: float  # control rate [Hz]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "step": self.step, "steps": self.steps, "hz": self.hz}


@dataclass(slots=True)
class ActionDelta:
    """The action minus the state: pos [m] (base frame), rotvec [rad] (R_state^T R_action as a rotation vector,
    in the state's end-effector frame), gripper (opening fraction change)."""

    pos: list[float] = field(metadata=_shape(3))
    rotvec: list[float] = field(metadata=_shape(3))
    gripper: float

    def to_json(self) -> dict[str, Any]:
        return {"pos": self.pos, "rotvec": self.rotvec, "gripper": self.gripper}


@dataclass(slots=True)
class Action:
    """Schema 3: the next step's target in the state's format (base frame); the last step's repeats its state."""

    ee_pos: list[float] = field(metadata=_shape(3))  # [m]
    ee_quat_wxyz: list[float] = field(metadata=_shape(4))
    ee_euler_xyz: list[float] = field(metadata=_shape(3))  # [rad]
    gripper_open_fraction: float
    gripper_open: bool
    tokens: str  # its ROSA tokens, as text.rosa.answer
    delta: ActionDelta

    def to_json(self) -> dict[str, Any]:
        return {"ee_pos": self.ee_pos, "ee_quat_wxyz": self.ee_quat_wxyz, "ee_euler_xyz": self.ee_euler_xyz,
                "gripper_open_fraction": self.gripper_open_fraction, "gripper_open": self.gripper_open, "tokens": self.tokens,
                "delta": self.delta.to_json()}


@dataclass(slots=True)
class Sample:
    """One sample's `json` member."""

    schema: str
    index: int = field(metadata=_min(0))
    robot: str
    task: str
    state: State
    T_world_base: list[list[float]] = field(metadata=_shape(4, 4))
    cameras: dict[str, CameraLabel]
    text: dict[str, QA]  # "rosa", "natural"
    scene: dict[str, Any] | None = field(default=None, metadata={"declared": SceneRecord})  # schema 2: the look, as parsed JSON
    episode: Episode | None = None  # schema 3
    action: Action | None = None  # schema 3

    def to_json(self) -> dict[str, Any]:
        out = {"schema": self.schema, "index": self.index, "robot": self.robot, "task": self.task, "state": self.state.to_json(),
               "T_world_base": self.T_world_base, "cameras": {k: c.to_json() for k, c in self.cameras.items()},
               "text": {k: t.to_json() for k, t in self.text.items()}}
        if self.scene is not None:
            out["scene"] = self.scene
        if self.episode is not None:
            out["episode"] = self.episode.to_json()
        if self.action is not None:
            out["action"] = self.action.to_json()
        return out

    @classmethod
    def from_json(cls, d: Any) -> Sample:
        """A sample's parsed JSON, checked against the declaration of its schema version. SchemaError lists every problem."""
        problems: list[str] = []
        version = d.get("schema") if isinstance(d, dict) else None
        if isinstance(d, dict) and version not in _SAMPLE_VERSIONS:
            problems.append(f"schema: expected one of {', '.join(SAMPLE_SCHEMAS)}, got {version!r}")
            raise SchemaError(problems)
        sample = _decode(cls, d, "", problems)
        if not problems:
            spec = _SAMPLE_VERSIONS[version]
            for other in _SAMPLE_VERSIONS.values():
                for name in other["fields"]:
                    if name in spec["fields"] and d.get(name) is None:
                        problems.append(f"{name}: expected a value in {version}, got {'null' if name in d else 'nothing'}")
                    elif name not in spec["fields"] and name in d:
                        problems.append(f"{name}: unknown key in {version}")
            for name in spec["not_null"]:
                for cam, c in sample.cameras.items():
                    if getattr(c, name) is None:
                        problems.append(f"cameras.{cam}.{name}: expected a value in {version}, got null")
            if sample.scene is not None and sample.scene.get("level") not in LEVELS:
                problems.append(f"scene.level: expected one of {', '.join(LEVELS)}, got {sample.scene.get('level')!r}")
        if problems:
            raise SchemaError(problems)
        return sample


@dataclass(slots=True)
class SampleFields:
    """The part of a sample that a reader which needs only some fields takes (the exporters): index,
    state, cameras and text, each checked against its declaration above, plus `episode` and `action`
    when the sample has them (trajectory samples). Every other field, including fields added by a
    later schema version, passes through unread, so such readers keep working as the schema grows.
    `raw` is the whole parsed JSON."""

    schema: str
    index: int
    state: State
    cameras: dict[str, CameraLabel]
    text: dict[str, QA]
    episode: dict[str, Any] | None  # {"id", "step", "steps", "hz"} of a trajectory sample
    action: Any
    raw: dict[str, Any]

    @classmethod
    def from_json(cls, d: Any) -> SampleFields:
        problems: list[str] = []
        if not isinstance(d, dict):
            raise SchemaError([f"expected an object, got {_got(d)}"])
        version = d.get("schema")
        if not (isinstance(version, str) and version.startswith("statgen.sample/")):
            raise SchemaError([f"schema: expected a statgen.sample/N version, got {version!r}"])
        hints = _hints(Sample)
        got: dict[str, Any] = {}
        for name in ("index", "state", "cameras", "text"):
            if name not in d:
                problems.append(f"{name}: missing")
                continue
            f = next(f for f in dataclasses.fields(Sample) if f.name == name)
            got[name] = _decode(hints[name], d[name], name, problems, f.metadata)
        episode = d.get("episode")
        if episode is not None:
            if not isinstance(episode, dict):
                problems.append(f"episode: expected an object, got {_got(episode)}")
            else:
                for key, kind in (("step", int), ("steps", int), ("hz", float)):
                    _decode(kind, episode.get(key), f"episode.{key}", problems)
                if "id" not in episode:
                    problems.append("episode.id: missing")
        if problems:
            raise SchemaError(problems)
        return cls(schema=version, episode=episode, action=d.get("action"), raw=d, **got)


# --------------------------------------------------------------------------- dataset.json


@dataclass
class Acceptance:
    """Draws of a shard or a dataset: how many were drawn, accepted, and rejected for which reason."""

    drawn: int = field(default=0, metadata=_min(0))
    accepted: int = field(default=0, metadata=_min(0))
    rejected: dict[str, int] = field(default_factory=lambda: {r: 0 for r in REJECT_REASONS})
    new_views: int = field(default=0, metadata=_min(0))  # looks drawn again because their cameras left nothing feasible (dataset/2)

    def add(self, other: Acceptance) -> None:
        self.drawn += other.drawn
        self.accepted += other.accepted
        for k, v in other.rejected.items():
            self.rejected[k] = self.rejected.get(k, 0) + v
        self.new_views += other.new_views

    def as_dict(self) -> dict[str, Any]:
        return {"drawn": self.drawn, "accepted": self.accepted, "rejected": dict(sorted(self.rejected.items())), "new_views": self.new_views}

    to_json = as_dict


@dataclass(frozen=True)
class ShardInfo:
    """One finished shard, as shards.jsonl and dataset.json record it."""

    name: str
    first_index: int = field(metadata=_min(0))
    samples: int = field(metadata=_min(0))
    bytes: int = field(metadata=_min(0))
    sha256: str

    def as_dict(self) -> dict:
        return {"name": self.name, "first_index": self.first_index, "samples": self.samples, "bytes": self.bytes, "sha256": self.sha256}

    to_json = as_dict


@dataclass(frozen=True)
class RosaInfo:
    """How to decode the ROSA tokens: per dimension [min, max], and the number of bins."""

    dims: list[str]
    ranges: list[list[float]]
    bins: int = field(metadata=_min(2))

    def to_json(self) -> dict[str, Any]:
        return {"dims": self.dims, "ranges": self.ranges, "bins": self.bins}


@dataclass(frozen=True)
class AssetInfo:
    robot: str
    source: str
    license: str

    def to_json(self) -> dict[str, Any]:
        return {"robot": self.robot, "source": self.source, "license": self.license}


@dataclass(frozen=True)
class Resources:
    driver_peak_rss_mb: float
    worker_peak_rss_mb: float

    def to_json(self) -> dict[str, Any]:
        return {"driver_peak_rss_mb": self.driver_peak_rss_mb, "worker_peak_rss_mb": self.worker_peak_rss_mb}


@dataclass(frozen=True)
class DatasetInfo:
    """dataset.json. The keys and their names are the contract (DESIGN.md, "Dataset"); `config` is the
    run identity's settings (statgen.config.settings), `sample_schema` its "schema" key: the version of
    the samples. robot_spec and task_spec are the robot and scene as they were when the data was made."""

    schema: str
    statgen_version: str
    robot: str
    task: str
    seed: int = field(metadata=_min(0))
    samples: int = field(metadata=_min(0))
    config: Any  # GenerateConfig: the identity settings (robot and task by name)
    sample_schema: str
    robot_spec: Any  # RobotSpec
    task_spec: Any  # TaskSpec
    model_sha256: str
    rosa: RosaInfo
    acceptance: Acceptance
    versions: dict[str, str]
    assets: list[AssetInfo]
    shards: list[ShardInfo]
    samples_per_second: float | None
    resources: Resources
    splits: dict[str, list[str]] | None = None  # split -> its shards' names (statgen.core.splits); None: made before splits (all train)

    def split_shards(self) -> dict[str, list[ShardInfo]]:
        """Each split's shards, in name order: {"train": [...], "validation": [...]}. A dataset.json from before
        splits has every shard in train. SchemaError when the splits do not partition the shards."""
        by_name = {s.name: s for s in self.shards}
        if self.splits is None:
            return {"train": sorted(self.shards, key=lambda s: s.name), "validation": []}
        problems, seen = [], set()
        for split, names in self.splits.items():
            for name in names:
                if name not in by_name:
                    problems.append(f"splits.{split}: {name} is not a shard of this dataset")
                elif name in seen:
                    problems.append(f"splits.{split}: {name} is in two splits")
                seen.add(name)
        missing = sorted(set(by_name) - seen)
        if missing:
            problems.append(f"splits: {len(missing)} shard(s) in no split ({', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''})")
        if problems:
            raise SchemaError(problems)
        out = {split: sorted((by_name[n] for n in names), key=lambda s: s.name) for split, names in self.splits.items()}
        return {"train": out.pop("train", []), "validation": out.pop("validation", []), **out}

    def config_json(self) -> dict[str, Any]:
        """dataset.json's "config": the identity settings and the sample schema version."""
        return {**self.config.identity(), "schema": self.sample_schema}

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema, "statgen_version": self.statgen_version, "robot": self.robot, "task": self.task, "seed": self.seed,
            "samples": self.samples, "config": self.config_json(), "robot_spec": spec_json(self.robot_spec),
            "task_spec": spec_json(self.task_spec), "model_sha256": self.model_sha256, "rosa": self.rosa.to_json(),
            "acceptance": self.acceptance.to_json(), "versions": dict(self.versions), "assets": [a.to_json() for a in self.assets],
            "shards": [s.to_json() for s in self.shards], "samples_per_second": self.samples_per_second, "resources": self.resources.to_json(),
            **({"splits": {k: list(v) for k, v in self.splits.items()}} if self.splits is not None else {}),
        }

    @classmethod
    def from_json(cls, d: Any) -> DatasetInfo:
        """dataset.json's parsed content, checked against the declaration. SchemaError lists every problem."""
        problems: list[str] = []
        if not isinstance(d, dict):
            raise SchemaError([f"expected an object, got {type(d).__name__}"])
        if d.get("schema") not in DATASET_SCHEMAS:
            raise SchemaError([f"schema: expected one of {', '.join(DATASET_SCHEMAS)}, got {d.get('schema')!r}"])
        parsed = _decode_fields(cls, {k: v for k, v in d.items() if k != "sample_schema"}, "", problems,
                                skip=("config", "sample_schema", "robot_spec", "task_spec"))
        if "sample_schema" in d:
            problems.append("sample_schema: unknown key")
        for key, parse in (("config", config_from_identity), ("robot_spec", robot_from_dict), ("task_spec", task_from_dict)):
            v = d.get(key)
            if not isinstance(v, dict):
                problems.append(f"{key}: expected an object, got {_got(v)}" if key in d else f"{key}: missing")
                continue
            try:
                parsed[key] = parse(v)
            except ConfigError as e:
                problems.append(str(e) if str(e).startswith(key) else f"{key}: {e}")
        cfg = d.get("config")
        if isinstance(cfg, dict):
            parsed["sample_schema"] = cfg.get("schema")
            if cfg.get("schema") not in SAMPLE_SCHEMAS:
                problems.append(f"config.schema: expected one of {', '.join(SAMPLE_SCHEMAS)}, got {cfg.get('schema')!r}")
        if problems:
            raise SchemaError(problems)
        return cls(**parsed)


def spec_json(spec: Any) -> dict[str, Any]:
    """A RobotSpec or TaskSpec as dataset.json and the run identity record it: its fields, JSON-ready,
    without source_path (where a file was is not what the data is). A spec with its own `to_json`
    (RobotSpec: later fields left out at their defaults) records itself."""
    if hasattr(spec, "to_json"):
        return spec.to_json()
    d = json.loads(json.dumps(dataclasses.asdict(spec), sort_keys=True))
    d.pop("source_path", None)
    return d


# --------------------------------------------------------------------------- decoding against the declarations


def _got(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _decode(tp: Any, v: Any, where: str, problems: list[str], meta: Mapping[str, Any] | None = None) -> Any:
    """Check v against the type tp (and its field metadata); return it, with dataclasses built. Problems are appended."""
    meta = meta or {}
    at = where or "top level"
    if "declared" in meta and v is not None:  # checked against its declaration, kept as parsed JSON
        _decode(meta["declared"], v, where, problems)
        return v
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if v is None and type(None) in args:
            return None
        (tp,) = [a for a in args if a is not type(None)]
        origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(v, dict):
            problems.append(f"{at}: expected an object, got {_got(v)}")
            return None
        n = len(problems)
        kw = _decode_fields(tp, v, where, problems)
        return tp(**kw) if len(problems) == n else None
    if origin is dict:
        _, vt = typing.get_args(tp)
        if not isinstance(v, dict):
            problems.append(f"{at}: expected an object, got {_got(v)}")
            return None
        return {k: _decode(vt, x, f"{where}.{k}" if where else k, problems) for k, x in v.items()}
    if origin is list:
        (et,) = typing.get_args(tp)
        if not isinstance(v, list):
            problems.append(f"{at}: expected a list, got {_got(v)}")
            return None
        shape = meta.get("shape")
        if shape and len(v) != shape[0]:
            problems.append(f"{at}: expected {shape[0]} values, got {len(v)}")
            return None
        sub = {"shape": shape[1:]} if shape and len(shape) > 1 else None
        n = len(problems)
        out = [_decode(et, x, f"{where}[{i}]", problems, sub) for i, x in enumerate(v)]
        del problems[n + 3:]  # a long list of bad values: three are enough to say what is wrong
        return out
    ok = {
        str: lambda: isinstance(v, str),
        int: lambda: isinstance(v, int) and not isinstance(v, bool),
        float: lambda: isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v)),
        bool: lambda: isinstance(v, bool),
        Any: lambda: True,
    }[tp]()
    if not ok:
        problems.append(f"{at}: expected {_NAMES.get(tp, 'a value')}, got {_got(v)}")
    elif "min" in meta and v < meta["min"]:
        problems.append(f"{at}: expected >= {meta['min']}, got {v}")
    return v


_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _decode_fields(cls: type, d: dict[str, Any], where: str, problems: list[str], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    hints = _hints(cls)
    out: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(cls)}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        at = f"{where}.{f.name}" if where else f.name
        if f.name not in d:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                continue
            problems.append(f"{at}: missing")
            continue
        out[f.name] = _decode(hints[f.name], d[f.name], at, problems, f.metadata)
    for k in sorted(set(d) - names):
        problems.append(f"{where + '.' if where else ''}{k}: unknown key")
    return out


# --------------------------------------------------------------------------- the index


STATE_COLUMNS = (
    ("ee_pos", "ee_pos", ("x", "y", "z")),
    ("ee_quat", "ee_quat_wxyz", ("w", "x", "y", "z")),
    ("ee_euler", "ee_euler_xyz", ("roll", "pitch", "yaw")),
    ("ee_rot6d", "ee_rot6d", ("0", "1", "2", "3", "4", "5")),
)
CAMERA_COLUMNS = (("u", "double"), ("v", "double"), ("depth", "double"), ("in_view", "bool"), ("visible", "bool"))


def column_safe(name: str) -> str:
    return name.replace("/", "_")


def index_columns(joint_names: list[str] | tuple[str, ...], cameras: list[str] | tuple[str, ...], *, trajectory: bool = False) -> list[tuple[str, str]]:
    """(column, Arrow type name) of the index, in order: one row per sample, flat state columns; trajectories
    add episode, step and the action's ROSA tokens (action_rosa)."""
    cols = [("index", "int64"), ("key", "string"), ("shard", "string")]
    cols += [(f"{col}_{p}", "double") for col, _, parts in STATE_COLUMNS for p in parts]
    cols += [("gripper_width", "double"), ("gripper_open_fraction", "double"), ("gripper_open", "bool")]
    cols += [(f"q_{column_safe(j)}", "double") for j in joint_names]
    cols += [(f"{cam}_{c}", t) for cam in sorted(cameras) for c, t in CAMERA_COLUMNS]
    cols += [("rosa", "string")]
    if trajectory:
        cols += [("episode", "int64"), ("step", "int64"), ("action_rosa", "string")]
    return cols


def index_schema(joint_names: list[str] | tuple[str, ...], cameras: list[str] | tuple[str, ...], *, trajectory: bool = False):
    """The index's explicit Arrow schema (pyarrow.Schema)."""
    import pyarrow as pa

    types = {"int64": pa.int64(), "string": pa.string(), "double": pa.float64(), "bool": pa.bool_()}
    return pa.schema([pa.field(name, types[t]) for name, t in index_columns(joint_names, cameras, trajectory=trajectory)])


def index_row(sample: Sample, *, shard_name: str) -> dict[str, Any]:
    """One sample's index row (see index_columns)."""
    s = sample.state
    row: dict[str, Any] = {"index": sample.index, "key": f"{sample.index:09d}", "shard": shard_name}
    for col, attr, parts in STATE_COLUMNS:
        for p, v in zip(parts, getattr(s, attr)):
            row[f"{col}_{p}"] = float(v)
    row["gripper_width"] = float(s.gripper_width)
    row["gripper_open_fraction"] = float(s.gripper_open_fraction)
    row["gripper_open"] = bool(s.gripper_open)
    for name, q in zip(s.joint_names, s.qpos):
        row[f"q_{column_safe(name)}"] = float(q)
    for cam, c in sorted(sample.cameras.items()):
        px = c.ee_pixel or (float("nan"), float("nan"))
        row[f"{cam}_u"], row[f"{cam}_v"] = float(px[0]), float(px[1])
        row[f"{cam}_depth"] = float(c.ee_depth)
        row[f"{cam}_in_view"] = bool(c.ee_in_view)
        row[f"{cam}_visible"] = bool(c.ee_visible)
    row["rosa"] = sample.text["rosa"].answer
    if sample.episode is not None:
        row["episode"], row["step"] = sample.episode.id, sample.episode.step
        row["action_rosa"] = sample.action.tokens if sample.action is not None else None
    return row
