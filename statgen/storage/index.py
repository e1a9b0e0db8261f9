"""The Parquet index: one file per shard, one row per sample (its columns: statgen.schema.index_schema)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq

from statgen import faults
from statgen.storage.shards import partial_path


def write_index(root: Path, name: str, rows: list[dict[str, Any]], *, schema: pa.Schema,
                publish: Callable[[Path, str], None] | None = None) -> str:
    """Write rows (with the explicit Arrow `schema`) as index/<shard>.parquet, atomically: staged under `root`, then moved
    into place (os.replace) or handed to `publish(tmp_path, name)` (Store.put_file). Returns its sha256."""
    final = Path(root) / name
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(final)
    try:
        buf = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), buf)
        data = buf.getvalue()
        with open(tmp, "wb") as f:
            faults.eio_writer(f, "index", name).write(data)  # f itself unless a fault test asks
        sha = hashlib.sha256(data).hexdigest()
        if publish is None:
            os.replace(tmp, final)
        else:
            publish(tmp, name)
    finally:
        tmp.unlink(missing_ok=True)
    return sha
