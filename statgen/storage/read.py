"""Reading a dataset back: dataset.json, shards as plain tar streams, samples grouped by key."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from typing import BinaryIO

from statgen.errors import ConfigError
from statgen.schema import DatasetInfo, SchemaError
from statgen.storage.fs import Store


def read_dataset_json(store: Store, *, damaged: type[Exception] = ConfigError) -> DatasetInfo:
    """dataset.json, checked against its declaration (statgen.schema.DatasetInfo). No dataset at all is a
    ConfigError; an unfinished run, a corrupted file or one that does not match the declaration raises
    `damaged` (verify and preview pass VerifyError: a finding, exit 1), naming every problem."""
    if not store.exists("dataset.json"):
        if store.exists("_run/run.json"):
            raise damaged(f"{store.uri}: the run is not finished (no dataset.json); complete it with `statgen generate --resume --out {store.uri}`")
        raise ConfigError(f"{store.uri}: not a statgen dataset (no dataset.json)")
    try:
        ds = json.loads(store.read_bytes("dataset.json"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise damaged(f"{store.join('dataset.json')}: corrupted ({e.__class__.__name__}: {e}); rewrite it with `statgen generate --resume --out {store.uri}`") from None
    if not isinstance(ds, dict) or not str(ds.get("schema", "")).startswith("statgen.dataset/") or not isinstance(ds.get("shards"), list):
        raise damaged(f"{store.join('dataset.json')}: not a statgen dataset.json (schema {ds.get('schema') if isinstance(ds, dict) else None!r})")
    try:
        return DatasetInfo.from_json(ds)
    except SchemaError as e:
        fix = (f"rewrite it with `statgen generate --resume --out {store.uri}`" if store.exists("_run/run.json")
               else "copy it again from the dataset's source")
        raise damaged(f"{store.join('dataset.json')}: malformed: {e}; {fix}") from None


def iter_tar_samples(f: BinaryIO) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {field: bytes}) per sample from a tar stream, in order; a key's members are contiguous."""
    current: str | None = None
    fields: dict[str, bytes] = {}
    with tarfile.open(fileobj=f, mode="r|") as tf:
        for m in tf:
            if not m.isfile():
                continue
            key, _, field = m.name.partition(".")
            if key != current:
                if current is not None:
                    yield current, fields
                current, fields = key, {}
            member = tf.extractfile(m)
            fields[field] = member.read() if member is not None else b""
    if current is not None:
        yield current, fields


def iter_shard(store: Store, name: str) -> Iterator[tuple[str, dict[str, bytes]]]:
    with store.open_input(name) as f:
        yield from iter_tar_samples(f)
