"""Produce one shard: sample, label, render, encode, write. Runs inside a worker (a Ray actor).

A shard is a pure function of (config, seed, shard number): its generator is
``np.random.default_rng([seed, shard])`` and every random choice of the shard,
template choice included, comes from it in order.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from statgen.config import SAMPLE_SCHEMA, GenerateConfig, RobotSpec, TaskSpec
from statgen.core import rosa, text
from statgen.faults import maybe_kill
from statgen.sim.assets import ResolvedModel
from statgen.sim.sampler import Acceptance, Sampler
from statgen.sim.scene import build_scene
from statgen.storage.fs import Store
from statgen.storage.index import index_row, write_index
from statgen.storage.shards import ShardInfo, ShardWriter, index_name


@dataclass(frozen=True)
class Job:
    """Everything a worker needs; picklable, shipped once through Ray's object store."""

    config: GenerateConfig
    robot: RobotSpec
    task: TaskSpec
    model: ResolvedModel

    @property
    def rosa_ranges(self) -> np.ndarray:
        return np.array(self.config.rosa_ranges or self.robot.rosa_ranges, dtype=float)


@dataclass(frozen=True)
class ShardPlan:
    shard: int
    first_index: int
    count: int


@dataclass
class ShardResult:
    info: ShardInfo
    acceptance: Acceptance
    gl_renderer: str = ""
    peak_rss_mb: float = 0.0  # the worker process's peak resident memory so far
    index_sha256: str = ""


def shard_rng(seed: int, shard: int) -> np.random.Generator:
    return np.random.default_rng([seed, shard])


def plan_shards(n: int, shard_size: int) -> list[ShardPlan]:
    return [ShardPlan(s, first, min(shard_size, n - first)) for s, first in enumerate(range(0, n, shard_size))]


class ShardProducer:
    """Keeps the model, sampler and renderer warm across shards."""

    def __init__(self, job: Job, *, render: bool = True):
        self.job = job
        cfg = job.config
        self.scene = build_scene(robot=job.robot, task=job.task, resolved=job.model, cameras=cfg.cameras, render=cfg.render)
        self.sampler = Sampler(self.scene, require_visible=cfg.require_visible, max_draws_per_sample=cfg.max_draws_per_sample)
        self.ranges = job.rosa_ranges
        self.renderer = None
        if render:
            from statgen.sim.render import CameraRenderer

            self.renderer = CameraRenderer(self.scene, render=cfg.render, depth=cfg.depth, seg=cfg.seg)

    def sample(self, rng: np.random.Generator, index: int, acc: Acceptance) -> dict[str, Any]:
        """One accepted sample's JSON (state, cameras, text); self.sampler.data is left at it."""
        labels = self.sampler.draw(rng, acc)
        s = labels["state"]
        ee_pos, euler = np.array(s["ee_pos"]), np.array(s["ee_euler_xyz"])
        tokens = rosa.to_bins(rosa.rosa_vector(ee_pos=ee_pos, ee_euler_xyz=euler, gripper_open=s["gripper_open"]), self.ranges)
        natural = text.natural_text(rng=rng, ee_pos=ee_pos, ee_euler_xyz=euler, gripper_open=s["gripper_open"], gripper_width=s["gripper_width"])
        return {
            "schema": SAMPLE_SCHEMA, "index": index, "robot": self.job.robot.name, "task": self.job.task.name,
            **labels,
            "text": {"rosa": {"question": text.ROSA_QUESTION, "answer": rosa.format_tokens(tokens)}, "natural": natural},
        }

    def members(self, sample: dict[str, Any]) -> dict[str, bytes]:
        """The tar members of one sample: images per camera, then the JSON."""
        from statgen.sim.render import encode_image

        cfg = self.job.config
        out: dict[str, bytes] = {}
        for cam in cfg.cameras:
            imgs = self.renderer.render(self.sampler.data, cam)
            out[f"{cam}.{cfg.image_format}"] = encode_image(imgs["rgb"], fmt=cfg.image_format, quality=cfg.jpeg_quality)
            if cfg.depth:
                out[f"{cam}.depth.png"] = encode_image(imgs["depth"], fmt="png")
            if cfg.seg:
                out[f"{cam}.seg.png"] = encode_image(imgs["seg"], fmt="png")
        out["json"] = json.dumps(sample, sort_keys=True, separators=(",", ":")).encode()
        return out

    def produce(self, plan: ShardPlan, root: Store | Path, *, progress=None) -> ShardResult:
        """Write shard `plan.shard` and its index to `root`. Returns its info and acceptance counts.

        The shard is staged on local disk (for a local store: in place, under a hidden name)
        and published whole: an os.replace locally, a single upload on object storage.
        """
        store = root if isinstance(root, Store) else Store.open(str(root))
        stage = store.local_root if store.is_local else store.staging_dir()
        rng = shard_rng(self.job.config.seed, plan.shard)
        acc = Acceptance()
        rows = []
        try:
            with ShardWriter(stage, shard=plan.shard, first_index=plan.first_index, publish=store.put_file) as w:
                for i in range(plan.count):
                    index = plan.first_index + i
                    sample = self.sample(rng, index, acc)
                    w.write(index, self.members(sample))
                    rows.append(index_row(sample, shard_name=w.name))
                    if progress is not None:
                        progress(1)
                    if i == plan.count // 2:
                        maybe_kill("mid_shard")
            maybe_kill("after_shard_rename")
            index_sha = write_index(stage, index_name(plan.shard), rows, publish=store.put_file)
        finally:
            if not store.is_local:
                shutil.rmtree(stage, ignore_errors=True)
        return ShardResult(info=w.info, acceptance=acc, gl_renderer=gl_renderer_name(self.renderer), peak_rss_mb=peak_rss_mb(),
                           index_sha256=index_sha)

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None


def peak_rss_mb() -> float:
    """This process's peak resident set size [MiB] (Linux reports ru_maxrss in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def gl_renderer_name(renderer) -> str:
    """GL_RENDERER of the renderer's context, e.g. 'llvmpipe (LLVM 15.0.6, 256 bits)'."""
    if renderer is None:
        return ""
    try:
        from OpenGL import GL

        renderer.renderer._gl_context.make_current()
        name = GL.glGetString(GL.GL_RENDERER)
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"
