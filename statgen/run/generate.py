"""`statgen.generate(config)`: the flow of a run, calling the pieces of statgen.run by concern.

prepare (load and check everything) -> identity (refuse or resume) -> lock -> record the run ->
keep what is finished (resume) -> the shards on Ray (pool) with progress -> dataset.json (finalize).
The driver holds only per-shard metadata; workers write shards straight to storage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import pathlib
import re
import signal
from typing import Any

from statgen.config import GenerateConfig, load_robot, load_task, resolve_render
from statgen.errors import Interrupted, StatgenError
from statgen.faults import maybe_kill
from statgen.lifecycle import SignalGuard, signal_name
from statgen.run import finalize, resume
from statgen.run.identity import check_out, record_run, run_identity, run_recorded
from statgen.run.job import Job, ShardPlan, ShardResult, plan_shards
from statgen.run.pool import RaySession, run_shards
from statgen.run.progress import Progress
from statgen.schema import ShardInfo
from statgen.sim.assets import resolve_model, simplify_for
from statgen.sim.gl import require_rendering
from statgen.sim.library import user_files
from statgen.sim.scene import build_scene
from statgen.sim.stage import LookConfig
from statgen.storage.fs import Store
from statgen.storage.run import RunLock, ShardLog
from statgen.wording import counted


def prepare(cfg: GenerateConfig) -> tuple[Job, Store]:
    """Load and check everything; raises ConfigError before anything is written. The job's config
    holds the render settings the run uses (the robot's decimation defaults where none was given)."""
    require_rendering()  # the workers render: a MUJOCO_GL that cannot is one line here, before Ray
    robot = load_robot(cfg.robot)
    task = load_task(cfg.task)
    for c in cfg.cameras:
        task.camera(c)
    cfg = dataclasses.replace(cfg, render=resolve_render(cfg.render, robot))
    model = resolve_model(robot, assets_dir=cfg.assets)
    model = simplify_for(model, cfg.render)
    job = Job(config=cfg, robot=robot, task=task, model=model, user_files=user_files(cfg, task))
    build_scene(robot=robot, task=task, resolved=model, cameras=cfg.cameras, render=cfg.render,
                look=LookConfig.of(cfg, task, job.user_files))  # names, ranges, the randomised scene compiles
    store = Store.open(cfg.out or f"data/{robot.name}")
    return job, store


@dataclasses.dataclass
class RunReport:
    """What one generate call has done so far, so that a stop or a failure is reported truthfully."""

    total: int
    out: Store | None = None
    dataset_exists: bool = False  # _run/run.json is there (this run's or a stopped run's)
    removed: bool = False  # nothing was finished, so everything this run created was removed again
    already_complete: bool = False  # --resume found a finished, intact dataset: nothing was done
    repaired: list[str] = dataclasses.field(default_factory=list)  # what --resume did to a run whose shards were all intact
    kept_shards: int = 0
    kept_samples: int = 0
    written_shards: int = 0
    written_samples: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"already_complete": self.already_complete, "repaired": list(self.repaired), "kept_shards": self.kept_shards,
                "kept_samples": self.kept_samples, "written_shards": self.written_shards, "written_samples": self.written_samples}


def generate(cfg: GenerateConfig) -> dict[str, Any]:
    """Generate (or with cfg.resume, continue) a dataset. Returns dataset.json's content plus "run":
    what this call did ({"already_complete", "kept_shards", "kept_samples", "written_shards",
    "written_samples"}; not stored in dataset.json).

    - `--resume` on a run whose shards and index files all check out against its shard log returns
      at once, without Ray: when dataset.json is already what this run would write (apart from the
      measured speed and memory) and nothing else lies in shards/ and index/, it does nothing;
      otherwise it rewrites dataset.json and removes the stray files ("repaired").
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
    recorded = resume.finished(report.out)  # what is recorded, not what was counted: a stop can fall between the two
    shards, samples = recorded if recorded is not None else (report.kept_shards + report.written_shards,
                                                             report.kept_samples + report.written_samples)
    return Interrupted(f"{how}: {samples} of {report.total} samples are in {counted(shards, 'finished shard')} in {uri}; "
                       f"continue with: statgen generate --resume --out {uri}", signum)


def _generate(cfg: GenerateConfig, guard: SignalGuard, report: RunReport) -> dict[str, Any]:
    job, out = prepare(cfg)
    report.out = out
    identity = run_identity(job)
    check_out(out, identity, resume=cfg.resume, overwrite=cfg.overwrite)
    report.dataset_exists = run_recorded(out) and not cfg.overwrite  # an old dataset to overwrite is not this run's
    plans = plan_shards(cfg.n, cfg.shard_size)
    new_dirs = resume.new_dirs(out)  # before anything is written
    if cfg.resume and run_recorded(out):
        with RunLock(out):
            done = _complete_without_ray(job, out, identity, plans, report)
        if done is not None:
            return done
    session = RaySession()
    try:
        session.start(cfg, guard)
        return _generate_locked(job, out, identity, plans, session=session, report=report, new_dirs=new_dirs)
    finally:
        session.stop()


def _complete_without_ray(job: Job, out: Store, identity: dict[str, Any], plans: list[ShardPlan], report: RunReport) -> dict[str, Any] | None:
    """--resume of a run whose shards are all finished and intact (checked against the shard log): make
    dataset.json what this run writes (everything but the measured speed and memory, which are kept)
    and remove what does not belong in shards/ and index/. None when a shard must be written (Ray)."""
    results = resume.intact_run(out, identity, plans)
    if results is None:
        return None
    existed = out.exists("dataset.json")
    try:
        on_disk = json.loads(out.read_bytes("dataset.json")) if existed else None
    except (ValueError, UnicodeDecodeError):
        on_disk = None
    sps, resources = finalize.measured(on_disk)
    gl = next((e.get("gl_renderer", "") for _, e in results.values() if e.get("gl_renderer")), "")
    dataset = finalize.dataset_info(job, results, gl_renderer=gl, samples_per_second=sps, resources=resources)
    stray = resume.stray_files(out, plans)
    diffs = finalize.differences(dataset, on_disk)
    for rel in stray:
        out.delete(rel)
    if stray:
        report.repaired.append(f"removed {counted(len(stray), 'file')} that {'is' if len(stray) == 1 else 'are'} not this dataset's ({', '.join(stray[:3])}{' ...' if len(stray) > 3 else ''})")
    if diffs:
        finalize.write_dataset(out, dataset, identity=identity, n=job.config.n)
        what = ("it was missing" if not existed else "it was unreadable" if not isinstance(on_disk, dict)
                else f"{', '.join(diffs[:6])}{' ...' if len(diffs) > 6 else ''} differed from the run's record and shard log")
        report.repaired.append(f"rewrote dataset.json ({what})")
    report.already_complete = not report.repaired
    report.kept_shards, report.kept_samples = len(results), dataset.samples
    return {**dataset.to_json(), "run": report.as_dict()}


def _generate_locked(job: Job, out: Store, identity: dict[str, Any], plans: list[ShardPlan], *,
                     session: RaySession, report: RunReport, new_dirs: list[pathlib.Path]) -> dict[str, Any]:
    try:
        with RunLock(out):
            if job.config.overwrite:
                resume.remove_dataset_files(out)  # under the lock: no other run is writing into it
            created = not run_recorded(out)
            try:
                return _write(job, out, identity, plans, session=session, report=report)
            except BaseException as e:
                if created and resume.nothing_finished(out) and _remove_run(out, session):
                    report.removed = True
                    if isinstance(e, StatgenError):
                        raise _nothing_kept(e) from None
                raise
    except BaseException:
        if report.removed:
            resume.remove_empty_dirs(out, new_dirs)  # after the lock is released
        raise


def _remove_run(out: Store, session: RaySession) -> bool:
    """Remove what a run that finished nothing had created. False when that failed (e.g. on the
    storage that just failed): then everything stays, and --resume can continue it."""
    try:
        session.stop()  # no worker may still be writing
        resume.remove_dataset_files(out)
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


def _write(job: Job, out: Store, identity: dict[str, Any], plans: list[ShardPlan], *, session: RaySession, report: RunReport) -> dict[str, Any]:
    cfg = job.config
    if run_recorded(out):  # again, under the lock: another run may have started meanwhile
        check_out(out, identity, resume=True)
    else:
        record_run(out, identity, cfg)
    report.dataset_exists = True
    resume.unfinish(out)
    shard_log = ShardLog(out)
    kept = resume.keep_finished(out, plans, shard_log, identity)
    todo = [p for p in plans if p.shard not in kept]
    done_before = sum(info.samples for info, _ in kept.values())
    report.kept_shards, report.kept_samples = len(kept), done_before
    results: dict[int, tuple[ShardInfo, dict]] = dict(kept)
    gl = next((e.get("gl_renderer", "") for _, e in kept.values() if e.get("gl_renderer")), "")
    progress = Progress(total=cfg.n, done=done_before, label=f"statgen {job.robot.name}", enabled=cfg.progress)
    if kept:
        progress.note(f"resuming {out.uri}: kept {counted(len(kept), 'finished shard')} ({counted(done_before, 'sample')}), writing {len(todo)} more")

    def on_result(r: ShardResult) -> None:
        nonlocal gl
        shard = int(r.info.name.split("-")[-1].split(".")[0])
        extra = r.log_extra()
        shard_log.append(r.info, extra)
        report.written_shards += 1
        report.written_samples += r.info.samples
        maybe_kill("after_shard_record")
        results[shard] = (r.info, extra)
        gl = gl or r.gl_renderer
        progress.update(done_before + report.written_samples)

    if todo:
        try:
            run_shards(job, todo, out, on_result=on_result, on_progress=lambda k: progress.update(done_before + k))
        except BaseException:
            progress.end_line()  # the message about the failure or the stop starts on a line of its own
            session.stop()  # no worker may still be writing when the partial files are swept
            raise
        finally:
            with contextlib.suppress(OSError):  # the storage may be what failed: keep that error
                resume.sweep_partials(out)
    rate = progress.finish(done_before + report.written_samples)
    dataset = finalize.dataset_info(job, results, gl_renderer=gl, samples_per_second=round(rate, 2) if todo else None)
    finalize.write_card(out, dataset, results)
    finalize.write_dataset(out, dataset, identity=identity, n=cfg.n)
    return {**dataset.to_json(), "run": report.as_dict()}
