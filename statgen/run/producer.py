"""Produce one shard: a source draws configurations, a variation applies the look, labels are read
from that state, then rendered, encoded and written. Runs inside a worker (a Ray actor).

A shard is a pure function of (config, seed, shard number), through three streams
(ShardStreams): the configuration stream ``np.random.default_rng([seed, shard])`` (every
draw of the sample source and every text template choice, in order), the look stream
``[seed, shard, 1]`` (SceneVariation.draw) and the layout stream ``[seed, shard, 2]``
(SceneVariation.initialize_shard).

Per sample, in the label phase: a new look if the source asks for one (draw, apply), the
source's next configuration (feasible in the scene as it now is), its labels. In the render
phase: the sample's look applied again, its qpos set again, its images rendered. So labels
and pixels come from the same state, and batching stays correct.

The variation is the randomize level's (statgen.sim.looks): AsBuilt at "none", Looks at
"appearance" and "full". Its look is the sample's `scene` block. When a look's cameras leave no
feasible configuration in `max_draws_per_sample` draws (a jittered or shell view at "full"), a new
look is drawn and counted (Acceptance.new_views), up to MAX_NEW_VIEWS times.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import mujoco
import numpy as np
import orjson

from statgen.schema import QA, Acceptance, Action, ActionDelta, Episode, Sample, index_row, index_schema, sample_schema_of
from statgen.core import rosa, text
from statgen.core import trajectory as tj
from statgen.faults import maybe_kill
from statgen.sim.feasibility import Feasibility
from statgen.sim.labels import labels
from statgen.sim.scene import Scene, build_scene, set_qpos
from statgen.sim.looks import make_variation
from statgen.sim.sources import IndependentSource, NoFeasibleConfiguration, SampleSource, TrajectorySource
from statgen.sim.stage import LookConfig
from statgen.sim.variation import AS_BUILT, SceneParams, SceneVariation
from statgen.storage.fs import Store
from statgen.storage.index import write_index
from statgen.run.job import Job, ShardPlan, ShardResult
from statgen.sim.render import gl_renderer_name
from statgen.storage.shards import ShardWriter, index_name


MAX_BATCH = 64  # samples per phase of produce(); more gains nothing measurable
MAX_NEW_VIEWS = 20  # new looks drawn for one sample whose cameras leave no feasible configuration
RENDER_BATCH_BYTES = 16 << 20  # raw image bytes a batch may hold [B]


def shard_rng(seed: int, shard: int) -> np.random.Generator:
    """The shard's configuration stream: the sample source's draws and the text templates."""
    return np.random.default_rng([seed, shard])


@dataclass(frozen=True)
class ShardStreams:
    """A shard's random streams, each its own generator, so that one never shifts another."""

    configuration: np.random.Generator  # the source's draws, then the text templates, per sample in order
    look: np.random.Generator  # SceneVariation.draw
    layout: np.random.Generator  # SceneVariation.initialize_shard

    @classmethod
    def of(cls, seed: int, shard: int) -> ShardStreams:
        return cls(shard_rng(seed, shard), np.random.default_rng([seed, shard, 1]), np.random.default_rng([seed, shard, 2]))


class ShardProducer:
    """One shard = sample source + scene variation + labels + render + writer. Keeps the model and
    renderer warm across shards (one MjData: the state that labels and pixels are read from)."""

    def __init__(self, job: Job, *, render: bool = True, source: Callable[[Scene, mujoco.MjData, Feasibility], SampleSource] | None = None,
                 variation: Callable[[Scene], SceneVariation] | None = None):
        """source, variation: factories given the built scene (and the producer's MjData and Feasibility
        tests); by default IndependentSource (the pipeline's sampling settings) and the randomize
        level's variation (statgen.sim.looks.make_variation)."""
        self.job = job
        cfg = job.config
        self.scene = build_scene(robot=job.robot, task=job.task, resolved=job.model, cameras=cfg.cameras, render=cfg.render,
                                 look=LookConfig.of(cfg, job.task, job.user_files))
        self.data = mujoco.MjData(self.scene.model)
        self.feasibility = Feasibility(self.scene, self.data)
        self.trajectory = cfg.trajectory.mode == "trajectory"
        self.schema = sample_schema_of(cfg)
        if source is not None:
            self.source = source(self.scene, self.data, self.feasibility)
        elif self.trajectory:
            self.source = TrajectorySource(self.scene, self.data, settings=cfg.trajectory, limits=joint_limits(self.scene),
                                           feasibility=self.feasibility, require_visible=cfg.require_visible,
                                           max_draws_per_sample=cfg.max_draws_per_sample)
        else:
            self.source = IndependentSource(self.scene, self.data, feasibility=self.feasibility, require_visible=cfg.require_visible,
                                            max_draws_per_sample=cfg.max_draws_per_sample)
        self.renderer = None
        if render:
            from statgen.sim.render import CameraRenderer

            self.renderer = CameraRenderer(self.scene, render=cfg.render, depth=cfg.depth, seg=cfg.seg)
        self.variation = variation(self.scene) if variation is not None else make_variation(
            self.scene, uploader=self.renderer.upload_texture if self.renderer is not None else None)
        self.look: SceneParams = AS_BUILT  # the look applied now
        self.ranges = job.rosa_ranges
        self.index_schema = index_schema(self.scene.index.joint_names, cfg.cameras, trajectory=self.trajectory)

    def start_shard(self, shard: int) -> ShardStreams:
        """The shard's streams, with the variation and the source initialised for it."""
        streams = ShardStreams.of(self.job.config.seed, shard)
        self.variation.initialize_shard(rng=streams.layout, shard=shard)
        self.look = AS_BUILT
        self.source.initialize_shard(rng=streams.configuration)
        self.feasibility.refresh()  # the shard's layout may have edited the model
        return streams

    def sample(self, streams: ShardStreams, index: int, acc: Acceptance) -> tuple[Sample, SceneParams]:
        """One accepted sample and its look; self.data is left at its state."""
        if self.source.new_look():
            self._new_look(streams)
        for attempt in range(MAX_NEW_VIEWS + 1):
            try:
                conf = self.source.next(rng=streams.configuration, acc=acc)
                break
            except NoFeasibleConfiguration:
                if attempt == MAX_NEW_VIEWS or not self.look or self.look.get("level") != "full":
                    raise  # a scene whose cameras do not move: another look would not help
                acc.new_views += 1
                self._new_look(streams)
        rng = streams.configuration
        state, T_world_base, cameras = labels(self.scene, self.data)
        ee_pos, euler = np.array(state.ee_pos), np.array(state.ee_euler_xyz)
        tokens = rosa.to_bins(rosa.rosa_vector(ee_pos=ee_pos, ee_euler_xyz=euler, gripper_open=state.gripper_open), self.ranges)
        texts = {"rosa": QA(text.ROSA_QUESTION, rosa.format_tokens(tokens))}
        if "natural" in self.job.config.text_kinds:
            natural = text.natural_text(rng=rng, ee_pos=ee_pos, ee_euler_xyz=euler, gripper_open=state.gripper_open,
                                        gripper_width=state.gripper_width, has_gripper=self.job.robot.has_gripper)
            texts["natural"] = QA(natural["question"], natural["answer"])
        episode = None
        if conf.step is not None:  # a trajectory step: shards hold whole episodes, so the id follows from the index
            t = self.job.config.trajectory
            if index % t.steps != conf.step:
                raise RuntimeError(f"sample {index} is step {conf.step} of its episode, expected {index % t.steps}: shards must hold whole episodes")
            episode = Episode(id=index // t.steps, step=conf.step, steps=t.steps, hz=float(t.hz))
        sample = Sample(schema=self.schema, index=index, robot=self.job.robot.name, task=self.job.task.name, state=state,
                        T_world_base=T_world_base, cameras=cameras, text=texts, scene=self.look or None, episode=episode)
        return sample, self.look

    def with_actions(self, drawn: list[tuple[Sample, SceneParams]]) -> list[tuple[Sample, SceneParams]]:
        """Whole episodes' samples with their `action` (the next step's state; the last step's: its own) and the
        trajectory text kinds, in the pipeline's order."""
        kinds = [k for k in self.job.config.text_kinds if k in ("action", "forward", "inverse")]
        out = []
        for i, (s, look) in enumerate(drawn):
            last = s.episode.step == s.episode.steps - 1
            nxt = s if last else drawn[i + 1][0]
            assert nxt.episode.id == s.episode.id, "a batch must hold whole episodes"
            ns, tokens = nxt.state, nxt.text["rosa"].answer
            delta = tj.action_delta(ee_pos=np.array(s.state.ee_pos), ee_quat_wxyz=np.array(s.state.ee_quat_wxyz),
                                    gripper_open_fraction=s.state.gripper_open_fraction, next_pos=np.array(ns.ee_pos),
                                    next_quat_wxyz=np.array(ns.ee_quat_wxyz), next_gripper_open_fraction=ns.gripper_open_fraction)
            action = Action(ee_pos=ns.ee_pos, ee_quat_wxyz=ns.ee_quat_wxyz, ee_euler_xyz=ns.ee_euler_xyz,
                            gripper_open_fraction=ns.gripper_open_fraction, gripper_open=ns.gripper_open, tokens=tokens,
                            delta=ActionDelta(**delta))
            texts = dict(s.text)
            for k in kinds:
                texts[k] = QA(*text.transition_text(k, action_tokens=tokens, next_state_tokens=tokens))
            out.append((Sample(schema=s.schema, index=s.index, robot=s.robot, task=s.task, state=s.state, T_world_base=s.T_world_base,
                               cameras=s.cameras, text=texts, scene=s.scene, episode=s.episode, action=action), look))
        return out

    def _new_look(self, streams: ShardStreams) -> None:
        self.look = self.variation.draw(rng=streams.look)
        # What the draws and labels read; render() applies the whole look.
        getattr(self.variation, "apply_geometry", self.variation.apply)(self.look, data=self.data)
        if self.look:  # the scene changed: the feasibility tests' frames (front camera, base) follow it
            self.feasibility.refresh()

    def render(self, sample: Sample, look: SceneParams = AS_BUILT) -> dict[str, dict[str, np.ndarray]]:
        """Images per camera of one sample: its look applied again and its qpos set again, so the
        pixels show the state its labels were read from."""
        self.variation.apply(look, data=self.data)
        self.look = look
        set_qpos(self.scene, self.data, qpos=np.array(sample.state.qpos))
        return {cam: self.renderer.render(self.data, cam) for cam in self.job.config.cameras}

    def encode(self, sample: Sample, images: dict[str, dict[str, np.ndarray]]) -> dict[str, bytes]:
        """The tar members of one sample: images per camera, then the JSON."""
        from statgen.sim.render import encode_image

        cfg = self.job.config
        out: dict[str, bytes] = {}
        for cam in cfg.cameras:
            imgs = images[cam]
            out[f"{cam}.{cfg.image_format}"] = encode_image(imgs["rgb"], fmt=cfg.image_format, quality=cfg.jpeg_quality,
                                                            subsampling=cfg.jpeg_subsampling)
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
        started, cpu0 = time.time(), time.process_time()
        store = root if isinstance(root, Store) else Store.open(str(root))
        stage = store.local_root if store.is_local else store.staging_dir()
        streams = self.start_shard(plan.shard)
        acc = Acceptance()
        rows = []
        try:
            with ShardWriter(stage, shard=plan.shard, first_index=plan.first_index, publish=store.put_file) as w:
                # In phases over a batch (label, render, encode and write), not sample by sample:
                # llvmpipe and Python then stop evicting each other's caches (make bench-levers measures it).
                batch = self.batch_size()
                if self.trajectory:  # whole episodes per batch: an action is the next step's state
                    steps = self.job.config.trajectory.steps
                    batch = max(1, batch // steps) * steps
                for start in range(0, plan.count, batch):
                    indices = range(plan.first_index + start, plan.first_index + min(start + batch, plan.count))
                    drawn = [self.sample(streams, index, acc) for index in indices]
                    if self.trajectory:
                        drawn = self.with_actions(drawn)
                    images = [self.render(sample, look) for sample, look in drawn]
                    for (sample, _), imgs in zip(drawn, images):
                        w.write(sample.index, self.encode(sample, imgs))
                        rows.append(index_row(sample, shard_name=w.name))
                        if sample.index - plan.first_index == plan.count // 2:
                            maybe_kill("mid_shard")
                    if progress is not None:
                        progress(len(drawn))
            maybe_kill("after_shard_rename")
            index_sha = write_index(stage, index_name(plan.shard), rows, schema=self.index_schema, publish=store.put_file)
        finally:
            if not store.is_local:
                shutil.rmtree(stage, ignore_errors=True)
        return ShardResult(info=w.info, acceptance=acc, gl_renderer=gl_renderer_name(self.renderer), peak_rss_mb=peak_rss_mb(),
                           index_sha256=index_sha, worker_pid=os.getpid(), seconds=(started, time.time()), cpu_seconds=time.process_time() - cpu0)

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
            self.renderer = None


def joint_limits(scene: Scene) -> tj.JointLimits:
    """The arm joints' velocity and acceleration limits: the robot's own when its TOML declares them
    ([limits] velocity, acceleration), else the defaults from the joint ranges (core.trajectory)."""
    r = scene.robot
    vel, accel = getattr(r, "joint_velocity_limits", ()), getattr(r, "joint_acceleration_limits", ())
    default = tj.JointLimits.from_ranges(scene.index.arm_ranges)
    return tj.JointLimits(tuple(vel) or default.velocity, tuple(accel) or default.acceleration)


def peak_rss_mb() -> float:
    """This process's peak resident set size [MiB] (Linux reports ru_maxrss in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
