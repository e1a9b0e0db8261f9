"""Pipeline and run settings, each declared once.

Every setting of a run is a field of `GenerateConfig` (or of its nested `RenderSettings`),
declared with `setting(...)`. The declaration carries everything the rest of statgen needs:

- `kind`: its type in the small type language of `statgen.config.check`;
- `toml`: its "section.key" in a pipeline TOML (None: not settable from a file);
- `flag`: its `statgen generate` option (None: no flag); the CLI's options are generated
  from these declarations (statgen.cli);
- `choices` and `check`: the value checks, run for pipeline values and flags alike;
- `identity`: whether it changes the data, i.e. is part of the run identity, dataset.json's
  "config" and what `--resume` compares;
- `help`: the option's help text;
- `lever`: for a per-lever randomisation range (group `randomize`): the built-in value. Such a
  setting defaults to None in the pipeline, meaning "the task's `[randomize]` value, else the
  built-in one"; the task file reads the same key, kind and checks from this declaration
  (statgen.config.task), and `RandomizeSettings.resolve(task)` gives the values in force;
- `legacy`: the value a dataset made before the setting existed was made with, when that is
  not its default (`randomize.level`: datasets before it are "none"; `randomize.texture_size`:
  256; `randomize.floor_grid_m`: 0.1). dataset.json and _run/run.json read back with it, so verify
  re-renders and --resume continues such a dataset as it was made (also when the resume gives
  its config again: statgen.run.identity.legacy_of_run).

From these declarations, and from nowhere else: `load_pipeline` (sections, keys, types and
values), `build_config` (flags and values, every problem reported at once in one
ConfigError), `GenerateConfig.identity()`, and `values_from_identity` (its inverse, for
`--resume --out DIR` and for reading dataset.json). A new setting is one declaration here
plus the code that uses it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from statgen.config.check import INVALID, Problems, ok, rosa_ranges
from statgen.config.files import find_toml, read_toml
from statgen.errors import ConfigError

IMAGE_FORMATS = ("jpg", "png", "webp")
JPEG_SUBSAMPLINGS = ("420", "422", "444")  # chroma subsampling: 4:2:0 halves both axes, 4:2:2 the width, 4:4:4 none
MAX_INDEX = 10**9 - 1  # the key is f"{index:09d}"
MAX_SHARD_SIZE = 100_000
MAX_MULTISAMPLE = 16
MAX_VISUAL_REDUCTION = 0.99


NO_LEGACY = "<default>"  # Setting.legacy: a dataset made before the setting existed was made with its default


@dataclass(frozen=True)
class Setting:
    """A setting's declaration (the metadata of its dataclass field)."""

    kind: str  # check's type language, or "rosa_ranges"
    toml: str | None = None  # "section.key" in a pipeline TOML
    flag: str | None = None  # "--name" on `statgen generate`
    help: str = ""
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], str | None] | None = None  # the complaint ("expected ..., got ...") or None
    identity: bool = True  # part of the run identity (changes the data)
    flag_value: Any = True  # a bool flag: the value it sets when given (--quiet sets progress to False)
    metavar: str | None = None
    lever: Any = None  # a randomisation lever: its built-in value (the pipeline's None defers to the task, then to this)
    legacy: Any = "<default>"  # the value of a dataset made before the setting existed, when it is not the default
    omit_default: bool = False  # left out of the run identity at its default (a later setting: older identities stay as they were)


def setting(default: Any = MISSING, *, default_factory: Any = MISSING, **meta: Any) -> Any:
    """A dataclass field declaring one setting: `setting(default, kind=..., toml=..., flag=..., ...)`."""
    return field(default=default, default_factory=default_factory, metadata={"setting": Setting(**meta)})


# --------------------------------------------------------------------------- value checks


def _between(lo: int | float, hi: int | float, unit: str = "") -> Callable[[Any], str | None]:
    return lambda v: None if lo <= v <= hi else f"expected {lo}..{hi}{unit}, got {v}"


def _power_of_two(lo: int, hi: int, unit: str = "") -> Callable[[Any], str | None]:
    ok = [2**k for k in range(lo.bit_length() - 1, hi.bit_length()) if lo <= 2**k <= hi]
    return lambda v: None if v in ok else f"expected a power of two, one of {', '.join(map(str, ok))}{unit}, got {v}"


def _check_n(n: int) -> str | None:
    if n < 1:
        return f"expected a positive integer, got {n}"
    if n > MAX_INDEX + 1:
        return f"at most {MAX_INDEX + 1} samples fit the 9-digit key, got {n}"
    return None


def _interval(lo: float, hi: float, unit: str = "", integer: bool = False) -> Callable[[Any], str | None]:
    """[low, high] with lo <= low <= high <= hi (integers when `integer`)."""

    def check(v: Any) -> str | None:
        if integer and not all(float(x).is_integer() for x in v):
            return f"expected whole numbers, got {list(v)}"
        if not lo <= v[0] <= v[1] <= hi:
            return f"expected [low, high] with {lo} <= low <= high <= {hi}{unit}, got {list(v)}"
        return None

    return check


def _check_cameras(cameras: tuple[str, ...]) -> str | None:
    if not cameras or "front" not in cameras:
        return f"expected a list that includes 'front', got {list(cameras)}"
    if len(set(cameras)) != len(cameras):
        return f"expected unique names, got {list(cameras)}"
    return None


# --------------------------------------------------------------------------- the declarations


@dataclass(frozen=True)
class RenderSettings:
    """Renderer quality. Each costs frames/s on a CPU; see the README's table."""

    shadows: bool = setting(False, kind="bool", toml="render.shadows")
    reflections: bool = setting(False, kind="bool", toml="render.reflections")
    multisample: int = setting(0, kind="int", toml="render.multisample",  # offscreen MSAA samples: 0 (off), 2, 4, 8 ...
                               check=_between(0, MAX_MULTISAMPLE, " samples"))
    # Fraction of visual-mesh faces removed. None: the robot's own ([render] in its TOML), else 0.85.
    # A run records the value it used (config.resolve_render), so the run identity always holds a number.
    visual_reduction: float | None = setting(None, kind="float", toml="render.visual_reduction",
                                             check=lambda v: None if 0.0 <= v < MAX_VISUAL_REDUCTION else f"expected a fraction in [0, {MAX_VISUAL_REDUCTION}), got {v}")
    # The simplifier's bound on the surface error, as a fraction of each mesh's extent; 0: none (unbounded quadric
    # decimation, statgen's first simplifier). None: the robot's own ([render] max_error), else none.
    visual_max_error: float | None = setting(None, kind="float", toml="render.visual_max_error", omit_default=True,
                                             check=lambda v: None if 0.0 <= v < 1.0 else f"expected a fraction of the mesh extent in [0, 1) (0: no bound), got {v}")


LEVELS = ("none", "appearance", "full")  # randomize.level: what changes from sample to sample (README, "Randomisation")
MAX_DISTRACTORS = 16
MAX_TEXTURE_SLOTS = 32


def _lever(default: Any, kind: str, name: str, check: Callable[[Any], str | None] | None = None, help: str = "") -> Any:
    """A per-lever range: None in the pipeline (the task's value, else `default`)."""
    return setting(None, kind=kind, toml=f"randomize.{name}", lever=default, check=check, help=help)


@dataclass(frozen=True)
class RandomizeSettings:
    """Randomisation (README, "Randomisation"). `level` decides which levers act; the per-lever
    ranges below default to None here, i.e. the task's `[randomize]` value, else the built-in one
    (`lever=`). Ranges are [low, high]; a single number is a +- amplitude."""

    level: str = setting("full", kind="str", toml="randomize.level", flag="--randomize", choices=LEVELS, legacy="none",
                         metavar="<none|appearance|full>",
                         help="What varies per sample: none (the task as built), appearance (materials, textures, lights, a background) "
                              "or full (also cameras and a layout per shard) [default: full].")
    texture_dir: str | None = setting(None, kind="str", toml="randomize.texture_dir")  # a folder of the user's images, added to the texture library
    mesh_dir: str | None = setting(None, kind="str", toml="randomize.mesh_dir")  # a folder of .obj/.stl meshes, added to the distractors
    robot_colors: bool = setting(False, kind="bool", toml="randomize.robot_colors")  # recolour the robot's materials per sample
    texture_slots: int = setting(8, kind="int", toml="randomize.texture_slots", check=_between(1, MAX_TEXTURE_SLOTS, " slots"))  # textures per shard
    texture_library: int = setting(128, kind="int", toml="randomize.texture_library", check=_between(1, 100_000, " recipes"))  # procedural recipes per seed
    # A texture's side [px]. 128 suits 224 px images (a tile of 0.5 to 2 m then spans about its own width in
    # pixels); 256 cost about 4% of full's render on llvmpipe for detail the images could not show (README,
    # "What randomisation costs"). Raise it for larger images. Datasets made before it existed used 256.
    texture_size: int = setting(128, kind="int", toml="randomize.texture_size", check=_power_of_two(32, 1024, " px"), legacy=256)
    # The floor plane's size[2] at appearance and full [m]: MuJoCo draws a plane as quads 2 * size[2] wide, lit
    # per vertex. The task's 0.1 (40 x 40 quads on its 8 m floor, every frame) cost about 7% of full's render
    # though the walls and the table hide nearly all of it; 0.4 is 10 x 10 quads. Datasets made before it
    # existed used the task's floor (0.1); level none always does.
    floor_grid_m: float = setting(0.4, kind="float", toml="randomize.floor_grid_m", check=_between(0.05, 4.0, " m"), legacy=0.1)
    # --- per-lever ranges (the task may set them too) ---
    texture_prob: float | None = _lever(0.4, "float", "texture_prob", _between(0.0, 1.0))  # chance that a surface is textured
    lights: tuple[float, float] | None = _lever((1.0, 2.0), "interval", "lights", _interval(0, 6, " lights", integer=True))  # active lights
    light_diffuse: tuple[float, float] | None = _lever((0.3, 0.8), "interval", "light_diffuse", _interval(0.0, 2.0))  # per-light intensity
    light_ambient: tuple[float, float] | None = _lever((0.05, 0.2), "interval", "light_ambient", _interval(0.0, 1.0))
    light_warmth: float | None = _lever(0.15, "float", "light_warmth", _between(0.0, 1.0))  # colour temperature spread: 0 white
    headlight_prob: float | None = _lever(0.5, "float", "headlight_prob", _between(0.0, 1.0))  # chance that the headlight is on
    headlight_diffuse: tuple[float, float] | None = _lever((0.15, 0.45), "interval", "headlight_diffuse", _interval(0.0, 1.0))
    camera_pos_m: float | None = _lever(0.03, "float", "camera_pos_m", _between(0.0, 1.0, " m"))  # +- per axis [m]
    camera_target_m: float | None = _lever(0.05, "float", "camera_target_m", _between(0.0, 1.0, " m"))  # look-at point, +- per axis [m]
    camera_roll_deg: float | None = _lever(3.0, "float", "camera_roll_deg", _between(0.0, 180.0, " deg"))
    camera_fovy_deg: float | None = _lever(4.0, "float", "camera_fovy_deg", _between(0.0, 60.0, " deg"))
    camera_focal_frac: float | None = _lever(0.03, "float", "camera_focal_frac", _between(0.0, 0.5))  # calibrated cameras: fx, fy scaled by 1 +- this
    shell_prob: float | None = _lever(0.3, "float", "shell_prob", _between(0.0, 1.0))  # chance that a camera with a shell is placed on it
    table_scale: tuple[float, float] | None = _lever((0.85, 1.15), "interval", "table_scale", _interval(0.3, 3.0))  # table x/y size factor
    table_height_m: tuple[float, float] | None = _lever((-0.08, 0.08), "interval", "table_height_m", _interval(-1.0, 1.0, " m"))  # added to the height
    base_xy_m: float | None = _lever(0.08, "float", "base_xy_m", _between(0.0, 1.0, " m"))  # robot base on the table, +- in x and y [m]
    base_yaw_deg: float | None = _lever(15.0, "float", "base_yaw_deg", _between(0.0, 180.0, " deg"))
    distractors: int | None = _lever(3, "int", "distractors", _between(0, MAX_DISTRACTORS, " objects"))  # at most this many per layout
    distractor_size_m: tuple[float, float] | None = _lever((0.02, 0.07), "interval", "distractor_size_m", _interval(0.005, 0.5, " m"))  # half extents
    wall_distance_m: tuple[float, float] | None = _lever((0.5, 1.5), "interval", "wall_distance_m", _interval(0.0, 20.0, " m"))  # beyond the table

    def resolve(self, task_levers: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every lever's value in force: this pipeline's, else the task's, else the built-in one."""
        task_levers = task_levers or {}
        out = {}
        for d in LEVERS.values():
            v = getattr(self, d.name)
            out[d.name] = v if v is not None else task_levers.get(d.name, d.meta.lever)
        return out


MODES = ("independent", "trajectory")  # trajectory.mode: independent poses, or random-action episodes (README, "Trajectories")
TEXT_KINDS = ("rosa", "natural", "action", "forward", "inverse")  # text.kinds (docs/FORMAT.md, "Text")
TRAJECTORY_KINDS = ("action", "forward", "inverse")  # text kinds that need a next step: trajectory mode only
MAX_HZ = 1000.0
MAX_STEPS = 10_000
MAX_SUBSTEPS = 100


@dataclass(frozen=True)
class TrajectorySettings:
    """Trajectory mode (README, "Trajectories"): episodes of `steps` steps recorded at `hz`, joint-space
    waypoints joined by minimum-jerk segments. In the run identity only in trajectory mode, so that an
    independent dataset's identity (and dataset.json) is what it was before trajectories existed."""

    mode: str = setting("independent", kind="str", toml="trajectory.mode", flag="--mode", choices=MODES, metavar="<independent|trajectory>",
                        help="independent poses, or trajectory: random-action episodes recorded at a control rate [default: independent].")
    hz: float = setting(10.0, kind="float", toml="trajectory.hz", check=_between(0.1, MAX_HZ, " Hz"))  # control rate [Hz]
    steps: int = setting(50, kind="int", toml="trajectory.steps", check=_between(2, MAX_STEPS, " steps"))  # recorded steps per episode
    segment_s: tuple[float, float] = setting((1.0, 3.0), kind="interval", toml="trajectory.segment_s",  # waypoint-to-waypoint duration [s],
                                             check=_interval(0.05, 600.0, " s"))  # raised where the limits need longer
    check_substeps: int = setting(4, kind="int", toml="trajectory.check_substeps",  # collision checks per control period
                                  check=_between(1, MAX_SUBSTEPS, " substeps"))
    gripper_speed: float = setting(2.0, kind="float", toml="trajectory.gripper_speed",  # opening fraction per second [1/s]
                                   check=_between(0.01, 1000.0, " /s"))
    gripper_switch_rate: float = setting(0.3, kind="float", toml="trajectory.gripper_switch_rate",  # open/close commands per second [1/s]
                                         check=_between(0.0, 100.0, " /s"))


def _check_kinds(kinds: tuple[str, ...]) -> str | None:
    bad = [k for k in kinds if k not in TEXT_KINDS]
    if bad:
        return f"expected kinds among {', '.join(TEXT_KINDS)}, got {', '.join(map(repr, bad))}"
    if "rosa" not in kinds:
        return f"expected a list that includes 'rosa' (the index and verify read it), got {list(kinds)}"
    if len(set(kinds)) != len(kinds):
        return f"expected unique kinds, got {list(kinds)}"
    return None


@dataclass(frozen=True)
class GenerateConfig:
    """Everything `statgen.generate` needs. Identity settings decide the data; the rest only where and how fast."""

    robot: str = setting(kind="str", toml="pipeline.robot", flag="--robot", help="Robot name (see `statgen robots`) or a robot .toml path.")
    n: int = setting(kind="int", toml="pipeline.n", flag="--n", check=_check_n, help="Number of samples.")
    task: str = setting("tabletop", kind="str", toml="pipeline.task", flag="--task", help="Scene name or .toml path [default: tabletop].")
    seed: int = setting(0, kind="int", toml="pipeline.seed", flag="--seed", help="Seed [default: 0].",
                        check=lambda v: None if 0 <= v < 2**63 else f"expected an integer in 0..2^63-1, got {v}")
    shard_size: int = setting(1000, kind="int", toml="pipeline.shard_size", flag="--shard-size", help="Samples per shard [default: 1000].",
                              check=_between(1, MAX_SHARD_SIZE, " samples"))
    cameras: tuple[str, ...] = setting(("front",), kind="list[str]", toml="pipeline.cameras", flag="--cameras", check=_check_cameras,
                                       help="Comma-separated cameras, e.g. front,wrist [default: front].")
    image_format: str = setting("jpg", kind="str", toml="image.format", choices=IMAGE_FORMATS)
    jpeg_quality: int = setting(90, kind="int", toml="image.jpeg_quality", check=_between(1, 100))
    jpeg_subsampling: str = setting("420", kind="str", toml="image.jpeg_subsampling", flag="--jpeg-subsampling", choices=JPEG_SUBSAMPLINGS,
                                    metavar="<420|422|444>", help="JPEG chroma subsampling: 420, 422 or 444 (none) [default: 420].")
    depth: bool = setting(False, kind="bool", toml="image.depth")
    seg: bool = setting(False, kind="bool", toml="image.seg")
    render: RenderSettings = field(default_factory=RenderSettings)
    randomize: RandomizeSettings = field(default_factory=RandomizeSettings)
    require_visible: bool = setting(False, kind="bool", toml="sampling.require_visible")
    max_draws_per_sample: int = setting(200, kind="int", toml="sampling.max_draws_per_sample",
                                        check=lambda v: None if v >= 1 else f"expected >= 1, got {v}")
    rosa_ranges: tuple[tuple[float, float], ...] | None = setting(None, kind="rosa_ranges", toml="rosa.ranges")  # None: the robot's
    val_fraction: float = setting(0.0, kind="float", toml="split.val_fraction", flag="--val-fraction", metavar="<float>",
                                  check=lambda v: None if 0.0 <= v < 1.0 else f"expected a fraction in [0, 1), got {v}",
                                  help="Fraction of whole shards assigned to the validation split, chosen from the seed [default: 0].")
    text_kinds: tuple[str, ...] = setting(("rosa", "natural"), kind="list[str]", toml="text.kinds", flag="--text-kinds", check=_check_kinds,
                                          omit_default=True, metavar="<rosa,natural,...>",
                                          help=f"Comma-separated text kinds among {', '.join(TEXT_KINDS)} [default: rosa,natural]; "
                                               f"{', '.join(TRAJECTORY_KINDS)} need --mode trajectory.")
    trajectory: TrajectorySettings = field(default_factory=TrajectorySettings)
    # --- not part of the run identity ---
    pipeline: str | None = setting(None, kind="str", flag="--pipeline", identity=False,  # the pipeline file it came from
                                   help="Pipeline name or .toml path; flags override it.")
    out: str | None = setting(None, kind="str", flag="--out", identity=False, help="Output folder [default: ./data/<robot>].")
    workers: int | None = setting(None, kind="int", flag="--workers", identity=False, help="Ray workers [default: the number of CPUs].",
                                  check=lambda v: None if v >= 1 else f"expected a positive integer, got {v}")
    assets: str | None = setting(None, kind="str", flag="--assets", identity=False, help="Folder with Menagerie-layout robot models.")
    address: str | None = setting(None, kind="str", flag="--address", identity=False,
                                  help="Join an existing Ray cluster (e.g. ray://host:10001 or auto).")
    resume: bool = setting(False, kind="bool", flag="--resume", identity=False, help="Continue a stopped run in --out.")
    overwrite: bool = setting(False, kind="bool", flag="--overwrite", identity=False,  # replace the statgen dataset in `out`
                              help="Replace the statgen dataset in --out (never a folder that is not one).")
    progress: bool = setting(True, kind="bool", flag="--quiet", flag_value=False, identity=False, help="No progress on stderr.")

    def identity(self) -> dict[str, Any]:
        """The settings that change the data (DESIGN.md, 'run identity'), JSON-ready with sorted keys.
        The run identity (statgen.run.identity) adds the sample schema version, robot and task."""
        return json.loads(json.dumps(_omitted(_identity_of(self)), sort_keys=True))


# --------------------------------------------------------------------------- the declarations, read


@dataclass(frozen=True)
class Declared:
    """One declared setting: its flat key ("seed", "render.shadows"), field, declaration and default."""

    key: str
    name: str
    meta: Setting
    default: Any  # MISSING when the setting is required

    @property
    def label(self) -> str:
        """How messages name it: its flag, else its TOML key."""
        return self.meta.flag or self.meta.toml or self.key


NESTED = {"render": RenderSettings, "randomize": RandomizeSettings, "trajectory": TrajectorySettings}  # GenerateConfig's groups of settings: their flat keys are "render.<field>"


def _declared(cls: type, prefix: str = "") -> list[Declared]:
    out: list[Declared] = []
    for f in fields(cls):
        if f.name in NESTED and not prefix:
            out += _declared(NESTED[f.name], f.name + ".")
        else:
            out.append(Declared(prefix + f.name, f.name, f.metadata["setting"], f.default))
    return out


SETTINGS: dict[str, Declared] = {d.key: d for d in _declared(GenerateConfig)}
TOML_KEYS: dict[str, Declared] = {d.meta.toml: d for d in SETTINGS.values() if d.meta.toml}
FLAGS: dict[str, Declared] = {d.meta.flag: d for d in SETTINGS.values() if d.meta.flag}
LEVERS: dict[str, Declared] = {d.name: d for d in SETTINGS.values() if d.meta.lever is not None}  # what a task's [randomize] may set


def _legacy(d: Declared) -> Any:
    """The value of a setting in a dataset made before it existed."""
    return d.default if d.meta.legacy == NO_LEGACY else d.meta.legacy


def _identity_of(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        meta = f.metadata.get("setting")
        if f.name in NESTED:
            out[f.name] = _identity_of(v)
        elif meta.identity:
            out[f.name] = v
    return out


def _omitted(identity: dict[str, Any]) -> dict[str, Any]:
    """An identity without what it leaves out: a setting declared omit_default at its default, and the
    trajectory group in independent mode (an independent dataset's identity is what it was before them)."""
    for d in SETTINGS.values():
        if d.meta.omit_default:
            g, _, name = d.key.rpartition(".")
            group = identity.get(g) if g else identity
            if isinstance(group, dict) and name in group and _plain(group[name]) == _plain(d.default):
                del group[name]
    traj = identity.get("trajectory")
    if isinstance(traj, dict) and traj.get("mode", "independent") == "independent":
        del identity["trajectory"]
    return identity


def _plain(v: Any) -> Any:
    """Tuples (from Python callers or an earlier parse) as lists, the shape TOML and JSON give."""
    return [_plain(x) for x in v] if isinstance(v, (tuple, list)) else v


def check_value(d: Declared, v: Any, pr: Problems, label: str | None = None) -> Any:
    """A setting's value checked against its declaration (kind, choices, range); INVALID after a recorded problem."""
    label = label or d.label
    if d.meta.kind == "rosa_ranges":
        v = None if v is None else pr.run(rosa_ranges, _plain(v), label)
    else:
        v = pr.check(_plain(v), d.meta.kind, label)
    if not ok(v) or v is None:
        return v
    if d.meta.choices is not None and v not in d.meta.choices:
        pr.add(f"{label}: expected one of {', '.join(map(str, d.meta.choices))}, got {v!r}")
        return INVALID
    complaint = d.meta.check(v) if d.meta.check is not None else None
    if complaint:
        pr.add(f"{label}: {complaint}")
        return INVALID
    return v


def parse_flag(d: Declared, raw: Any, pr: Problems) -> Any:
    """A command-line value (a string, or True for a bool flag that was given) as the setting's type."""
    flag = d.meta.flag
    kind = d.meta.kind
    if kind == "bool":
        return d.meta.flag_value if raw is True else raw
    if not isinstance(raw, str):
        return raw
    try:
        if kind == "int":
            return int(raw.strip())
        if kind == "float":
            return float(raw.strip())
    except ValueError:
        pr.add(f"{flag}: expected {'an integer' if kind == 'int' else 'a number'}, got {raw!r}")
        return INVALID
    if kind == "list[str]":
        return tuple(x.strip() for x in raw.split(",") if x.strip())
    return raw


# --------------------------------------------------------------------------- pipeline files


def load_pipeline(name_or_path: str) -> dict[str, Any]:
    """A pipeline TOML as flat setting values ("seed", "render.shadows", ...; defaults that flags override).
    Every problem of the file is reported at once."""
    path = find_toml("pipelines", name_or_path)
    return pipeline_from_toml(read_toml(path), path)


def pipeline_from_toml(raw: dict[str, Any], path: Path | str) -> dict[str, Any]:
    """Validate a pipeline TOML's content (no I/O) against the declarations."""
    pr = Problems(str(path))
    out: dict[str, Any] = {"pipeline": str(path)}
    sections = sorted({k.split(".")[0] for k in TOML_KEYS})
    for sec, body in raw.items():
        if sec not in sections or not isinstance(body, dict):
            pr.add(f"unknown section [{sec}]; valid sections: {', '.join(sections)}")
            continue
        for key, v in body.items():
            full = f"{sec}.{key}"
            if full not in TOML_KEYS:
                valid = ", ".join(k.split(".")[1] for k in TOML_KEYS if k.startswith(sec + "."))
                pr.add(f"[{sec}] unknown key {key!r}; valid keys: {valid}")
                continue
            d = TOML_KEYS[full]
            v = check_value(d, v, pr, label=full)
            if ok(v):
                out[d.key] = v
    pr.raise_if_any()
    return out


# --------------------------------------------------------------------------- building a config


def _assemble(checked: Mapping[str, Any]) -> GenerateConfig:
    groups: dict[str, dict[str, Any]] = {g: {} for g in NESTED}
    top: dict[str, Any] = {}
    for k, v in checked.items():
        g, _, name = k.rpartition(".")
        (groups[g] if g else top)[name] = v
    return GenerateConfig(**top, **{g: NESTED[g](**kw) for g, kw in groups.items()})


def build_config(values: Mapping[str, Any], *, flags: Mapping[str, Any] | None = None) -> GenerateConfig:
    """GenerateConfig from flat values (pipeline defaults, or a run's own) overridden by flags, validated.

    values: typed values keyed by setting ("seed", "render.shadows"), as load_pipeline returns them;
    None means unset. flags: command-line values keyed the same way, as typed (strings; True for a
    bool flag that was given; None when absent). Every problem is reported at once, in one ConfigError.
    """
    pr = Problems()
    merged = {k: v for k, v in values.items() if v is not None}
    for k, raw in (flags or {}).items():
        if raw is None:
            continue
        v = parse_flag(SETTINGS[k], raw, pr)
        merged[k] = v  # INVALID (its problem recorded) wins over a pipeline value: the flag was meant
    if merged.get("resume") is True and merged.get("overwrite") is True:  # the mode decides what else is needed
        raise ConfigError("--resume and --overwrite exclude each other: --resume continues the dataset in --out, --overwrite replaces it")
    if "robot" not in merged:
        pr.add("no robot given: pass --robot NAME (e.g. --robot franka) or a --pipeline that sets it")
    if "n" not in merged:
        pr.add("no sample count given: pass --n N or a --pipeline that sets it")
    checked: dict[str, Any] = {}
    for k, v in merged.items():
        d = SETTINGS.get(k)
        if d is None:
            pr.add(f"unknown setting {k!r}; valid: {', '.join(sorted(SETTINGS))}")
        elif ok(v):
            checked[k] = check_value(d, v, pr)
    pr.raise_if_any()
    cfg = _assemble(checked)
    _check_mode(cfg)
    return cfg


def _check_mode(cfg: GenerateConfig) -> None:
    """Settings that only make sense together (one line each, ConfigError)."""
    t = cfg.trajectory
    needs = [k for k in cfg.text_kinds if k in TRAJECTORY_KINDS]
    if t.mode != "trajectory":
        if needs:
            raise ConfigError(f"--text-kinds {','.join(needs)} need a next step: add --mode trajectory, or keep kinds among rosa, natural")
        return
    bad = [f"{name} {v}" for name, v in (("--n", cfg.n), ("--shard-size", cfg.shard_size)) if v % t.steps]
    if bad:
        ok_shard = max(t.steps, cfg.shard_size // t.steps * t.steps)
        raise ConfigError(f"--mode trajectory keeps episodes whole: {' and '.join(bad)} must each be a multiple of trajectory.steps = {t.steps} "
                          f"(e.g. --n {max(t.steps, cfg.n // t.steps * t.steps)} --shard-size {ok_shard})")


# --------------------------------------------------------------------------- the identity, read back


def values_from_identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """The flat setting values of a run identity's "config" (run.json, dataset.json): the inverse of
    GenerateConfig.identity(). Keys that are not settings (the sample schema version) are left out."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        if k in NESTED and isinstance(v, Mapping):
            out.update({f"{k}.{sub}": x for sub, x in v.items()})
        elif k != "schema":
            out[k] = v  # an unknown key stays, for build_config to report
    return out


def legacy_values(present: Iterable[str]) -> dict[str, Any]:
    """Flat key -> legacy value of each identity setting missing from `present` (flat keys) that declares
    one: what a run recorded before the setting existed was made with, where that is not today's default."""
    return {k: d.meta.legacy for k, d in SETTINGS.items() if k not in present and d.meta.identity and d.meta.legacy != NO_LEGACY}


def complete_identity(config: Mapping[str, Any]) -> dict[str, Any]:
    """A run identity's "config" with every identity setting it lacks at its legacy value: a dataset made
    before a setting existed was made with it (the default, unless the setting declares `legacy`)."""
    out = json.loads(json.dumps(dict(config)))
    for d in SETTINGS.values():
        if not d.meta.identity or d.default is MISSING:
            continue
        g, _, name = d.key.rpartition(".")
        target = out.setdefault(g, {}) if g else out
        if isinstance(target, dict) and name not in target:
            target[name] = json.loads(json.dumps(_legacy(d)))
    return _omitted(out)


def config_from_identity(config: Mapping[str, Any], where: str = "config") -> GenerateConfig:
    """The GenerateConfig of a run identity's "config" (dataset.json, run.json): its identity settings,
    checked against their declarations (a setting it lacks takes its legacy value); the others at their
    defaults. ConfigError lists every problem, each named "config.<key>"."""
    pr = Problems()
    checked: dict[str, Any] = {}
    for k, v in values_from_identity(config).items():
        d = SETTINGS.get(k)
        if d is None or not d.meta.identity:
            pr.add(f"{where}.{k}: unknown key")
        elif v is None and d.default is None:
            checked[k] = None
        else:
            checked[k] = check_value(d, v, pr, label=f"{where}.{k}")
    for k in ("robot", "n"):
        if k not in checked:
            pr.add(f"{where}.{k}: missing")
    checked.update(legacy_values(checked))  # made before a setting existed: with its legacy value
    pr.raise_if_any()
    return _assemble(checked)
