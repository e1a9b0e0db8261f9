"""Scheduling on Ray: the Ray session of a run, the worker actors, shards handed out two per worker,
retries of shards whose worker died. It hands shards to workers and their results back; it never
touches the dataset's files (the workers' producers write them)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import subprocess
import sys
import time
from typing import Any, Callable

from statgen.config import GenerateConfig
from statgen.errors import ConfigError, RunError, StatgenError
from statgen.lifecycle import RayWatchdog, SignalGuard
from statgen.run.job import Job, ShardPlan, ShardResult
from statgen.run.producer import ShardProducer
from statgen.storage.fs import Store

IN_FLIGHT_PER_WORKER = 2
PROGRESS_POLL_S = 1.0
MAX_SHARD_ATTEMPTS = 4  # a shard whose worker dies is retried on a new worker up to this many times

log = logging.getLogger("statgen")


def _lost_worker_errors() -> tuple[type[BaseException], ...]:
    import ray.exceptions as rex

    names = ("ActorDiedError", "RayActorError", "WorkerCrashedError", "NodeDiedError", "ObjectLostError", "ActorUnavailableError", "OwnerDiedError")
    return tuple(getattr(rex, n) for n in names if hasattr(rex, n))


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


def cluster_address(cfg: GenerateConfig) -> tuple[str | None, str]:
    """The Ray cluster a run joins, and what named it: --address, else the RAY_ADDRESS environment
    variable (Ray's own convention, set by `ray job submit` and by clusters' shells), else
    (None, "") for an embedded local instance."""
    if cfg.address:
        return cfg.address, "--address"
    if os.environ.get("RAY_ADDRESS", "").strip():
        return os.environ["RAY_ADDRESS"].strip(), "RAY_ADDRESS"
    return None, ""


def _only_this_machine() -> bool:
    """Whether every live node of the connected Ray cluster is this machine (an embedded instance,
    or a cluster started here): then a local --out is reachable by every worker."""
    import ray

    here = ray.util.get_node_ip_address()
    return all(n.get("NodeManagerAddress") == here for n in ray.nodes() if n.get("Alive"))


def _probe_address(address: str, *, named: str = "--address") -> None:
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
            raise ConfigError(f"{named} {address}: no Ray cluster answers there ({getattr(e, 'strerror', None) or e}); {advice}") from None
    try:
        p = subprocess.run([sys.executable, "-c", _GCS_PROBE, address], capture_output=True, text=True, timeout=RAY_PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{named} {address}: something listens there, but no Ray head answered within {RAY_PROBE_TIMEOUT_S:.0f} s; {advice}") from None
    if p.returncode != 0:
        last = next((ln.strip() for ln in reversed(p.stderr.splitlines()) if ln.strip()), f"exit code {p.returncode}")
        last = re.sub(r"^[\w.]*\.(?=\w+: )", "", last)  # "ray.exceptions.RpcError: ..." -> "RpcError: ..."
        last = last if len(last) <= 200 else last[:197] + "..."
        raise ConfigError(f"{named} {address}: cannot join the Ray cluster ({last}); {advice}")


def _logs_hint() -> str:
    """Where the workers' own output went (log_to_driver is off), for a message about a worker that died."""
    try:
        import ray

        logs = ray._private.worker._global_node.get_logs_dir_path()  # noqa: SLF001 - no public API names it
        return f"; the workers' output is in {logs}" if logs else ""
    except Exception:  # noqa: BLE001 - a hint only
        return ""


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
        self.signals_blocked = False  # the embedded instance was started with SIGINT/SIGTERM blocked
        self.watchdog: RayWatchdog | None = None

    def start(self, cfg: GenerateConfig, guard: SignalGuard | None = None) -> None:
        """Runs before anything is written, so a bad --address is a one-line user error."""
        import ray

        if ray.is_initialized():
            return
        # log_to_driver=False: the workers' stdout and stderr stay in Ray's log files and never reach
        # statgen's stderr. Forwarded, they interleave with the progress line, and when a run fails,
        # ray.shutdown() kills workers mid-task, whose dying dumps ("Mutex corrupt", "SIGABRT
        # received", "Fatal Python error") would precede statgen's one line. What a worker has to
        # say comes back as its task's exception, which statgen turns into its own message.
        kwargs: dict[str, Any] = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
        address, named = cluster_address(cfg)
        if address:
            _probe_address(address, named=named)
        else:
            self.watchdog = RayWatchdog.start()
        # ray.init installs its own SIGTERM handlers (one calls sys.exit, the core worker's prints a
        # stack dump): hold SIGINT/SIGTERM back while it runs, then take them back.
        with guard.deferred() if guard is not None else contextlib.nullcontext():
            try:
                if address:
                    try:
                        ray.init(address=address, **kwargs)
                    except (ConnectionError, ValueError, RuntimeError) as e:
                        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                        raise ConfigError(f"{named} {address}: cannot join the Ray cluster ({first}); check the address (e.g. auto or HOST:6379)") from None
                else:  # one CPU slot per worker; more workers than cores is the user's call
                    ray.init(address="local", num_cpus=max(os.cpu_count() or 1, cfg.workers or 0), **kwargs)
                    self.signals_blocked = guard is not None and guard.active
                self.started = True
            finally:
                if self.watchdog is not None:
                    self.watchdog.track_new_children()  # the GCS, the raylet, ...: all of this run

    def stop(self) -> None:
        """Shut down the Ray instance this session started; no worker is still writing afterwards."""
        try:
            if self.started:
                import ray

                if self.signals_blocked:
                    if self.watchdog is not None:
                        self.watchdog.track_new_children()  # every worker, however new: their raylet dies at once
                    _kill_without_grace(ray)
                ray.shutdown()
                self.started = False
        finally:
            if self.watchdog is not None:
                self.watchdog.close()  # and whatever of it outlived the shutdown goes now
                self.watchdog = None


def _kill_without_grace(ray: Any) -> None:
    """Make the coming ray.shutdown() SIGKILL the embedded instance's processes at once. They were started
    inside SignalGuard.deferred(), and a blocked signal mask survives fork and exec: every one of them (the
    GCS, the raylet, the agents, the workers) has SIGINT and SIGTERM blocked, which keeps a Ctrl-C or a
    SIGTERM to the process group for the driver alone. So Ray's graceful stop (SIGTERM, wait 1 s, then
    SIGKILL, one process type after another) always ends in the SIGKILL, after about 5 s; asked for at
    once, the same end takes 0.4 s (measured here). Ray's node object is private API: where it is not as
    expected, the slow path stays."""
    node = getattr(getattr(getattr(ray, "_private", None), "worker", None), "_global_node", None)
    kill = getattr(node, "kill_all_processes", None)
    if kill is None:
        return

    def without_grace(*args: Any, **kwargs: Any) -> Any:
        if args or "allow_graceful" not in kwargs:  # not the keyword call this was written for: as Ray wrote it
            return kill(*args, **kwargs)
        try:
            return kill(**{**kwargs, "allow_graceful": False})
        except TypeError:  # another signature: the slow path
            return kill(**kwargs)

    node.kill_all_processes = without_grace


def run_shards(job: Job, todo: list[ShardPlan], out: Store, *, on_result: Callable[[ShardResult], None], on_progress: Callable[[int], None]) -> None:
    """Write the shards of `todo` to `out` on the Ray workers; on_result(result) as each finishes, on_progress(samples) while they run."""
    import ray

    cfg = job.config
    here_only = _only_this_machine()
    if not here_only and out.is_local:
        log.warning("statgen: the Ray cluster spans other machines, so --out %s must be a folder every node reaches (shared filesystem), or use s3:// / gs://", out.uri)
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        if cfg.workers and cfg.workers > cpus:
            log.warning("statgen: --workers %d but the cluster has %d CPUs; using %d workers", cfg.workers, cpus, cpus)
        n_workers = max(1, min(cfg.workers or cpus, cpus, len(todo)))
        # llvmpipe threads per worker: share the cores among the workers of this machine.
        lp_threads = max(1, (os.cpu_count() or 1) // n_workers) if here_only else 1
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
                        raise RunError(f"shard {plan.shard} failed {attempts[plan.shard]} times ({type(e).__name__}{_logs_hint()}); "
                                       "finished shards are kept: rerun with --resume") from None
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
