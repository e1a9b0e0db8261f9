"""What a run keeps, repairs or removes of a dataset in --out: a finished dataset checked whole, the
finished shards of a stopped one (their checksums checked), partial and temporary files, and
everything a run that finished nothing had created."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from statgen.run.job import ShardPlan
from statgen.schema import DatasetInfo, SchemaError, ShardInfo
from statgen.storage.fs import Store
from statgen.storage.run import RUN_DIR, RUN_JSON, SHARDS_JSONL, ShardLog, read_shards
from statgen.storage.shards import index_name, shard_name


def unfinish(out: Store) -> None:
    """A run that is about to write removes dataset.json first: no reader takes the dataset for finished meanwhile."""
    out.delete("dataset.json")


def remove_dataset_files(out: Store) -> None:
    """Delete what statgen writes into a dataset (dataset.json first, so no reader takes what is
    left for complete; then shards, index, partial files, shards.jsonl and run.json). Other files
    are left alone, and so is the lock: the caller holds it."""
    out.delete("dataset.json")
    out.delete("README.md")  # the dataset card and its plots (statgen.export.card)
    for rel in out.list("stats"):
        if rel.endswith(".png"):
            out.delete(rel)
    for sub in ("shards", "index"):
        for rel in out.list(sub):
            out.delete(rel)
    sweep_partials(out)
    out.delete(SHARDS_JSONL)
    out.delete(RUN_JSON)


def new_dirs(out: Store) -> list[pathlib.Path]:
    """The local folders from --out up to its first existing ancestor: what a run creates, deepest first."""
    if not out.is_local:
        return []
    dirs, d = [], out.local_root
    while not d.exists() and d != d.parent:
        dirs.append(d)
        d = d.parent
    return dirs


def remove_empty_dirs(out: Store, new_dirs: list[pathlib.Path]) -> None:
    """rmdir (never a recursive delete) the dataset's own sub-folders, then the folders this run created."""
    if not out.is_local:
        return
    for d in [out.local_root / sub for sub in ("index", "shards", "stats", RUN_DIR)] + new_dirs:
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


def nothing_finished(out: Store) -> bool:
    """No shard is recorded in _run/shards.jsonl (what --resume would keep). False when that cannot be read."""
    try:
        return not read_shards(out)
    except Exception:
        return False


def finished_samples(out: Store) -> int | None:
    try:
        return sum(info.samples for info, _ in read_shards(out))
    except Exception:
        return None
