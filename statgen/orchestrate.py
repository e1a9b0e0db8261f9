"""Orchestration: validate, plan shards, run Ray actors, resume, progress, dataset.json.

The driver holds only per-shard metadata; workers write shards straight to storage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import pathlib
import re
import signal
import subprocess
import sys
import time
from typing import IO, Any, Callable

from statgen import __version__
from statgen.config import GenerateConfig, load_robot, load_task
from statgen.config.settings import complete_identity, values_from_identity
from statgen.schema import DATASET_SCHEMA, SAMPLE_SCHEMA, Acceptance, AssetInfo, DatasetInfo, Resources, RosaInfo, SchemaError, ShardInfo, spec_json
from statgen.core.rosa import BINS, DIMS
from statgen.errors import ConfigError, Interrupted, RunError, StatgenError
from statgen.faults import maybe_kill
from statgen.lifecycle import RayWatchdog, SignalGuard, signal_name
from statgen.producer import Job, ShardPlan, ShardProducer, ShardResult, peak_rss_mb, plan_shards
from statgen.sim.assets import resolve_model, simplify_visual_meshes
from statgen.sim.scene import build_scene
from statgen.storage.fs import Store
from statgen.storage.run import RUN_DIR, SHARDS_JSONL, RunLock, ShardLog, read_json, read_shards, write_json
from statgen.storage.shards import index_name, shard_name

RUN_JSON = f"{RUN_DIR}/run.json"

IN_FLIGHT_PER_WORKER = 2
PROGRESS_POLL_S = 1.0
MAX_SHARD_ATTEMPTS = 4  # a shard whose worker dies is retried on a new worker up to this many times

log = logging.getLogger("statgen")


def _lost_worker_errors() -> tuple[type[BaseException], ...]:
    import ray.exceptions as rex

    names = ("ActorDiedError", "RayActorError", "WorkerCrashedError", "NodeDiedError", "ObjectLostError", "ActorUnavailableError", "OwnerDiedError")
    return tuple(getattr(rex, n) for n in names if hasattr(rex, n))


def run_identity(job: Job) -> dict[str, Any]:
    """What decides the data: config (minus where/how fast), robot, task, model files, schema."""
    config = {**job.config.identity(), "schema": SAMPLE_SCHEMA, "robot": job.robot.name, "task": job.task.name}  # content, not location
    return json.loads(json.dumps({
        "config": config,
        "robot": spec_json(job.robot),
        "task": spec_json(job.task),
        "model_sha256": job.model.model_sha256,
        "rendered_model_sha256": job.model.assets_sha256,  # the meshes actually rendered (after simplification)
    }, sort_keys=True))


def config_of_run(out: str) -> dict[str, Any]:
    """The flat config values a run was started with, from its _run/run.json."""
    store = Store.open(out)
    if not store.exists(RUN_JSON):
        raise ConfigError(f"--resume: {store.uri} has no {RUN_JSON} to resume; pass --robot and --n to start a new run")
    run = read_json(store, RUN_JSON, "run.json")
    values = values_from_identity(run.get("identity", {}).get("config", {}))
    values.update(run.get("config_source", {}))  # the robot/task as given: a name or a file path
    return values


def prepare(cfg: GenerateConfig) -> tuple[Job, Store]:
    """Load and check everything; raises ConfigError before anything is written."""
    robot = load_robot(cfg.robot)
    task = load_task(cfg.task)
    for c in cfg.cameras:
        task.camera(c)
    model = resolve_model(robot, assets_dir=cfg.assets)
    model = simplify_visual_meshes(model, target_reduction=cfg.render.visual_reduction)
    job = Job(config=cfg, robot=robot, task=task, model=model)
    build_scene(robot=robot, task=task, resolved=model, cameras=cfg.cameras, render=cfg.render)  # names, ranges
    store = Store.open(cfg.out or f"data/{robot.name}")
    return job, store


def _diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(a) | set(b))
    out = []
    for k in keys:
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            out += _diff(a[k], b[k], f"{prefix}{k}.")
        elif a.get(k) != b.get(k):
            out.append(f"{prefix}{k}")
    return out


def is_dataset(out: Store) -> bool:
    """True when `out` holds a statgen dataset (finished or not): _run/run.json or dataset.json."""
    return out.exists(RUN_JSON) or out.exists("dataset.json")


def check_out(out: Store, identity: dict[str, Any], *, resume: bool, overwrite: bool = False) -> None:
    """Refuse a non-empty --out without --resume or --overwrite, a --resume whose identity differs,
    and an --overwrite of anything that is not a statgen dataset."""
    if out.is_empty():
        return
    if overwrite:
        if not is_dataset(out):
            raise ConfigError(f"--overwrite refused: {out.uri} is not a statgen dataset (no {RUN_JSON} or dataset.json); "
                              "statgen only replaces its own datasets: choose an empty or new folder")
        return
    if not out.exists(RUN_JSON):
        raise ConfigError(f"--out {out.uri}: not empty and not a statgen dataset; choose an empty or new folder")
    if not resume:
        raise ConfigError(f"--out {out.uri}: already holds a dataset; pass --resume to continue it, --overwrite to replace it, or choose another --out")
    old = read_json(out, RUN_JSON, "run.json").get("identity", {})
    if isinstance(old, dict) and isinstance(old.get("config"), dict):  # made before a setting existed: with its default
        old = {**old, "config": complete_identity(old["config"])}
    if old != identity:
        diffs = _diff(old, identity)
        raise ConfigError(f"--resume refused: {out.uri} was made with a different config ({', '.join(diffs[:6])}{' ...' if len(diffs) > 6 else ''} differ); "
                          "use the original flags, replace it with --overwrite (instead of --resume), or choose another --out")


def remove_dataset_files(out: Store) -> None:
    """Delete what statgen writes into a dataset (dataset.json first, so no reader takes what is
    left for complete; then shards, index, partial files, shards.jsonl and run.json). Other files
    are left alone, and so is the lock: the caller holds it."""
    out.delete("dataset.json")
    for sub in ("shards", "index"):
        for rel in out.list(sub):
            out.delete(rel)
    sweep_partials(out)
    out.delete(SHARDS_JSONL)
    out.delete(RUN_JSON)


def _new_dirs(out: Store) -> list[pathlib.Path]:
    """The local folders from --out up to its first existing ancestor: what a run creates, deepest first."""
    if not out.is_local:
        return []
    dirs, d = [], out.local_root
    while not d.exists() and d != d.parent:
        dirs.append(d)
        d = d.parent
    return dirs


def _remove_empty_dirs(out: Store, new_dirs: list[pathlib.Path]) -> None:
    """rmdir (never a recursive delete) the dataset's own sub-folders, then the folders this run created."""
    if not out.is_local:
        return
    for d in [out.local_root / sub for sub in ("index", "shards", RUN_DIR)] + new_dirs:
        try:
            d.rmdir()
        except OSError:
            pass  # not empty (someone else's file) or already gone: leave it


def already_complete(out: Store, identity: dict[str, Any], plans: list[ShardPlan]) -> DatasetInfo | None:
    """dataset.json when the dataset in `out` is finished and intact: it matches this config, and
    every shard and index file has its recorded size and sha256. Else None (a real resume then
    repairs what is missing or damaged)."""
    if not out.exists("dataset.json"):
        return None
    try:
        ds = DatasetInfo.from_json(json.loads(out.read_bytes("dataset.json")))
    except (ValueError, UnicodeDecodeError, SchemaError):
        return None
    listed = ds.shards
    if ds.config_json() != identity["config"] or ds.samples != sum(p.count for p in plans):
        return None
    if [(i.name, i.first_index, i.samples) for i in listed] != [(shard_name(p.shard), p.first_index, p.count) for p in plans]:
        return None
    logged = {info.name: (info, extra) for info, extra in read_shards(out)}
    for info, p in zip(listed, plans):
        if info.name not in logged or logged[info.name][0] != info:
            return None
        idx = index_name(p.shard)
        if not (out.exists(info.name) and out.exists(idx) and out.size(info.name) == info.bytes
                and out.sha256(info.name) == info.sha256 and out.sha256(idx) == logged[info.name][1].get("index_sha256")):
            return None
    return ds


def keep_finished(out: Store, plans: list[ShardPlan], log_: ShardLog) -> dict[int, tuple[ShardInfo, dict]]:
    """Shards of a stopped run whose checksum checks out; every other file in shards/ and index/ is removed."""
    expected = {shard_name(p.shard): p for p in plans}
    kept: dict[int, tuple[ShardInfo, dict]] = {}
    for info, extra in read_shards(out):
        p = expected.get(info.name)
        if p is None or info.first_index != p.first_index or info.samples != p.count:
            continue
        idx = index_name(p.shard)
        if (out.exists(info.name) and out.exists(idx) and out.size(info.name) == info.bytes and out.sha256(info.name) == info.sha256
                and out.sha256(idx) == extra.get("index_sha256")):
            kept[p.shard] = (info, extra)
    keep_files = {info.name for info, _ in kept.values()} | {index_name(s) for s in kept}
    for sub in ("shards", "index"):
        for rel in out.list(sub):
            if rel not in keep_files:
                out.delete(rel)
    sweep_partials(out)
    log_.reset(sorted(kept.values(), key=lambda x: x[0].name))  # shards.jsonl holds exactly the kept shards
    return kept


def sweep_partials(out: Store) -> None:
    """Remove the hidden partial and temporary files of writers that died, failed or were
    stopped: a shard's or index's partial file (local stores), the temporary of an atomic
    write, or the hidden upload of a failed or interrupted one (object storage)."""
    for sub in ("shards", "index", RUN_DIR, ""):
        for rel in out.list_hidden(sub):
            name = rel.rsplit("/", 1)[-1]
            if ".partial-" in name or name.endswith(".tmp"):
                out.delete(rel)


class Progress:
    """A one-line progress report: samples, samples/s, ETA. The count never goes back (workers report
    partial shards, and a shard's samples move from "partial" to "finished" between two polls), and
    finish() prints the final count. On a terminal the line is redrawn (at most every 0.5 s);
    elsewhere a line is printed every 10 s. `stream`, `tty` and `clock` are there for tests."""

    def __init__(self, *, total: int, done: int, label: str, enabled: bool = True, stream: IO[str] | None = None,
                 tty: bool | None = None, clock: Callable[[], float] = time.monotonic):
        self.total, self.done0, self.done, self.label, self.enabled = total, done, done, label, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(self.stream.isatty()) if tty is None else tty
        self.clock = clock
        self.t0 = self.last = clock()
        self.drawn = False  # a redrawn line is on the terminal

    def rate(self) -> float:
        return (self.done - self.done0) / max(self.clock() - self.t0, 1e-9)

    def update(self, done: int, *, force: bool = False) -> None:
        self.done = min(self.total, max(self.done, done))
        now = self.clock()
        if not self.enabled or (not force and now - self.last < (0.5 if self.tty else 10.0)):
            return
        self.last = now
        rate = self.rate()
        left = self.total - self.done
        eta = "--" if rate <= 0 else _hms(left / rate)
        line = f"{self.label}: {self.done}/{self.total} samples ({100 * self.done / self.total:.0f}%)  {rate:.1f} samples/s  ETA {eta}"
        self.stream.write(("\r" + line + "   ") if self.tty else line + "\n")
        self.stream.flush()
        self.drawn = self.tty

    def note(self, text: str) -> None:
        """A line of its own (e.g. what a resume kept), below any progress line."""
        if self.enabled:
            self.stream.write(("\n" if self.drawn else "") + f"{self.label}: {text}\n")
            self.stream.flush()
            self.drawn = False

    def finish(self, done: int) -> float:
        """The final count (exact: it may be lower than a partial count seen before only if work
        was lost and redone, which cannot happen once every shard is finished). Returns samples/s."""
        self.done = done
        self.update(done, force=True)
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
        return self.rate()


def _hms(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


RAY_CONNECT_TIMEOUT_S = 10.0  # a TCP connection to --address
RAY_PROBE_TIMEOUT_S = 15.0  # a Ray head answering there (includes importing ray in the probe, about 1 s)

# Run in a subprocess, so that Ray's C++ client logs (its stderr) and its retries, which go on for
# minutes against something that is not a Ray head, stay out of statgen's output.
_GCS_PROBE = (
    "import sys\n"
    "from ray._private.services import canonicalize_bootstrap_address_or_die\n"
    "from ray._raylet import GcsClient\n"
    "GcsClient(address=canonicalize_bootstrap_address_or_die(sys.argv[1]))\n"
)


def _probe_address(address: str) -> None:
    """Fail fast, and quietly, when no Ray head answers at --address: first a plain TCP connection
    (a closed port, a host that drops packets), then a Ray client in a subprocess (something that
    listens but is not Ray). `ray.init` itself would print Ray's connection noise and retry for minutes."""
    import socket

    advice = "check the address (HOST:PORT of the head's GCS, e.g. HOST:6379, or auto)"
    if "://" in address:
        return
    if address != "auto" and ":" in address:
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=RAY_CONNECT_TIMEOUT_S).close()
        except (OSError, ValueError) as e:
            raise ConfigError(f"--address {address}: no Ray cluster answers there ({getattr(e, 'strerror', None) or e}); {advice}") from None
    try:
        p = subprocess.run([sys.executable, "-c", _GCS_PROBE, address], capture_output=True, text=True, timeout=RAY_PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"--address {address}: something listens there, but no Ray head answered within {RAY_PROBE_TIMEOUT_S:.0f} s; {advice}") from None
    if p.returncode != 0:
        last = next((ln.strip() for ln in reversed(p.stderr.splitlines()) if ln.strip()), f"exit code {p.returncode}")
        last = re.sub(r"^[\w.]*\.(?=\w+: )", "", last)  # "ray.exceptions.RpcError: ..." -> "RpcError: ..."
        last = last if len(last) <= 200 else last[:197] + "..."
        raise ConfigError(f"--address {address}: cannot join the Ray cluster ({last}); {advice}")


CPU_FREE_WAIT_S = 5.0  # how long a dead worker's CPU may take to show up as free again


def _cpu_frees_up() -> bool:
    """True when a CPU slot is (or within CPU_FREE_WAIT_S becomes) free for a replacement worker."""
    import ray

    deadline = time.monotonic() + CPU_FREE_WAIT_S
    while True:
        if ray.available_resources().get("CPU", 0) >= 1:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


class RaySession:
    """The Ray instance of one generate call: the embedded one it starts (stopped again by stop(),
    and watched by a RayWatchdog in case the driver is killed), or a cluster it joins (--address;
    left running), or one the caller had already started (left alone)."""

    def __init__(self) -> None:
        self.started = False
        self.watchdog: RayWatchdog | None = None

    def start(self, cfg: GenerateConfig, guard: SignalGuard | None = None) -> None:
        """Runs before anything is written, so a bad --address is a one-line user error."""
        import ray

        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=True)
        if cfg.address:
            _probe_address(cfg.address)
        else:
            self.watchdog = RayWatchdog.start()
        # ray.init installs its own SIGTERM handlers (one calls sys.exit, the core worker's prints a
        # stack dump): hold SIGINT/SIGTERM back while it runs, then take them back.
        with guard.deferred() if guard is not None else contextlib.nullcontext():
            try:
                if cfg.address:
                    try:
                        ray.init(address=cfg.address, **kwargs)
                    except (ConnectionError, ValueError, RuntimeError) as e:
                        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                        raise ConfigError(f"--address {cfg.address}: cannot join the Ray cluster ({first}); check the address (e.g. auto or HOST:6379)") from None
                else:  # one CPU slot per worker; more workers than cores is the user's call
                    ray.init(address="local", num_cpus=max(os.cpu_count() or 1, cfg.workers or 0), **kwargs)
                self.started = True
            finally:
                if self.watchdog is not None:
                    self.watchdog.track_new_children()  # the GCS, the raylet, ...: all of this run

    def stop(self) -> None:
        """Shut down the Ray instance this session started; no worker is still writing afterwards."""
        if self.started:
            import ray

            ray.shutdown()
            self.started = False
        if self.watchdog is not None:
            self.watchdog.close()  # and whatever of it outlived the shutdown goes now
            self.watchdog = None


def _run_ray(job: Job, todo: list[ShardPlan], out: Store, *, on_result: Callable[[ShardResult], None], on_progress: Callable[[int], None]) -> None:
    import ray

    cfg = job.config
    if cfg.address and out.is_local:
        log.warning("statgen: with --address, --out %s must be a folder every node reaches (shared filesystem), or use s3:// / gs://", out.uri)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if cfg.workers and cfg.workers > cpus:
            log.warning("statgen: --workers %d but the cluster has %d CPUs; using %d workers", cfg.workers, cpus, cpus)
        n_workers = max(1, min(cfg.workers or cpus, cpus, len(todo)))
        # llvmpipe threads per worker: share the cores among the workers of this machine.
        lp_threads = max(1, (os.cpu_count() or 1) // n_workers) if not cfg.address else 1
        env = {"LP_NUM_THREADS": os.environ.get("LP_NUM_THREADS", str(lp_threads)), "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
        for var in ("MUJOCO_EGL_DEVICE_ID", "PYOPENGL_PLATFORM", "STATGEN_FAULT_KILL_AT", "STATGEN_FAULT_ONCE", "STATGEN_CACHE_DIR"):
            if var in os.environ:
                env[var] = os.environ[var]

        @ray.remote(num_cpus=1, concurrency_groups={"progress": 1})
        class Worker:
            """Keeps the model and renderer warm; shards run one at a time, progress is polled beside them."""

            def __init__(self, job: Job):
                self.job, self.producer = job, None
                self.current = 0  # samples of the shard being written

            def produce(self, plan: ShardPlan, root: Store) -> ShardResult:
                if self.producer is None:  # a GL context belongs to the thread that made it: make it here
                    self.producer = ShardProducer(self.job)
                self.current = 0

                def tick(k: int) -> None:
                    self.current += k

                result = self.producer.produce(plan, root, progress=tick)
                self.current = 0
                return result

            @ray.method(concurrency_group="progress")
            def progress(self) -> int:
                return self.current

        job_ref = ray.put(job)
        finished = [0]

        def poll_progress() -> None:
            try:
                partial = sum(ray.get([w.progress.remote() for w, ok in zip(workers, alive) if ok], timeout=2.0))
            except ray.exceptions.RayError:
                return
            on_progress(finished[0] + partial)

        def new_worker():
            return Worker.options(runtime_env={"env_vars": env}, max_restarts=0).remote(job_ref)

        workers = [new_worker() for _ in range(n_workers)]
        alive = [True] * n_workers
        queue = list(todo)
        inflight: dict[Any, tuple[int, Any, ShardPlan]] = {}  # ref -> (slot, actor, plan)
        attempts: dict[int, int] = {}
        lost_worker = _lost_worker_errors()

        def submit(w: int, plan: ShardPlan | None = None) -> None:
            if plan is None:
                if not queue:
                    return
                plan = queue.pop(0)
            attempts[plan.shard] = attempts.get(plan.shard, 0) + 1
            inflight[workers[w].produce.remote(plan, out)] = (w, workers[w], plan)

        for _ in range(IN_FLIGHT_PER_WORKER):  # round-robin, so a short run still spreads over every worker
            for w in range(n_workers):
                submit(w)
        while inflight:
            ready, _ = ray.wait(list(inflight), num_returns=1, timeout=PROGRESS_POLL_S)
            poll_progress()
            for ref in ready:
                w, actor, plan = inflight.pop(ref)
                try:
                    result = ray.get(ref)
                except lost_worker as e:
                    # The worker process or its node died. A shard is a pure function of
                    # (config, seed, shard), so a new worker simply writes it again.
                    if attempts[plan.shard] >= MAX_SHARD_ATTEMPTS:
                        raise RunError(f"shard {plan.shard} failed {attempts[plan.shard]} times ({type(e).__name__}); finished shards are kept: rerun with --resume") from None
                    if workers[w] is actor and alive[w]:  # the first failure seen from this actor
                        if _cpu_frees_up():
                            workers[w] = new_worker()  # its process died: a new one takes its place
                        else:
                            alive[w] = False  # its node is gone: the others take over its shards
                    target = w if alive[w] else min((i for i in range(n_workers) if alive[i]),
                                                    key=lambda i: sum(1 for x, _, _ in inflight.values() if x == i), default=None)
                    if target is None:
                        raise RunError("every worker was lost; finished shards are kept: rerun with --resume when the cluster is back") from None
                    log.warning("statgen: worker lost (%s); shard %d is written again by another worker", type(e).__name__, plan.shard)
                    submit(target, plan)
                    continue
                on_result(result)
                finished[0] += result.info.samples
                if alive[w]:
                    submit(w)
    except ray.exceptions.RayTaskError as e:  # before StatgenError: Ray's error is also an instance of the cause's class
        cause = getattr(e, "cause", None)
        if isinstance(cause, StatgenError):
            raise type(cause)(str(cause.args[0]) if cause.args else str(cause)) from None
        if isinstance(cause, OSError):
            raise RunError(f"a worker could not write the dataset ({cause.strerror or cause}); finished shards are kept: fix the storage and rerun with --resume") from None
        first = str(cause or e).strip().splitlines()[0] if str(cause or e).strip() else type(e).__name__
        raise RunError(f"a worker failed ({type(cause or e).__name__}: {first}); finished shards are kept: rerun with --resume") from None
    except ray.exceptions.RayError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RunError(f"Ray failed ({type(e).__name__}: {first}); finished shards are kept: rerun with --resume") from None


def _versions(gl: str) -> dict[str, str]:
    from importlib.metadata import version

    import mujoco
    import numpy

    return {"statgen": __version__, "mujoco": mujoco.__version__, "dm_control": version("dm_control"), "numpy": numpy.__version__, "gl_renderer": gl}


@dataclasses.dataclass
class RunReport:
    """What one generate call has done so far, so that a stop or a failure is reported truthfully."""

    total: int
    out: Store | None = None
    dataset_exists: bool = False  # _run/run.json is there (this run's or a stopped run's)
    removed: bool = False  # nothing was finished, so everything this run created was removed again
    already_complete: bool = False  # --resume found a finished, intact dataset: nothing was done
    kept_shards: int = 0
    kept_samples: int = 0
    written_shards: int = 0
    written_samples: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"already_complete": self.already_complete, "kept_shards": self.kept_shards, "kept_samples": self.kept_samples,
                "written_shards": self.written_shards, "written_samples": self.written_samples}


def generate(cfg: GenerateConfig) -> dict[str, Any]:
    """Generate (or with cfg.resume, continue) a dataset. Returns dataset.json's content plus "run":
    what this call did ({"already_complete", "kept_shards", "kept_samples", "written_shards",
    "written_samples"}; not stored in dataset.json).

    - `--resume` on a finished dataset whose files all check out returns at once, without Ray.
    - A run that fails (or is stopped) before its first shard is finished removes what it created:
      run.json, shards/, index/, _run/, and --out itself if it did not exist before.
    - SIGINT and SIGTERM (main thread only) stop the run cleanly: Ray stopped, partial files
      removed, the lock released, finished shards kept. It then raises Interrupted (exit code
      128 + the signal number). The signal handlers that were there before are restored.
    """
    report = RunReport(total=cfg.n)
    with SignalGuard() as guard:
        try:
            return _generate(cfg, guard, report)
        except BaseException as e:
            if guard.signum is None or isinstance(e, Interrupted):
                raise
            raise _interrupted(guard.signum, report) from None  # whatever the signal's unwinding raised


def _interrupted(signum: int, report: RunReport) -> Interrupted:
    how = f"stopped by {signal_name(signum)}" + (" (Ctrl-C)" if signum == signal.SIGINT else "")
    if report.out is None or not report.dataset_exists:
        return Interrupted(f"{how} before anything was written; there is nothing to --resume: run the command again", signum)
    uri = report.out.uri
    if report.removed:
        return Interrupted(f"{how} before the first shard was finished; what it had begun in {uri} was removed, so there is "
                           "nothing to --resume: run the command again", signum)
    finished = _finished_samples(report.out)  # what is recorded, not what was counted: a stop can fall between the two
    if finished is None:
        finished = report.kept_samples + report.written_samples
    return Interrupted(f"{how}: {finished} of {report.total} samples are in finished shards in {uri}; "
                       f"continue with: statgen generate --resume --out {uri}", signum)


def _generate(cfg: GenerateConfig, guard: SignalGuard, report: RunReport) -> dict[str, Any]:
    job, out = prepare(cfg)
    report.out = out
    identity = run_identity(job)
    check_out(out, identity, resume=cfg.resume, overwrite=cfg.overwrite)
    report.dataset_exists = out.exists(RUN_JSON) and not cfg.overwrite  # an old dataset to overwrite is not this run's
    plans = plan_shards(cfg.n, cfg.shard_size)
    new_dirs = _new_dirs(out)  # before anything is written
    if cfg.resume and out.exists("dataset.json"):
        with RunLock(out):
            ds = already_complete(out, identity, plans)
        if ds is not None:  # nothing to do: no Ray, nothing written
            report.already_complete = True
            report.kept_shards, report.kept_samples = len(ds.shards), ds.samples
            return {**ds.to_json(), "run": report.as_dict()}
    session = RaySession()
    try:
        session.start(cfg, guard)
        return _generate_locked(job, out, identity, plans, session=session, report=report, new_dirs=new_dirs)
    finally:
        session.stop()


def _generate_locked(job: Job, out: Store, identity: dict[str, Any], plans: list[ShardPlan], *,
                     session: RaySession, report: RunReport, new_dirs: list[pathlib.Path]) -> dict[str, Any]:
    try:
        with RunLock(out):
            if job.config.overwrite:
                remove_dataset_files(out)  # under the lock: no other run is writing into it
            created = not out.exists(RUN_JSON)
            try:
                return _write(job, out, identity, plans, session=session, report=report)
            except BaseException as e:
                if created and _nothing_finished(out) and _remove_run(out, session):
                    report.removed = True
                    if isinstance(e, StatgenError):
                        raise _nothing_kept(e) from None
                raise
    except BaseException:
        if report.removed:
            _remove_empty_dirs(out, new_dirs)  # after the lock is released
        raise


def _remove_run(out: Store, session: RaySession) -> bool:
    """Remove what a run that finished nothing had created. False when that failed (e.g. on the
    storage that just failed): then everything stays, and --resume can continue it."""
    try:
        session.stop()  # no worker may still be writing
        remove_dataset_files(out)
        return True
    except Exception:
        return False


def _nothing_kept(e: StatgenError) -> StatgenError:
    """The same error, its advice made true for a run whose files were removed: not "finished
    shards are kept: ... rerun with --resume" but "nothing was kept: ... run the command again"."""
    msg = re.sub(r"finished shards are kept: (.*?)rerun with --resume", r"nothing was finished, so nothing was kept: \1run the command again", str(e))
    try:
        return type(e)(msg)
    except TypeError:
        return e


def _nothing_finished(out: Store) -> bool:
    """No shard is recorded in _run/shards.jsonl (what --resume would keep). False when that cannot be read."""
    try:
        return not read_shards(out)
    except Exception:
        return False


def _finished_samples(out: Store) -> int | None:
    try:
        return sum(info.samples for info, _ in read_shards(out))
    except Exception:
        return None


def _write(job: Job, out: Store, identity: dict[str, Any], plans: list[ShardPlan], *, session: RaySession, report: RunReport) -> dict[str, Any]:
    cfg = job.config
    if out.exists(RUN_JSON):  # again, under the lock: another run may have started meanwhile
        check_out(out, identity, resume=True)
    else:
        write_json(out, RUN_JSON, {"schema": DATASET_SCHEMA, "identity": identity, "created": time.time(),
                                   "config_source": {"robot": cfg.robot, "task": cfg.task}})
        maybe_kill("after_run_json")
    report.dataset_exists = True
    out.delete("dataset.json")
    shard_log = ShardLog(out)
    kept = keep_finished(out, plans, shard_log)
    todo = [p for p in plans if p.shard not in kept]
    done_before = sum(info.samples for info, _ in kept.values())
    report.kept_shards, report.kept_samples = len(kept), done_before
    results: dict[int, tuple[ShardInfo, dict]] = dict(kept)
    gl = next((e.get("gl_renderer", "") for _, e in kept.values() if e.get("gl_renderer")), "")
    progress = Progress(total=cfg.n, done=done_before, label=f"statgen {job.robot.name}", enabled=cfg.progress)
    if kept:
        progress.note(f"resuming {out.uri}: kept {len(kept)} finished shard(s) ({done_before} samples), writing {len(todo)} more")

    def on_result(r: ShardResult) -> None:
        nonlocal gl
        shard = int(r.info.name.split("-")[-1].split(".")[0])
        extra = {"acceptance": r.acceptance.as_dict(), "gl_renderer": r.gl_renderer, "worker_peak_rss_mb": round(r.peak_rss_mb, 1),
                 "index_sha256": r.index_sha256, "worker_pid": r.worker_pid, "seconds": [round(t, 3) for t in r.seconds]}
        shard_log.append(r.info, extra)
        report.written_shards += 1
        report.written_samples += r.info.samples
        maybe_kill("after_shard_record")
        results[shard] = (r.info, extra)
        gl = gl or r.gl_renderer
        progress.update(done_before + report.written_samples)

    if todo:
        try:
            _run_ray(job, todo, out, on_result=on_result, on_progress=lambda k: progress.update(done_before + k))
        except BaseException:
            session.stop()  # no worker may still be writing when the partial files are swept
            raise
        finally:
            with contextlib.suppress(OSError):  # the storage may be what failed: keep that error
                sweep_partials(out)
    rate = progress.finish(done_before + report.written_samples)
    acc = Acceptance()
    for _, extra in results.values():
        a = extra.get("acceptance", {})
        acc.add(Acceptance(a.get("drawn", 0), a.get("accepted", 0), a.get("rejected", {})))
    dataset = DatasetInfo(
        schema=DATASET_SCHEMA, statgen_version=__version__, robot=job.robot.name, task=job.task.name, seed=cfg.seed,
        samples=sum(info.samples for info, _ in results.values()),
        config=dataclasses.replace(cfg, robot=job.robot.name, task=job.task.name), sample_schema=SAMPLE_SCHEMA,
        robot_spec=job.robot, task_spec=job.task, model_sha256=job.model.model_sha256,
        rosa=RosaInfo(dims=list(DIMS), ranges=job.rosa_ranges.tolist(), bins=BINS),
        acceptance=acc, versions=_versions(gl),
        assets=[AssetInfo(robot=job.robot.name, source=job.model.source, license=job.model.license)],
        shards=[info for info, _ in sorted(results.values(), key=lambda x: x[0].name)],
        samples_per_second=round(rate, 2) if todo else None,
        resources=Resources(driver_peak_rss_mb=round(peak_rss_mb(), 1),
                            worker_peak_rss_mb=max((e.get("worker_peak_rss_mb", 0.0) for _, e in results.values()), default=0.0)),
    )
    if dataset.samples != cfg.n:
        raise RunError(f"internal error: {dataset.samples} samples written, expected {cfg.n}; rerun with --resume")
    if dataset.config_json() != identity["config"]:
        raise RunError("internal error: dataset.json's config differs from the run identity; rerun with --resume")
    maybe_kill("before_dataset_json")
    write_json(out, "dataset.json", dataset.to_json())
    return {**dataset.to_json(), "run": report.as_dict()}
