"""`statgen verify`: trust, but check. Re-reads every shard and re-derives every label it can.

What it checks, in order:
1. dataset.json against itself (seed, robot, task, sample counts, the shard list, the ROSA
   ranges) and against the run's own record, `_run/run.json`, when the dataset has one;
2. every shard: size and sha256, every sample (JSON, images, ROSA answer), FK from the
   stored qpos, the shard's keys and its index file;
3. the seed: the first sample of each shard is drawn again from (seed, shard) with the
   sampler (FK only, no rendering) and its qpos must equal the stored one, so a seed or
   config that does not reproduce the data is caught even where `_run/` was not copied;
4. the episodes (schema 3, trajectory mode): dense steps of one id per episode, the action at step
   t equal to the state at step t+1 (its tokens to the ROSA answer, its floats to ACTION_TOL; the
   last step's to its own state), joint steps within the velocity limit / hz, and no FK-checked
   step in collision;
5. the pixels (schema 2): the first `render_samples` samples of each shard are rendered again from
   their `scene` record alone, encoded as generate encoded them, and compared with the stored
   image (RERENDER_TOL, measured: docs/FORMAT.md). Skipped, with a note, when this machine's GL
   renderer is not the one the dataset was made with.

The robot model is part of the environment, not of the dataset: when it cannot be found,
verify stops before reading any shard (ConfigError, exit 2) unless `fk=False` (`--no-fk`)
skips the checks that need it (2's FK and 3).
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from statgen.config import GenerateConfig, resolve_render
from statgen.config.check import rosa_ranges as _rosa_ranges
from statgen.config.settings import complete_identity
from statgen.core import rosa
from statgen.errors import ConfigError, StatgenError, StorePathError, VerifyError
from statgen.run.identity import diff_keys
from statgen.run.job import Job, plan_shards
from statgen.run.producer import ShardProducer, joint_limits
from statgen.sim.assets import resolve_model, simplify_for
from statgen.sim.library import user_files
from statgen.schema import Acceptance, DatasetInfo, Sample, SchemaError, ShardInfo, spec_json
from statgen.sim.labels import state_labels
from statgen.sim.feasibility import in_collision
from statgen.sim.scene import set_qpos
from statgen.storage.fs import Store
from statgen.storage.run import RUN_JSON
from statgen.storage.read import iter_shard, read_dataset_json
from statgen.storage.shards import index_name, shard_name
from statgen.wording import counted, their

FK_TOL = 1e-6  # [m] and unitless (quaternion, rot6d): stored floats are exact JSON reprs, FK is deterministic
REDRAW_TOL = 1e-9  # [rad or m]: a re-drawn qpos is the same arithmetic on the same random numbers
# A re-rendered image against the stored one, both decoded: the mean absolute difference over every
# pixel and channel [grey levels]. On the same GL renderer a re-render is measured bit-identical
# (difference 0.0 over every check in tests/test_verify_render.py and the README's runs); the bound
# leaves room for JPEG decoders that differ in their last bit, and a look applied wrongly (one
# surface's colour, a light, the camera moved a pixel) is far above it.
RERENDER_TOL = 0.5
ACTION_TOL = 1e-9  # [m, rad]: an action is the next step's state, copied
STEP_TOL = 1e-9  # [rad or m]: a joint step's allowance over v_max / hz (the plan keeps it exactly within)
MAX_PROBLEMS_PER_SHARD = 5  # a shard's reading stops here; the report then says how many samples were checked
SHARD_RE = re.compile(r"^shards/statgen-(\d{6})\.tar$")


@dataclass
class Report:
    root: str
    shard_status: list[tuple[str, str]] = field(default_factory=list)  # (name, "ok" | problems)
    problems: list[str] = field(default_factory=list)  # every problem; a shard's start with its name
    general: list[str] = field(default_factory=list)  # the problems that belong to no shard (dataset.json, _run/)
    notes: list[str] = field(default_factory=list)  # facts that are not problems
    samples: int = 0  # samples read from the shards
    listed: int = 0  # samples the shards listed in dataset.json hold
    fk_checked: int = 0
    redrawn: int = 0  # shards whose first sample was drawn again from the seed
    rerendered: int = 0  # samples rendered again from their scene record
    fk: bool = True  # False: --no-fk, the checks that need the robot model were skipped
    repair: str = ""  # how to repair, or why it cannot be repaired in place

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, p: str) -> None:
        self.general.append(p)
        self.problems.append(p)

    def lines(self) -> list[str]:
        out = [f"{'ok ' if s == 'ok' else 'BAD'} {name}{'' if s == 'ok' else ': ' + s}" for name, s in self.shard_status]
        out += [f"problem: {p}" for p in self.general]
        out += [f"note: {n}" for n in self.notes]
        checked = "" if self.samples == self.listed else f", checked {self.samples} of {self.listed} samples"
        if self.ok:
            how = f"{self.fk_checked} re-checked by FK, {counted(self.redrawn, 'shard')} re-drawn from the seed" if self.fk else "FK and seed checks skipped: --no-fk"
            how += f", {self.rerendered} re-rendered from {their(self.rerendered)} scene record" if self.rerendered else ""
            out.append(f"verified {counted(self.samples, 'sample')} in {counted(len(self.shard_status), 'shard')} ({how}): OK")
        else:
            out.append(f"{counted(len(self.problems), 'problem')} in {self.root}{checked}. {self.repair}")
        return out


class _FK:
    """Re-run FK from stored qpos, and re-draw a shard's first sample, with the dataset's robot and scene."""

    def __init__(self, ds: DatasetInfo, assets_dir: str | None, render: bool = False):
        import mujoco

        cfg = ds.config
        robot, task = ds.robot_spec, ds.task_spec  # the robot and scene as they were when the data was made (not today's TOML files)
        try:
            model = resolve_model(robot, assets_dir=assets_dir)
        except ConfigError as e:  # the environment's problem, not the dataset's: exit 2, before any shard is read
            raise ConfigError(f"verify needs the robot model to re-run FK: {' '.join(str(e).split())}; or pass --no-fk to check the rest without it") from None
        self.model_note = "" if model.model_sha256 == ds.model_sha256 else " (note: the robot model here differs from the one used)"
        try:
            if cfg.require_visible or render:  # the ray cast and the pixels see the rendered (decimated) meshes
                model = simplify_for(model, resolve_render(cfg.render, robot))
            # The producer itself (a renderer only to re-render): the re-draw takes the same steps as generate did.
            self.producer = ShardProducer(Job(config=cfg, robot=robot, task=task, model=model, user_files=user_files(cfg, task)), render=render)
        except StatgenError as e:
            raise ConfigError(f"verify cannot rebuild the dataset's scene with the robot model found here{self.model_note}: {' '.join(str(e).split())}; "
                              "pass --assets with the original model, or --no-fk") from None
        self.scene = self.producer.scene
        self.data = mujoco.MjData(self.scene.model)
        self.seed = cfg.seed
        self.render_skip = ""  # why pixels are not re-rendered here ("" = they are)
        if render:
            from statgen.sim.render import gl_renderer_name

            here, made = gl_renderer_name(self.producer.renderer), (ds.versions or {}).get("gl_renderer", "")
            if here != made:
                self.render_skip = f"pixels not re-rendered: this machine renders with {here!r}, the dataset was made with {made!r}"
        self.max_diff = 0.0  # the largest re-render difference seen [grey levels]

    def rerender(self, sample: Sample, fields: dict[str, bytes]) -> str | None:
        """Render the sample again from its `scene` record and qpos alone; a problem when an image differs
        from the stored one by more than RERENDER_TOL (mean absolute difference, both decoded)."""
        from PIL import Image

        cfg = self.producer.job.config
        images = self.producer.render(sample, sample.scene)
        encoded = self.producer.encode(sample, images)
        for cam in cfg.cameras:
            name = f"{cam}.{cfg.image_format}"
            a = np.asarray(Image.open(io.BytesIO(encoded[name])).convert("RGB"), dtype=np.float64)
            b = np.asarray(Image.open(io.BytesIO(fields[name])).convert("RGB"), dtype=np.float64)
            diff = float(np.abs(a - b).mean()) if a.shape == b.shape else float("inf")
            self.max_diff = max(self.max_diff, diff)
            if not diff <= RERENDER_TOL:
                return f"{name} differs from its re-render from the scene record by {diff:.3g} grey levels on average (bound {RERENDER_TOL})"
        return None

    def close(self) -> None:
        self.producer.close()

    def check(self, sample: Sample) -> str | None:
        st = sample.state
        if sample.scene is not None:  # schema 2: the sample's layout (base pose, table) and cameras, from its record
            self.producer.variation.apply(sample.scene, data=self.data)
        set_qpos(self.scene, self.data, qpos=np.asarray(st.qpos, dtype=float))
        ref, T_world_base = state_labels(self.scene, self.data)
        for k in ("ee_pos", "ee_quat_wxyz", "ee_euler_xyz", "ee_rot6d", "gripper_width", "gripper_open_fraction"):
            err = float(np.max(np.abs(np.asarray(getattr(ref, k), dtype=float) - np.asarray(getattr(st, k), dtype=float))))
            if not err <= FK_TOL:
                return f"{k} disagrees with FK from qpos by {err:.3g}{self.model_note}"
        if ref.gripper_open != st.gripper_open or ref.joint_names != st.joint_names:
            return f"gripper_open or joint_names disagree with FK{self.model_note}"
        err = float(np.max(np.abs(np.asarray(T_world_base) - np.asarray(sample.T_world_base))))
        if not err <= FK_TOL:
            return f"T_world_base disagrees with the scene by {err:.3g}"
        if sample.episode is not None and in_collision(self.scene, self.data):
            return "in collision (re-tested from its qpos in its scene)"
        return None

    def redraw(self, shard: int, sample: Sample) -> str | None:
        """Draw the shard's first sample again from (seed, shard); a problem when its qpos differs from the stored one."""
        try:
            redrawn, _ = self.producer.sample(self.producer.start_shard(shard), sample.index, Acceptance())
            q = np.asarray(redrawn.state.qpos, dtype=float)
        except StatgenError as e:
            return f"no re-draw from (seed {self.seed}, shard {shard}): {e}"
        stored = np.asarray(sample.state.qpos, dtype=float)
        if q.shape != stored.shape:
            return f"qpos has {stored.size} values, a re-draw from (seed {self.seed}, shard {shard}) has {q.size}"
        err = float(np.max(np.abs(q - stored)))
        if not err <= REDRAW_TOL:
            return f"qpos differs from a re-draw from (seed {self.seed}, shard {shard}) by up to {err:.3g}{self.model_note}"
        return None


def _check_sample(key: str, fields: dict[str, bytes], cfg: GenerateConfig, ranges: np.ndarray) -> tuple[Sample | None, str | None]:
    from PIL import Image

    if "json" not in fields:
        return None, f"sample {key}: no json member"
    try:
        raw = json.loads(fields["json"])
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, f"sample {key}: json does not parse"
    try:
        sample = Sample.from_json(raw)
    except SchemaError as e:
        return None, f"sample {key}: malformed json ({e})"
    if f"{sample.index:09d}" != key:
        return None, f"sample {key}: json index {sample.index} does not match the key"
    for cam in cfg.cameras:
        name = f"{cam}.{cfg.image_format}"
        if name not in fields:
            return None, f"sample {key}: missing {name}"
        if cam not in sample.cameras:
            return None, f"sample {key}: no labels for camera {cam!r} in its json"
        try:
            im = Image.open(io.BytesIO(fields[name]))
            im.load()
        except Exception as e:  # noqa: BLE001 - any decoder failure is the finding
            return None, f"sample {key}: {name} does not decode ({type(e).__name__})"
        c = sample.cameras[cam]
        if im.size != (c.width, c.height):
            return None, f"sample {key}: {name} is {im.size}, labels say {(c.width, c.height)}"
    st = sample.state
    tokens = rosa.to_bins(rosa.rosa_vector(ee_pos=np.array(st.ee_pos), ee_euler_xyz=np.array(st.ee_euler_xyz), gripper_open=st.gripper_open), ranges)
    answer = sample.text["rosa"].answer if "rosa" in sample.text else None
    if rosa.format_tokens(tokens) != answer:
        return None, f"sample {key}: ROSA answer {answer!r} does not match the state ({rosa.format_tokens(tokens)!r})"
    return sample, None


class _Episodes:
    """Per-episode checks of a trajectory shard, fed its samples in order (see the module's docstring, 4)."""

    def __init__(self, cfg: GenerateConfig, velocity: np.ndarray | None):
        self.t = cfg.trajectory
        self.on = self.t.mode == "trajectory"
        self.velocity = velocity  # arm joints' limits [rad/s or m/s]; None: not checked (no model here)
        self.prev: Sample | None = None

    def add(self, sample: Sample) -> str | None:
        if not self.on:
            return None if sample.episode is None else f"sample {sample.index:09d}: an episode block in a dataset made in independent mode"
        e, a = sample.episode, sample.action
        if e is None or a is None:
            return f"sample {sample.index:09d}: no episode or action block in a trajectory dataset"
        want = (sample.index // self.t.steps, sample.index % self.t.steps, self.t.steps, float(self.t.hz))
        if (e.id, e.step, e.steps, float(e.hz)) != want:
            return f"sample {sample.index:09d}: episode {{id {e.id}, step {e.step}, steps {e.steps}, hz {e.hz}}}, expected {{id {want[0]}, step {want[1]}, steps {want[2]}, hz {want[3]}}}"
        prev, self.prev = self.prev, sample
        out = None
        if prev is not None and prev.episode.id == e.id:
            out = _action_problem(prev, sample, "the next step's state")
            if out is None and self.velocity is not None:
                n = len(self.velocity)
                step = np.abs(np.asarray(sample.state.qpos[:n]) - np.asarray(prev.state.qpos[:n]))
                over = step - self.velocity / float(e.hz)
                if np.any(over > STEP_TOL):
                    j = int(np.argmax(over))
                    out = f"joint {sample.state.joint_names[j]} moved {step[j]:.4g} in one step, over its velocity limit / hz = {self.velocity[j] / e.hz:.4g}"
            if out:
                return f"sample {prev.index:09d} (episode {e.id}, step {prev.episode.step} -> {e.step}): {out}"
        if e.step == e.steps - 1:
            out = _action_problem(sample, sample, "its own state (the last step)")
        return out and f"sample {sample.index:09d} (episode {e.id}, step {e.step}): {out}"


def _action_problem(cur: Sample, nxt: Sample, what: str) -> str | None:
    a, st = cur.action, nxt.state
    if a.tokens != nxt.text["rosa"].answer:
        return f"action tokens {a.tokens!r} are not {what}'s ROSA answer {nxt.text['rosa'].answer!r}"
    for k in ("ee_pos", "ee_quat_wxyz", "ee_euler_xyz"):
        err = float(np.max(np.abs(np.asarray(getattr(a, k)) - np.asarray(getattr(st, k)))))
        if not err <= ACTION_TOL:
            return f"action {k} differs from {what} by {err:.3g}"
    if a.gripper_open != st.gripper_open or abs(a.gripper_open_fraction - st.gripper_open_fraction) > ACTION_TOL:
        return f"action gripper differs from {what}"
    return None


# --------------------------------------------------------------------------- dataset.json


def _made_with_ranges(ds: DatasetInfo) -> tuple[np.ndarray, str]:
    """The ROSA ranges the samples were made with: config.rosa_ranges, else the robot's."""
    src = "config.rosa_ranges" if ds.config.rosa_ranges is not None else "robot_spec.rosa_ranges"
    v = ds.config.rosa_ranges if ds.config.rosa_ranges is not None else ds.robot_spec.rosa_ranges
    try:
        return np.array(_rosa_ranges(json.loads(json.dumps(v)), f"dataset.json: {src}"), dtype=float), src
    except ConfigError as e:
        raise VerifyError(f"{e}; without them verify cannot check the ROSA answers") from None


def _check_dataset_json(store: Store, ds: DatasetInfo, rep: Report) -> np.ndarray:
    """dataset.json against itself and against _run/run.json. Returns the ROSA ranges to check samples against."""
    cfg = ds.config
    for k in ("seed", "robot", "task"):
        if getattr(ds, k) != getattr(cfg, k):
            rep.problem(f"dataset.json: {k} is {getattr(ds, k)!r} but config.{k} is {getattr(cfg, k)!r}")
    ranges, src = _made_with_ranges(ds)
    listed = ds.rosa.ranges
    try:
        same = np.array(listed, dtype=float).shape == ranges.shape and np.array_equal(np.array(listed, dtype=float), ranges)
    except (TypeError, ValueError):
        same = False
    if not same:
        try:
            dims = [d for d, a, b in zip(rosa.DIMS, listed, ranges.tolist()) if list(a) != b]
        except TypeError:
            dims = []
        rep.problem(f"dataset.json: rosa.ranges {listed!r} differ from the ranges the samples were made with ({src} {ranges.tolist()})"
                    + (f" in {', '.join(dims)}" if dims else "") + "; decoding tokens with them would be wrong")
    if cfg.n == sum(s.samples for s in ds.shards):
        plan = [(shard_name(p.shard), p.first_index, p.count) for p in plan_shards(cfg.n, cfg.shard_size)]
        got = sorted((s.name, s.first_index, s.samples) for s in ds.shards)
        if got != plan:
            diff = next(((g, p) for g, p in zip(got, plan) if g != p), (None, None))
            where = (f"{diff[0][0]} lists first_index {diff[0][1]}, {diff[0][2]} samples; expected {diff[1][0]} with first_index {diff[1][1]}, {diff[1][2]} samples"
                     if diff[0] else f"{counted(len(got), 'shard')} listed, {len(plan)} expected")
            rep.problem(f"dataset.json: the shard list does not match config.n {cfg.n} and config.shard_size {cfg.shard_size}: {where}")
    if not store.exists(RUN_JSON):
        rep.notes.append(f"no {RUN_JSON} here (not copied?): dataset.json is checked against the data only")
        rep.repair = (f"This copy has no {RUN_JSON}, so `statgen generate --resume` cannot repair it: copy it again from its source, "
                      "or generate it again into a new folder with its original flags")
        return ranges
    try:
        identity = json.loads(store.read_bytes(RUN_JSON))["identity"]
        if not isinstance(identity, dict):
            raise TypeError("identity is not an object")
    except (ValueError, KeyError, TypeError) as e:
        rep.problem(f"{RUN_JSON}: unreadable ({type(e).__name__}); it is what `statgen generate --resume` continues from")
        rep.repair = "Without a readable run.json it cannot be repaired in place: copy the dataset again from its source, or generate it again with its original flags"
        return ranges
    recorded = identity.get("config", {})
    recorded = complete_identity(recorded) if isinstance(recorded, dict) else recorded  # made before a setting existed: its legacy value
    diffs = (diff_keys(recorded, ds.config_json(), "config.") + diff_keys(identity.get("robot", {}), spec_json(ds.robot_spec), "robot_spec.")
             + diff_keys(identity.get("task", {}), spec_json(ds.task_spec), "task_spec."))
    if identity.get("model_sha256") != ds.model_sha256:
        diffs.append("model_sha256")
    if diffs:
        rep.problem(f"dataset.json differs from the run's record ({RUN_JSON}) in {', '.join(diffs[:6])}{' ...' if len(diffs) > 6 else ''}")
    rep.repair = (f"Repair: `statgen generate --resume --out {store.uri}` keeps the shards whose sha256 matches the run's log, "
                  "writes the rest again, and rewrites dataset.json from the run's record")
    return ranges


# --------------------------------------------------------------------------- shards


@dataclass
class _Shard:
    name: str
    problems: list[str] = field(default_factory=list)
    read: int = 0  # samples read
    exact: bool = False  # read to the end, and it holds exactly its listed keys
    note: str = ""
    redraw: str | None = None  # the re-draw's problem, kept apart until every shard has been re-drawn


def _key_problems(keys: list[str], first: int, count: int) -> list[str]:
    """What is wrong with a fully read shard's keys (the tar member keys), in words with true counts."""
    expected = [f"{i:09d}" for i in range(first, first + count)]
    if keys == expected:
        return []
    if len(keys) < count and keys == expected[: len(keys)]:  # a cut, or a damaged header (a tar stream ends there)
        return [f"the tar ends after {len(keys)} of {count} samples"]
    got, want = set(keys), set(expected)
    missing, extra = sorted(want - got), sorted(got - want)
    out = [f"holds {len(keys)} samples, dataset.json lists {count}"] if len(keys) != count else []
    if missing:
        out.append(f"{counted(len(missing), 'key')} missing ({missing[0]}{'..' + missing[-1] if len(missing) > 1 else ''})")
    if extra:
        out.append(f"{counted(len(extra), 'key')} outside {expected[0] if expected else first}..{expected[-1] if expected else first} ({extra[0]}{'..' + extra[-1] if len(extra) > 1 else ''})")
    if len(got) != len(keys):
        out.append(f"{counted(len(keys) - len(got), 'key')} repeated within the shard")
    if not out:
        out.append("keys out of order")
    return out


def _check_shard(store: Store, s: ShardInfo, cfg: GenerateConfig, ranges: np.ndarray, fk: _FK | None, fk_samples: int,
                 seen: dict[str, str], rep: Report, render_samples: int = 0) -> _Shard:
    name, first, count = s.name, s.first_index, s.samples
    sh = _Shard(name)
    problems = sh.problems
    try:
        present = store.exists(name)
    except StorePathError:
        problems.append("not a path inside the dataset")
        return sh
    if not present:
        problems.append("missing")
        return sh
    size = store.size(name)
    if size != s.bytes:
        problems.append(f"size {size} bytes, expected {s.bytes} (truncated or altered)")
    elif store.sha256(name) != s.sha256:
        problems.append("sha256 mismatch (corrupted or altered)")
    m = SHARD_RE.match(name)
    shard = int(m.group(1)) if m else None
    keys: list[str] = []
    stopped = ""
    episodes = _Episodes(cfg, None if fk is None else np.asarray(joint_limits(fk.scene).velocity))
    try:
        for i, (key, fields) in enumerate(iter_shard(store, name)):
            keys.append(key)
            if key in seen:
                problems.append(f"duplicate key {key} (also in {seen[key]})")
            seen.setdefault(key, name)
            try:
                sample, err = _check_sample(key, fields, cfg, ranges)
                if err:
                    problems.append(err)
                e = episodes.add(sample) if sample is not None else None
                if e:
                    problems.append(e)
                if sample is not None and fk is not None:
                    if fk_samples == 0 or i < fk_samples:
                        rep.fk_checked += 1
                        e = fk.check(sample)
                        if e:
                            problems.append(f"sample {key}: {e}")
                    if i < render_samples and sample.scene is not None and not fk.render_skip and fk.producer.renderer is not None:
                        rep.rerendered += 1
                        e = fk.rerender(sample, fields)
                        if e:
                            problems.append(f"sample {key}: {e}")
                    if i == 0 and shard is not None and sample.index == first:
                        rep.redrawn += 1
                        e = fk.redraw(shard, sample)
                        sh.redraw = e and f"sample {key}: {e}"
            except (KeyError, TypeError, ValueError, IndexError) as e:
                problems.append(f"sample {key}: malformed json ({type(e).__name__}: {e})")
            if len(problems) >= MAX_PROBLEMS_PER_SHARD:
                stopped = f"stopped after {MAX_PROBLEMS_PER_SHARD} problems"
                break
    except (tarfile.TarError, EOFError, OSError) as e:
        problems.append(f"not a readable tar ({type(e).__name__}: {e}): checked {len(keys)} of {count} samples")
        stopped = "unreadable"
    sh.read = len(keys)
    if stopped == "unreadable":
        pass  # its problem says how many samples were checked
    elif stopped:
        sh.note = f"{stopped}: checked {len(keys)} of {count} samples"
    else:
        kp = _key_problems(keys, first, count)
        problems += kp
        sh.exact = not kp
    if shard is not None:
        idx = index_name(shard)
        try:
            with store.open_input(idx) as f:
                t = pq.read_table(f, columns=["index"])
            if t.column("index").to_pylist() != list(range(first, first + count)):
                problems.append(f"{idx}: index rows do not match the shard")
        except Exception as e:  # noqa: BLE001 - missing or unreadable: the finding
            problems.append(f"index {idx} missing or unreadable ({type(e).__name__})")
    return sh


def verify(root: str | Path, *, fk_samples: int | None = None, assets_dir: str | None = None, fk: bool = True,
           render_samples: int | None = None) -> Report:
    """Check a dataset (a folder or an s3:// / gs:// prefix).

    fk_samples: FK re-checks per shard (0 or None = every sample). fk=False (`--no-fk`) skips
    the checks that need the robot model: FK, the seed re-draw and the re-render. render_samples:
    samples per shard rendered again from their scene record (schema 2; None = 1, 0 = none). A robot model that cannot
    be found is a ConfigError (exit 2), raised before any shard is read.
    """
    if fk_samples is not None and not (isinstance(fk_samples, int) and not isinstance(fk_samples, bool) and fk_samples >= 0):
        raise ConfigError(f"--fk-samples: expected 0 (every sample) or a positive number of samples per shard, got {fk_samples}")
    if not fk and fk_samples is not None:
        raise ConfigError(f"--fk-samples {fk_samples} and --no-fk contradict each other; pass one of them")
    if render_samples is not None and not (isinstance(render_samples, int) and not isinstance(render_samples, bool) and render_samples >= 0):
        raise ConfigError(f"--render-samples: expected 0 (none) or a positive number of samples per shard, got {render_samples}")
    if not fk and render_samples:
        raise ConfigError(f"--render-samples {render_samples} and --no-fk contradict each other (re-rendering needs the robot model); pass one of them")
    asked_to_render = render_samples is not None
    render_samples = 1 if render_samples is None else render_samples
    store = Store.open(str(root))
    ds = read_dataset_json(store, damaged=VerifyError)
    rep = Report(root=store.uri, fk=fk)
    cfg = ds.config
    ranges = _check_dataset_json(store, ds, rep)
    rerender = bool(render_samples) and ds.schema != "statgen.dataset/1" and fk  # schema 1 has no scene record
    if rerender:  # only the re-render needs GL: without it the default re-render is skipped and said so
        from statgen.sim.gl import rendering_problem

        problem = rendering_problem()
        if problem and asked_to_render:
            raise ConfigError(f"--render-samples {render_samples}: this machine cannot render: {problem}")
        if problem:
            rerender = False
            rep.notes.append(f"no sample re-rendered from its scene record (this machine cannot render: {problem.split(';')[0]}); "
                             "everything else was checked")
    checker = _FK(ds, assets_dir, render=rerender) if fk else None  # before any shard is read: a missing model stops here
    if checker is not None and checker.render_skip:
        rep.notes.append(checker.render_skip)
    listed = {s.name for s in ds.shards}
    on_disk = {rel for rel in store.list("shards") if rel.endswith(".tar")}
    for extra in sorted(on_disk - listed):
        rep.shard_status.append((extra, "not listed in dataset.json (extra or from another dataset)"))
        rep.problems.append(f"{extra}: not listed in dataset.json")
    seen: dict[str, str] = {}
    try:
        shards = [_check_shard(store, s, cfg, ranges, checker, fk_samples or 0, seen, rep, render_samples)
                  for s in sorted(ds.shards, key=lambda s: (s.first_index, s.name))]
    finally:
        if checker is not None:
            checker.close()
    if rep.rerendered:
        rep.notes.append(f"{counted(rep.rerendered, 'sample')} re-rendered from {their(rep.rerendered)} scene record: largest mean difference {checker.max_diff:.3g} grey levels (bound {RERENDER_TOL})")
    rep.samples = sum(sh.read for sh in shards)
    rep.listed = sum(s.samples for s in ds.shards)
    redraws = [sh.redraw for sh in shards if sh.redraw is not None]
    if redraws and len(redraws) == rep.redrawn:  # no shard reproduces: dataset.json's seed or config, not the shards
        rep.problem(f"the data does not reproduce from dataset.json's seed {cfg.seed} and config: the first sample of "
                    f"{'the only shard' if rep.redrawn == 1 else f'each of the {rep.redrawn} shards'} differs from its re-draw "
                    "(seed or config edited, or the shards come from another run)")
    else:
        for sh in shards:
            if sh.redraw:
                sh.problems.append(sh.redraw)
    for sh in shards:
        status = "; ".join(sh.problems[:MAX_PROBLEMS_PER_SHARD]) + (f" ({sh.note})" if sh.note else "")
        rep.shard_status.append((sh.name, status or "ok"))
        rep.problems += [f"{sh.name}: {p}" for p in sh.problems]
    n, total = cfg.n, ds.samples
    if total != rep.listed or n != rep.listed:
        said = [f"says {total} samples" if total != rep.listed else "", f"config.n is {n}" if n != rep.listed else ""]
        hold = "its shards hold" if all(sh.exact for sh in shards) else "its shard list adds up to"
        rep.problem(f"dataset.json {' and '.join(x for x in said if x)}, but {hold} {rep.listed}")
    return rep
