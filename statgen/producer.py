"""Produce one shard: sample, label, render, encode, write. Runs inside a worker (a Ray actor).

A shard is a pure function of (config, seed, shard number): its generator is
``np.random.default_rng([seed, shard])`` and every random choice of the shard,
template choice included, comes from it in order.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from statgen.config import GenerateConfig, RobotSpec, TaskSpec
from statgen.schema import QA, SAMPLE_SCHEMA, Acceptance, Sample, ShardInfo, index_row, index_schema
from statgen.core import rosa, text
from statgen.faults import maybe_kill
from statgen.sim.assets import ResolvedModel
from statgen.sim.sampler import Sampler, set_qpos
from statgen.sim.scene import build_scene
from statgen.storage.fs import Store
from statgen.storage.index import write_index
from statgen.storage.shards import ShardWriter, index_name


MAX_BATCH = 64  # samples per phase of produce(); more gains nothing measurable
RENDER_BATCH_BYTES = 16 << 20  # raw image bytes a batch may hold [B]


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
    worker_pid: int = 0
    seconds: tuple[float, float] = (0.0, 0.0)  # wall clock [s since the epoch] when the shard started and finished


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
        self.index_schema = index_schema(self.scene.index.joint_names, cfg.cameras)
        self.renderer = None
        if render:
            from statgen.sim.render import CameraRenderer

            self.renderer = CameraRenderer(self.scene, render=cfg.render, depth=cfg.depth, seg=cfg.seg)

    def sample(self, rng: np.random.Generator, index: int, acc: Acceptance) -> Sample:
        """One accepted sample (state, cameras, text); self.sampler.data is left at it."""
        state, T_world_base, cameras = self.sampler.draw(rng, acc)
        ee_pos, euler = np.array(state.ee_pos), np.array(state.ee_euler_xyz)
        tokens = rosa.to_bins(rosa.rosa_vector(ee_pos=ee_pos, ee_euler_xyz=euler, gripper_open=state.gripper_open), self.ranges)
        natural = text.natural_text(rng=rng, ee_pos=ee_pos, ee_euler_xyz=euler, gripper_open=state.gripper_open,
                                    gripper_width=state.gripper_width, has_gripper=self.job.robot.has_gripper)
        return Sample(schema=SAMPLE_SCHEMA, index=index, robot=self.job.robot.name, task=self.job.task.name, state=state,
                      T_world_base=T_world_base, cameras=cameras,
                      text={"rosa": QA(text.ROSA_QUESTION, rosa.format_tokens(tokens)), "natural": QA(natural["question"], natural["answer"])})

    def render(self, sample: Sample) -> dict[str, dict[str, np.ndarray]]:
        """Images per camera of one sample's configuration (set again from its qpos, so FK is exact)."""
        set_qpos(self.scene, self.sampler.data, qpos=np.array(sample.state.qpos))
        return {cam: self.renderer.render(self.sampler.data, cam) for cam in self.job.config.cameras}

    def encode(self, sample: Sample, images: dict[str, dict[str, np.ndarray]]) -> dict[str, bytes]:
        """The tar members of one sample: images per camera, then the JSON."""
        from statgen.sim.render import encode_image

        cfg = self.job.config
        out: dict[str, bytes] = {}
        for cam in cfg.cameras:
            imgs = images[cam]
            out[f"{cam}.{cfg.image_format}"] = encode_image(imgs["rgb"], fmt=cfg.image_format, quality=cfg.jpeg_quality)
            if cfg.depth:
                out[f"{cam}.depth.png"] = encode_image(imgs["depth"], fmt="png")
            if cfg.seg:
                out[f"{cam}.seg.png"] = encode_image(imgs["seg"], fmt="png")
        out["json"] = orjson.dumps(sample.to_json(), option=orjson.OPT_SORT_KEYS)
        return out

    def batch_size(self) -> int:
        """Samples handled per phase: raw images of a batch stay under RENDER_BATCH_BYTES."""
        cfg = self.job.config
        per_pixel = 3 + (2 if cfg.depth else 0) + (1 if cfg.seg else 0)
        raw = sum(self.job.task.camera(c).width * self.job.task.camera(c).height * per_pixel for c in cfg.cameras)
        return max(1, min(MAX_BATCH, RENDER_BATCH_BYTES // raw))

    def produce(self, plan: ShardPlan, root: Store | Path, *, progress=None) -> ShardResult:
        """Write shard `plan.shard` and its index to `root`. Returns its info and acceptance counts.

        The shard is staged on local disk (for a local store: in place, under a hidden name)
        and published whole: an os.replace locally, a single upload on object storage.
        """
        started = time.time()
        store = root if isinstance(root, Store) else Store.open(str(root))
        stage = store.local_root if store.is_local else store.staging_dir()
        rng = shard_rng(self.job.config.seed, plan.shard)
        acc = Acceptance()
        rows = []
        try:
            with ShardWriter(stage, shard=plan.shard, first_index=plan.first_index, publish=store.put_file) as w:
                # In phases over a batch (label, render, encode and write), not sample by sample:
                # llvmpipe and Python then stop evicting each other's caches (make bench-levers measures it).
                batch = self.batch_size()
                for start in range(0, plan.count, batch):
                    indices = range(plan.first_index + start, plan.first_index + min(start + batch, plan.count))
                    samples = [self.sample(rng, index, acc) for index in indices]
                    images = [self.render(sample) for sample in samples]
                    for sample, imgs in zip(samples, images):
                        w.write(sample.index, self.encode(sample, imgs))
                        rows.append(index_row(sample, shard_name=w.name))
                        if sample.index - plan.first_index == plan.count // 2:
                            maybe_kill("mid_shard")
                    if progress is not None:
                        progress(len(samples))
            maybe_kill("after_shard_rename")
            index_sha = write_index(stage, index_name(plan.shard), rows, schema=self.index_schema, publish=store.put_file)
        finally:
            if not store.is_local:
                shutil.rmtree(stage, ignore_errors=True)
        return ShardResult(info=w.info, acceptance=acc, gl_renderer=gl_renderer_name(self.renderer), peak_rss_mb=peak_rss_mb(),
                           index_sha256=index_sha, worker_pid=os.getpid(), seconds=(started, time.time()))

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
