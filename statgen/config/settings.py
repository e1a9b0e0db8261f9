"""Pipeline and run settings: GenerateConfig, the pipeline TOML loader, validation, the run identity."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from statgen.config.check import check
from statgen.config.check import rosa_ranges as _rosa_ranges
from statgen.config.files import find_toml, read_toml
from statgen.errors import ConfigError

SAMPLE_SCHEMA = "statgen.sample/1"
DATASET_SCHEMA = "statgen.dataset/1"
IMAGE_FORMATS = ("jpg", "png", "webp")
MAX_INDEX = 10**9 - 1  # the key is f"{index:09d}"



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
