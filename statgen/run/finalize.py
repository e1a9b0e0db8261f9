"""dataset.json from the shard results, through schema.DatasetInfo; written last."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from statgen import __version__
from statgen.core.rosa import BINS, DIMS
from statgen.core.splits import split_shards
from statgen.errors import RunError
from statgen.faults import maybe_kill
from statgen.run.job import Job, plan_shards
from statgen.run.producer import peak_rss_mb
from statgen.schema import DATASET_SCHEMA, SAMPLE_SCHEMA, Acceptance, AssetInfo, DatasetInfo, Resources, RosaInfo, ShardInfo
from statgen.storage.fs import Store
from statgen.storage.run import write_json
from statgen.storage.shards import shard_name


def versions(gl: str) -> dict[str, str]:
    from importlib.metadata import version

    import mujoco
    import numpy

    return {"statgen": __version__, "mujoco": mujoco.__version__, "dm_control": version("dm_control"), "numpy": numpy.__version__, "gl_renderer": gl}


# What dataset.json measures while the shards are written (speed, memory) rather than derives from
# the run's record and shard log. Everything else in it is deterministic: a run whose shards are
# all finished writes the same dataset.json again, whenever it is written.
MEASURED = ("samples_per_second", "resources")


def dataset_info(job: Job, results: dict[int, tuple[ShardInfo, dict[str, Any]]], *, gl_renderer: str,
                 samples_per_second: float | None, resources: Resources | None = None) -> DatasetInfo:
    """dataset.json of a run whose shards are all finished: `results` maps shard -> (info, its shard-log extra).
    `resources`: the measured memory to record (by default this process's and the workers' peaks)."""
    cfg = job.config
    acc = Acceptance()
    for _, extra in results.values():
        a = extra.get("acceptance", {})
        acc.add(Acceptance(a.get("drawn", 0), a.get("accepted", 0), a.get("rejected", {}), a.get("new_views", 0)))
    return DatasetInfo(
        schema=DATASET_SCHEMA, statgen_version=__version__, robot=job.robot.name, task=job.task.name, seed=cfg.seed,
        samples=sum(info.samples for info, _ in results.values()),
        config=dataclasses.replace(cfg, robot=job.robot.name, task=job.task.name), sample_schema=SAMPLE_SCHEMA,
        robot_spec=job.robot, task_spec=job.task, model_sha256=job.model.model_sha256,
        rosa=RosaInfo(dims=list(DIMS), ranges=job.rosa_ranges.tolist(), bins=BINS),
        acceptance=acc, versions=versions(gl_renderer),
        assets=[AssetInfo(robot=job.robot.name, source=job.model.source, license=job.model.license)],
        shards=[info for info, _ in sorted(results.values(), key=lambda x: x[0].name)],
        samples_per_second=samples_per_second,
        resources=resources or Resources(driver_peak_rss_mb=round(peak_rss_mb(), 1),
                                         worker_peak_rss_mb=max((e.get("worker_peak_rss_mb", 0.0) for _, e in results.values()), default=0.0)),
        splits={k: [shard_name(s) for s in v]
                for k, v in split_shards(cfg.seed, len(plan_shards(cfg.n, cfg.shard_size)), cfg.val_fraction).items()},
    )


def measured(on_disk: Any) -> tuple[float | None, Resources | None]:
    """(samples_per_second, resources) as a dataset.json on disk records them, where they are well formed:
    a dataset.json rewritten without writing any shard keeps what was measured when the shards were written."""
    if not isinstance(on_disk, dict):
        return None, None
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v == v  # noqa: E731 - not NaN
    sps = on_disk.get("samples_per_second")
    res = on_disk.get("resources")
    keys = ("driver_peak_rss_mb", "worker_peak_rss_mb")
    resources = Resources(*(res[k] for k in keys)) if isinstance(res, dict) and set(res) == set(keys) and all(number(res[k]) for k in keys) else None
    return (sps if number(sps) else None), resources


def differences(dataset: DatasetInfo, on_disk: Any) -> list[str]:
    """Where a dataset.json on disk (parsed JSON, or None when missing or unreadable) differs from
    `dataset`, what this run writes: dotted keys, the measured ones left out."""
    want = json.loads(json.dumps(dataset.to_json()))
    if not isinstance(on_disk, dict):
        return ["dataset.json"]
    return _diff({k: v for k, v in on_disk.items() if k not in MEASURED}, {k: v for k, v in want.items() if k not in MEASURED})


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            out += _diff(a[k], b[k], f"{prefix}{k}.")
        elif k not in a or k not in b or _canonical(a[k]) != _canonical(b[k]):
            out.append(f"{prefix}{k}")
    return out


def _canonical(v: Any) -> str:
    """JSON text that tells 1 from 1.0 and true from 1, which == does not."""
    return json.dumps(v, sort_keys=True)


def write_dataset(out: Store, dataset: DatasetInfo, *, identity: dict[str, Any], n: int) -> None:
    """Write dataset.json, the last file of a run, after checking it against what the run was to make."""
    if dataset.samples != n:
        raise RunError(f"internal error: {dataset.samples} samples written, expected {n}; rerun with --resume")
    if dataset.config_json() != identity["config"]:
        raise RunError("internal error: dataset.json's config differs from the run identity; rerun with --resume")
    maybe_kill("before_dataset_json")
    write_json(out, "dataset.json", dataset.to_json())


def write_card(out: Store, dataset: DatasetInfo, results: dict[int, tuple[ShardInfo, dict[str, Any]]]) -> None:
    """The dataset card (README.md) and its plots (stats/), before dataset.json (statgen.export.card)."""
    from statgen.export.card import write_card as card

    card(out, dataset, {info.name: extra for info, extra in results.values()})
