"""The run identity (what decides the data) and the checks on --out: refuse a foreign folder, a
--resume whose identity differs, an --overwrite of what is not a statgen dataset. The record of a
run is _run/run.json, written first."""

from __future__ import annotations

import json
import time
from typing import Any

from statgen.config.settings import SETTINGS, complete_identity, legacy_values, values_from_identity
from statgen.errors import ConfigError
from statgen.faults import maybe_kill
from statgen.run.job import Job
from statgen.schema import DATASET_SCHEMA, sample_schema_of, spec_json
from statgen.storage.fs import Store
from statgen.storage.run import RUN_JSON, read_json, write_json


def run_identity(job: Job) -> dict[str, Any]:
    """What decides the data: config (minus where/how fast), robot, task, model files, schema."""
    config = {**job.config.identity(), "schema": sample_schema_of(job.config), "robot": job.robot.name, "task": job.task.name}  # content, not location
    extra = {"user_files": job.user_files.identity()} if job.user_files is not None else {}  # their content decides the data
    return json.loads(json.dumps({
        **extra,
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
    config = run.get("identity", {}).get("config", {})
    # made before a setting existed: resumed with what it was made with (Setting.legacy), not today's default
    values = values_from_identity(complete_identity(config) if isinstance(config, dict) else config)
    values.update(run.get("config_source", {}))  # the robot/task as given: a name or a file path
    return values


def legacy_of_run(out: str) -> dict[str, Any]:
    """The settings a recorded run was made without, at the legacy value it was made with where that is not
    today's default (flat keys, as build_config takes them). A `--resume` given its config again (flags or a
    pipeline) starts from these: the run could not have set them, and today's default would refuse it.
    {} when `out` holds no readable run record (check_out says why later)."""
    store = Store.open(out)
    if not store.exists(RUN_JSON):
        return {}
    run = read_json(store, RUN_JSON, "run.json")
    config = run.get("identity", {}).get("config") if isinstance(run, dict) and isinstance(run.get("identity"), dict) else None
    return legacy_values(values_from_identity(config)) if isinstance(config, dict) else {}


def diff_keys(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(a) | set(b))
    out = []
    for k in keys:
        if isinstance(a.get(k), dict) and isinstance(b.get(k), dict):
            out += diff_keys(a[k], b[k], f"{prefix}{k}.")
        elif a.get(k) != b.get(k):
            out.append(f"{prefix}{k}")
    return out


def run_recorded(out: Store) -> bool:
    """True when `out` holds a run's record, _run/run.json (a finished or a stopped run)."""
    return out.exists(RUN_JSON)


def is_dataset(out: Store) -> bool:
    """True when `out` holds a statgen dataset (finished or not): _run/run.json or dataset.json."""
    return out.exists(RUN_JSON) or out.exists("dataset.json")


def recorded_identity(out: Store) -> Any:
    """The identity in _run/run.json, completed with the legacy values of settings added since it was
    written (a dataset made before a setting existed was made with its legacy value, usually its default)."""
    old = read_json(out, RUN_JSON, "run.json")
    old = old.get("identity", {}) if isinstance(old, dict) else None
    if isinstance(old, dict) and isinstance(old.get("config"), dict):
        old = {**old, "config": complete_identity(old["config"])}
    return old


def check_out(out: Store, identity: dict[str, Any], *, resume: bool, overwrite: bool = False) -> None:
    """Refuse a non-empty --out without --resume or --overwrite, a --resume whose identity differs,
    and an --overwrite of anything that is not a statgen dataset.

    The run's record (_run/run.json) is looked up by name, not inferred from a listing: whatever
    a store's listing shows, a folder or prefix that holds a run is never taken for empty, and
    one that holds anything else without a run.json is refused."""
    recorded = out.exists(RUN_JSON)
    if overwrite:
        if recorded or out.exists("dataset.json") or out.is_empty():
            return
        raise ConfigError(f"--overwrite refused: {out.uri} is not a statgen dataset (no {RUN_JSON} or dataset.json); "
                          "statgen only replaces its own datasets: choose an empty or new folder")
    if not recorded:
        if out.exists("dataset.json"):
            raise ConfigError(f"--out {out.uri}: holds a dataset without its run record ({RUN_JSON}; a copy?), which cannot be "
                              f"{'resumed' if resume else 'added to'}; replace it with --overwrite, or choose an empty or new folder")
        if out.is_empty():
            return
        raise ConfigError(f"--out {out.uri}: not empty and not a statgen dataset (no {RUN_JSON}); choose an empty or new folder")
    if not resume:
        raise ConfigError(f"--out {out.uri}: already holds a dataset; pass --resume to continue it, --overwrite to replace it, or choose another --out")
    old = recorded_identity(out)
    if old != identity:
        if isinstance(old, dict):
            diffs = diff_keys(old, identity)
            shown = [f"{k}: {_value_at(old, k)} recorded, {_value_at(identity, k)} given{_how(k)}" for k in diffs[:6]]
        else:
            diffs, shown = ["identity"], ["its identity in run.json is not an object"]
        raise ConfigError(f"--resume refused: {out.uri} was made with a different config ({'; '.join(shown)}{' ...' if len(diffs) > 6 else ''}); "
                          "use the original flags, replace it with --overwrite (instead of --resume), or choose another --out")


def _how(dotted: str) -> str:
    """How to give a config setting of a diff_keys path: its flag, else its pipeline key."""
    d = SETTINGS.get(dotted.removeprefix("config."))
    if not dotted.startswith("config.") or d is None:
        return ""
    if d.meta.flag:
        return f" ({d.meta.flag})"
    if d.meta.toml:
        section, _, key = d.meta.toml.rpartition(".")
        return f" (pipeline [{section}] {key})" if section else f" (pipeline {key})"
    return ""


def _value_at(d: Any, dotted: str) -> str:
    """A value of a nested identity at a diff_keys path, short enough for a one-line message."""
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return "absent"
        d = d[part]
    text = json.dumps(d, sort_keys=True)
    return text if len(text) <= 40 else text[:37] + "..."


def record_run(out: Store, identity: dict[str, Any], cfg: Any) -> None:
    """_run/run.json: the identity, when the run started, and the robot and task as given (a name or a path)."""
    write_json(out, RUN_JSON, {"schema": DATASET_SCHEMA, "identity": identity, "created": time.time(),
                               "config_source": {"robot": cfg.robot, "task": cfg.task}})
    maybe_kill("after_run_json")
