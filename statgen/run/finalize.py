"""dataset.json from the shard results, through schema.DatasetInfo; written last."""

from __future__ import annotations

import dataclasses
from typing import Any

from statgen import __version__
from statgen.core.rosa import BINS, DIMS
from statgen.errors import RunError
from statgen.faults import maybe_kill
from statgen.run.job import Job
from statgen.run.producer import peak_rss_mb
from statgen.schema import DATASET_SCHEMA, Acceptance, sample_schema_of, AssetInfo, DatasetInfo, Resources, RosaInfo, ShardInfo
from statgen.storage.fs import Store
from statgen.storage.run import write_json


def versions(gl: str) -> dict[str, str]:
    from importlib.metadata import version

    import mujoco
    import numpy

    return {"statgen": __version__, "mujoco": mujoco.__version__, "dm_control": version("dm_control"), "numpy": numpy.__version__, "gl_renderer": gl}


def dataset_info(job: Job, results: dict[int, tuple[ShardInfo, dict[str, Any]]], *, gl_renderer: str,
                 samples_per_second: float | None) -> DatasetInfo:
    """dataset.json of a run whose shards are all finished: `results` maps shard -> (info, its shard-log extra)."""
    cfg = job.config
    acc = Acceptance()
    for _, extra in results.values():
        a = extra.get("acceptance", {})
        acc.add(Acceptance(a.get("drawn", 0), a.get("accepted", 0), a.get("rejected", {}), a.get("new_views", 0)))
    return DatasetInfo(
        schema=DATASET_SCHEMA, statgen_version=__version__, robot=job.robot.name, task=job.task.name, seed=cfg.seed,
        samples=sum(info.samples for info, _ in results.values()),
        config=dataclasses.replace(cfg, robot=job.robot.name, task=job.task.name), sample_schema=sample_schema_of(cfg),
        robot_spec=job.robot, task_spec=job.task, model_sha256=job.model.model_sha256,
        rosa=RosaInfo(dims=list(DIMS), ranges=job.rosa_ranges.tolist(), bins=BINS),
        acceptance=acc, versions=versions(gl_renderer),
        assets=[AssetInfo(robot=job.robot.name, source=job.model.source, license=job.model.license)],
        shards=[info for info, _ in sorted(results.values(), key=lambda x: x[0].name)],
        samples_per_second=samples_per_second,
        resources=Resources(driver_peak_rss_mb=round(peak_rss_mb(), 1),
                            worker_peak_rss_mb=max((e.get("worker_peak_rss_mb", 0.0) for _, e in results.values()), default=0.0)),
    )


def write_dataset(out: Store, dataset: DatasetInfo, *, identity: dict[str, Any], n: int) -> None:
    """Write dataset.json, the last file of a run, after checking it against what the run was to make."""
    if dataset.samples != n:
        raise RunError(f"internal error: {dataset.samples} samples written, expected {n}; rerun with --resume")
    if dataset.config_json() != identity["config"]:
        raise RunError("internal error: dataset.json's config differs from the run identity; rerun with --resume")
    maybe_kill("before_dataset_json")
    write_json(out, "dataset.json", dataset.to_json())
