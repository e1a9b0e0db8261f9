"""What a run keeps, repairs or removes of a dataset in --out: a finished dataset checked whole, the
finished shards of a stopped one (their checksums checked), partial and temporary files, and
everything a run that finished nothing had created."""

from __future__ import annotations

import pathlib
from typing import Any

from statgen.errors import ConfigError
from statgen.run.job import ShardPlan
from statgen.schema import ShardInfo
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


def _identity_matches(out: Store, identity: dict[str, Any]) -> bool:
    """True when _run/run.json is there and records exactly this run's identity."""
    from statgen.run.identity import recorded_identity

    try:
        return out.exists(RUN_JSON) and recorded_identity(out) == identity
    except ConfigError:  # unreadable run.json
        return False


def _intact(out: Store, info: ShardInfo, extra: dict, p: ShardPlan) -> bool:
    """The shard and its index file are there, with the sizes and sha256 the shard log records."""
    idx = index_name(p.shard)
    return (info.first_index == p.first_index and info.samples == p.count and out.exists(info.name) and out.exists(idx)
            and out.size(info.name) == info.bytes and out.sha256(info.name) == info.sha256
            and out.sha256(idx) == extra.get("index_sha256"))


def intact_run(out: Store, identity: dict[str, Any], plans: list[ShardPlan]) -> dict[int, tuple[ShardInfo, dict]] | None:
    """Every planned shard of a run whose _run/run.json records this identity, from the shard log
    (shard -> (info, log extra)), when each shard and index file checks out against it; else None.
    dataset.json plays no part: what a finished run's dataset.json must hold follows from these."""
    if not _identity_matches(out, identity):
        return None
    logged = {info.name: (info, extra) for info, extra in read_shards(out)}
    results: dict[int, tuple[ShardInfo, dict]] = {}
    for p in plans:
        entry = logged.get(shard_name(p.shard))
        if entry is None or not _intact(out, *entry, p):
            return None
        results[p.shard] = entry
    return results


def stray_files(out: Store, plans: list[ShardPlan]) -> list[str]:
    """Files in shards/ and index/ that are not the plan's (another run's shard, a copy), and hidden leftovers."""
    expected = {shard_name(p.shard) for p in plans} | {index_name(p.shard) for p in plans}
    stray = [rel for sub in ("shards", "index") for rel in out.list(sub) if rel not in expected]
    return stray + partials(out)


def keep_finished(out: Store, plans: list[ShardPlan], log_: ShardLog, identity: dict[str, Any]) -> dict[int, tuple[ShardInfo, dict]]:
    """Shards of a stopped run whose checksum checks out; every other file in shards/ and index/ is removed.
    Nothing is kept unless _run/run.json records this run's identity: a shard is only ever kept for
    the run that made it."""
    expected = {shard_name(p.shard): p for p in plans}
    kept: dict[int, tuple[ShardInfo, dict]] = {}
    if _identity_matches(out, identity):
        for info, extra in read_shards(out):
            p = expected.get(info.name)
            if p is not None and _intact(out, info, extra, p):
                kept[p.shard] = (info, extra)
    keep_files = {info.name for info, _ in kept.values()} | {index_name(s) for s in kept}
    for sub in ("shards", "index"):
        for rel in out.list(sub):
            if rel not in keep_files:
                out.delete(rel)
    sweep_partials(out)
    log_.reset(sorted(kept.values(), key=lambda x: x[0].name))  # shards.jsonl holds exactly the kept shards
    return kept


def partials(out: Store) -> list[str]:
    """The hidden partial and temporary files of writers that died, failed or were stopped: a
    shard's or index's partial file (local stores), the temporary of an atomic write, or the
    hidden upload of a failed or interrupted one (object storage)."""
    found = []
    for sub in ("shards", "index", RUN_DIR, ""):
        for rel in out.list_hidden(sub):
            name = rel.rsplit("/", 1)[-1]
            if ".partial-" in name or name.endswith(".tmp"):
                found.append(rel)
    return found


def sweep_partials(out: Store) -> None:
    """Remove the partial and temporary files (see partials)."""
    for rel in partials(out):
        out.delete(rel)


def nothing_finished(out: Store) -> bool:
    """No shard is recorded in _run/shards.jsonl (what --resume would keep). False when that cannot be read."""
    try:
        return not read_shards(out)
    except Exception:
        return False


def finished(out: Store) -> tuple[int, int] | None:
    """(shards, samples) recorded as finished in _run/shards.jsonl, what --resume would keep (each
    shard once), or None when that cannot be read."""
    try:
        shards = {info.name: info.samples for info, _ in read_shards(out)}
    except Exception:
        return None
    return len(shards), sum(shards.values())
