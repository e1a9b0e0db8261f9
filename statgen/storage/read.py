"""Reading a dataset back: dataset.json, shards as plain tar, samples grouped by key."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from statgen.errors import ConfigError


def read_dataset_json(root: Path) -> dict[str, Any]:
    p = Path(root) / "dataset.json"
    if not p.exists():
        if (Path(root) / "_run" / "run.json").exists():
            raise ConfigError(f"{root}: the run is not finished (no dataset.json); complete it with `statgen generate --resume --out {root}`")
        raise ConfigError(f"{root}: not a statgen dataset (no dataset.json)")
    try:
        ds = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: corrupted ({e.__class__.__name__}: {e}); rewrite it with `statgen generate --resume --out {root}`") from None
    if not isinstance(ds, dict) or not str(ds.get("schema", "")).startswith("statgen.dataset/"):
        raise ConfigError(f"{p}: not a statgen dataset.json (schema {ds.get('schema') if isinstance(ds, dict) else None!r})")
    return ds


def iter_tar_samples(path: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {field: bytes}) per sample, in tar order; a key's members must be contiguous."""
    current: str | None = None
    fields: dict[str, bytes] = {}
    with tarfile.open(path, mode="r:") as tf:
        for m in tf:
            if not m.isfile():
                continue
            key, _, field = m.name.partition(".")
            if key != current:
                if current is not None:
                    yield current, fields
                current, fields = key, {}
            f = tf.extractfile(m)
            fields[field] = f.read() if f is not None else b""
    if current is not None:
        yield current, fields
