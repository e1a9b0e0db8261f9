"""Orchestration: validate, plan shards, run Ray actors, resume, progress, dataset.json.

The driver holds only per-shard metadata; workers write shards straight to storage.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

from statgen import __version__
from statgen.config import DATASET_SCHEMA, GenerateConfig, load_robot, load_task
from statgen.core.rosa import BINS, DIMS
from statgen.errors import ConfigError, RunError, StatgenError
from statgen.producer import Job, ShardPlan, ShardProducer, ShardResult, peak_rss_mb, plan_shards
from statgen.sim.assets import resolve_model, simplify_visual_meshes
from statgen.sim.sampler import Acceptance
from statgen.sim.scene import build_scene
from statgen.storage.run import RUN_DIR, RunLock, append_shard, read_json, read_shards, write_json_atomic
from statgen.storage.shards import ShardInfo, file_sha256, index_name, shard_name

IN_FLIGHT_PER_WORKER = 2
PROGRESS_EVERY_SAMPLES = 25


def run_identity(job: Job) -> dict[str, Any]:
    """What decides the data: config (minus where/how fast), robot, task, model files, schema."""
    strip = lambda d: {k: v for k, v in d.items() if k != "source_path"}  # noqa: E731
    return json.loads(json.dumps({
        "config": job.config.identity(),
        "robot": strip(dataclasses.asdict(job.robot)),
        "task": strip(dataclasses.asdict(job.task)),
        "model_sha256": job.model.model_sha256,
    }, sort_keys=True))


def config_of_run(out: Path) -> dict[str, Any]:
    """The flat config values a run was started with, from its _run/run.json."""
    run_json = out / RUN_DIR / "run.json"
    if not run_json.exists():
        raise ConfigError(f"--resume: {out} has no {RUN_DIR}/run.json to resume; pass --robot and --n to start a new run")
    cfg = dict(read_json(run_json, "run.json").get("identity", {}).get("config", {}))
    cfg.pop("schema", None)
    for k, v in cfg.pop("render", {}).items():
        cfg[f"render.{k}"] = v
    cfg["cameras"] = tuple(cfg.get("cameras", ("front",)))
    if cfg.get("rosa_ranges") is not None:
        cfg["rosa_ranges"] = tuple(tuple(r) for r in cfg["rosa_ranges"])
    return cfg


def prepare(cfg: GenerateConfig) -> tuple[Job, Path]:
    """Load and check everything; raises ConfigError before anything is written."""
    robot = load_robot(cfg.robot)
    task = load_task(cfg.task)
    for c in cfg.cameras:
        task.camera(c)
    model = resolve_model(robot, assets_dir=cfg.assets)
    model = simplify_visual_meshes(model, target_reduction=cfg.render.visual_reduction)
    job = Job(config=cfg, robot=robot, task=task, model=model)
    build_scene(robot=robot, task=task, resolved=model, cameras=cfg.cameras, render=cfg.render)  # names, ranges
    out = Path(cfg.out or f"data/{robot.name}")
    if "://" in str(cfg.out or ""):
        raise ConfigError(f"--out {cfg.out}: object storage is not supported yet; pass a local or shared-filesystem folder")
    return job, out.resolve()


def _diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(a) | set(b))
    out = []
    for k in keys:
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            out += _diff(a[k], b[k], f"{prefix}{k}.")
        elif a.get(k) != b.get(k):
            out.append(f"{prefix}{k}")
    return out


def check_out(out: Path, identity: dict[str, Any], *, resume: bool) -> None:
    """Refuse a non-empty --out without --resume, and a --resume whose identity differs."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a folder; choose another --out")
    if not out.exists() or not any(out.iterdir()):
        return
    run_json = out / RUN_DIR / "run.json"
    if not run_json.exists():
        raise ConfigError(f"--out {out}: not empty and not a statgen dataset; choose an empty or new folder")
    if not resume:
        raise ConfigError(f"--out {out}: already holds a dataset; pass --resume to continue it, or choose another --out")
    old = read_json(run_json, "run.json").get("identity", {})
    if old != identity:
        diffs = _diff(old, identity)
        raise ConfigError(f"--resume refused: {out} was made with a different config ({', '.join(diffs[:6])}{' ...' if len(diffs) > 6 else ''} differ); use the original flags or another --out")


def keep_finished(out: Path, plans: list[ShardPlan]) -> dict[int, tuple[ShardInfo, dict]]:
    """Shards of a stopped run whose checksum checks out; every other file in shards/ and index/ is removed."""
    expected = {shard_name(p.shard): p for p in plans}
    kept: dict[int, tuple[ShardInfo, dict]] = {}
    for info, extra in read_shards(out):
        p = expected.get(info.name)
        if p is None or info.first_index != p.first_index or info.samples != p.count:
            continue
        tar, idx = out / info.name, out / index_name(p.shard)
        if tar.is_file() and idx.is_file() and tar.stat().st_size == info.bytes and file_sha256(tar) == info.sha256:
            kept[p.shard] = (info, extra)
    keep_files = {info.name for info, _ in kept.values()} | {index_name(s) for s in kept}
    for sub in ("shards", "index"):
        d = out / sub
        if d.is_dir():
            for f in d.iterdir():
                if f"{sub}/{f.name}" not in keep_files:
                    f.unlink() if f.is_file() else shutil.rmtree(f)
    # shards.jsonl holds exactly the kept shards from here on.
    lines = [json.dumps({**info.as_dict(), **({"extra": extra} if extra else {})}, sort_keys=True) for info, extra in sorted(kept.values(), key=lambda x: x[0].name)]
    (out / RUN_DIR / "shards.jsonl").write_text("".join(line + "\n" for line in lines))
    return kept


class Progress:
    """A one-line progress report on stderr: samples, samples/s, ETA."""

    def __init__(self, *, total: int, done: int, label: str, enabled: bool = True):
        self.total, self.done0, self.done, self.label, self.enabled = total, done, done, label, enabled
        self.t0 = self.last = time.monotonic()
        self.tty = sys.stderr.isatty()

    def update(self, done: int, *, force: bool = False) -> None:
        self.done = done
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < (0.5 if self.tty else 10.0)):
            return
        self.last = now
        rate = (self.done - self.done0) / max(now - self.t0, 1e-9)
        left = self.total - self.done
        eta = "--" if rate <= 0 else _hms(left / rate)
        line = f"{self.label}: {self.done}/{self.total} samples ({100 * self.done / self.total:.0f}%)  {rate:.1f} samples/s  ETA {eta}"
        sys.stderr.write(("\r" + line + "   ") if self.tty else line + "\n")
        sys.stderr.flush()

    def finish(self) -> float:
        self.update(self.done, force=True)
        if self.enabled and self.tty:
            sys.stderr.write("\n")
        return (self.done - self.done0) / max(time.monotonic() - self.t0, 1e-9)


def _hms(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _run_ray(job: Job, todo: list[ShardPlan], out: Path, *, on_result: Callable[[ShardResult], None], on_progress: Callable[[int], None]) -> None:
    import ray

    cfg = job.config
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=True)
        if cfg.address:
            ray.init(address=cfg.address, **kwargs)
        else:
            ray.init(num_cpus=os.cpu_count(), **kwargs)
        started = True
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        n_workers = max(1, min(cfg.workers or cpus, len(todo)))
        # llvmpipe threads per worker: share the cores among the workers of this machine.
        lp_threads = max(1, (os.cpu_count() or 1) // n_workers) if not cfg.address else 1
        env = {"LP_NUM_THREADS": os.environ.get("LP_NUM_THREADS", str(lp_threads)), "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
        for var in ("MUJOCO_EGL_DEVICE_ID", "PYOPENGL_PLATFORM"):
            if var in os.environ:
                env[var] = os.environ[var]

        @ray.remote(num_cpus=1)
        class Worker:
            def __init__(self, job: Job):
                self.producer = ShardProducer(job)

            def produce(self, plan: ShardPlan, root: str, counter) -> ShardResult:
                pending = [0]

                def tick(k: int) -> None:
                    pending[0] += k
                    if pending[0] >= PROGRESS_EVERY_SAMPLES:
                        counter.add.remote(pending[0])
                        pending[0] = 0

                result = self.producer.produce(plan, Path(root), progress=tick)
                if pending[0]:
                    counter.add.remote(pending[0])
                return result

        @ray.remote(num_cpus=0)
        class Counter:
            def __init__(self):
                self.n = 0

            def add(self, k: int) -> None:
                self.n += k

            def value(self) -> int:
                return self.n

        counter = Counter.remote()
        job_ref = ray.put(job)
        workers = [Worker.options(runtime_env={"env_vars": env}).remote(job_ref) for _ in range(n_workers)]
        queue = list(todo)
        inflight: dict[Any, int] = {}

        def submit(w: int) -> None:
            if queue:
                plan = queue.pop(0)
                inflight[workers[w].produce.remote(plan, str(out), counter)] = w

        for w in range(n_workers):
            for _ in range(IN_FLIGHT_PER_WORKER):
                submit(w)
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=0.5)
            on_progress(ray.get(counter.value.remote()))
            for ref in ready:
                w = inflight.pop(ref)
                on_result(ray.get(ref))
                submit(w)
    except StatgenError:
        raise
    except ray.exceptions.RayError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, StatgenError):
            raise cause from None
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RunError(f"a worker failed ({type(e).__name__}: {first}); finished shards are kept: rerun with --resume") from e
    finally:
        if started:
            ray.shutdown()


def _versions(gl: str) -> dict[str, str]:
    from importlib.metadata import version

    import mujoco
    import numpy

    return {"statgen": __version__, "mujoco": mujoco.__version__, "dm_control": version("dm_control"), "numpy": numpy.__version__, "gl_renderer": gl}


def generate(cfg: GenerateConfig) -> dict[str, Any]:
    """Generate (or with cfg.resume, continue) a dataset. Returns dataset.json's content."""
    job, out = prepare(cfg)
    identity = run_identity(job)
    check_out(out, identity, resume=cfg.resume)
    plans = plan_shards(cfg.n, cfg.shard_size)
    out.mkdir(parents=True, exist_ok=True)
    with RunLock(out):
        run_json = out / RUN_DIR / "run.json"
        if not run_json.exists():
            write_json_atomic(run_json, {"schema": DATASET_SCHEMA, "identity": identity, "created": time.time()})
        (out / "dataset.json").unlink(missing_ok=True)
        kept = keep_finished(out, plans)
        todo = [p for p in plans if p.shard not in kept]
        done_before = sum(info.samples for info, _ in kept.values())
        results: dict[int, tuple[ShardInfo, dict]] = dict(kept)
        gl = next((e.get("gl_renderer", "") for _, e in kept.values() if e.get("gl_renderer")), "")
        progress = Progress(total=cfg.n, done=done_before, label=f"statgen {job.robot.name}", enabled=cfg.progress)

        def on_result(r: ShardResult) -> None:
            nonlocal gl
            shard = int(r.info.name.split("-")[-1].split(".")[0])
            extra = {"acceptance": r.acceptance.as_dict(), "gl_renderer": r.gl_renderer, "worker_peak_rss_mb": round(r.peak_rss_mb, 1)}
            append_shard(out, r.info, extra)
            results[shard] = (r.info, extra)
            gl = gl or r.gl_renderer

        if todo:
            _run_ray(job, todo, out, on_result=on_result, on_progress=lambda k: progress.update(done_before + k))
        rate = progress.finish()
        acc = Acceptance()
        for _, extra in results.values():
            a = extra.get("acceptance", {})
            acc.add(Acceptance(a.get("drawn", 0), a.get("accepted", 0), a.get("rejected", {})))
        dataset = {
            "schema": DATASET_SCHEMA, "statgen_version": __version__, "robot": job.robot.name, "task": job.task.name,
            "seed": cfg.seed, "samples": sum(info.samples for info, _ in results.values()),
            "config": identity["config"], "robot_spec": identity["robot"], "task_spec": identity["task"],
            "model_sha256": job.model.model_sha256,
            "rosa": {"dims": list(DIMS), "ranges": job.rosa_ranges.tolist(), "bins": BINS},
            "acceptance": acc.as_dict(), "versions": _versions(gl),
            "assets": [{"robot": job.robot.name, "source": job.model.source, "license": job.model.license}],
            "shards": [info.as_dict() for info, _ in sorted(results.values(), key=lambda x: x[0].name)],
            "samples_per_second": round(rate, 2) if todo else None,
            "resources": {
                "driver_peak_rss_mb": round(peak_rss_mb(), 1),
                "worker_peak_rss_mb": max((e.get("worker_peak_rss_mb", 0.0) for _, e in results.values()), default=0.0),
            },
        }
        if dataset["samples"] != cfg.n:
            raise RunError(f"internal error: {dataset['samples']} samples written, expected {cfg.n}; rerun with --resume")
        write_json_atomic(out / "dataset.json", dataset)
        return dataset
