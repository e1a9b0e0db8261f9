"""The Parquet index: one file per shard, one row per sample, flat state columns."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.parquet as pq

from statgen import faults
from statgen.storage.shards import partial_path

STATE_COLUMNS = (
    ("ee_pos", ("x", "y", "z")),
    ("ee_quat", ("w", "x", "y", "z")),
    ("ee_euler", ("roll", "pitch", "yaw")),
    ("ee_rot6d", ("0", "1", "2", "3", "4", "5")),
)


def column_safe(name: str) -> str:
    return name.replace("/", "_")


def index_row(sample: dict[str, Any], *, shard_name: str) -> dict[str, Any]:
    """Flatten one sample's JSON into a row."""
    s = sample["state"]
    row: dict[str, Any] = {"index": sample["index"], "key": f"{sample['index']:09d}", "shard": shard_name}
    for field, parts in STATE_COLUMNS:
        src = s["ee_quat_wxyz"] if field == "ee_quat" else s["ee_euler_xyz"] if field == "ee_euler" else s[field]
        for p, v in zip(parts, src):
            row[f"{field}_{p}"] = float(v)
    row["gripper_width"] = float(s["gripper_width"])
    row["gripper_open_fraction"] = float(s["gripper_open_fraction"])
    row["gripper_open"] = bool(s["gripper_open"])
    for name, q in zip(s["joint_names"], s["qpos"]):
        row[f"q_{column_safe(name)}"] = float(q)
    for cam, c in sorted(sample["cameras"].items()):
        px = c["ee_pixel"] or [float("nan"), float("nan")]
        row[f"{cam}_u"], row[f"{cam}_v"] = float(px[0]), float(px[1])
        row[f"{cam}_depth"] = float(c["ee_depth"])
        row[f"{cam}_in_view"] = bool(c["ee_in_view"])
        row[f"{cam}_visible"] = bool(c["ee_visible"])
    row["rosa"] = sample["text"]["rosa"]["answer"]
    return row


def write_index(root: Path, name: str, rows: list[dict[str, Any]], *, publish: Callable[[Path, str], None] | None = None) -> str:
    """Write rows as index/<shard>.parquet, atomically: staged under `root`, then moved
    into place (os.replace) or handed to `publish(tmp_path, name)` (Store.put_file). Returns its sha256."""
    final = Path(root) / name
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(final)
    try:
        buf = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(rows), buf)
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
