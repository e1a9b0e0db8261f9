"""`statgen export`: a dataset in the formats that training stacks read (LLaVA, LLaMA-Factory, LeRobot v3.0).

    statgen.export.export("data/franka", to="llava", out="exports/llava")

Streaming: one shard open and one sample (one trajectory episode) in memory at a time, so memory
does not grow with n. The source may be local or on object storage, and so may `out`. Every shard's
sha256 is checked against dataset.json as it streams; a damaged source fails the export (exit 1)
before anything is published. `out` must be new or empty (exit 2 otherwise), and a partial export is
never visible as complete (statgen.export.target).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from statgen import __version__
from statgen.errors import ConfigError

FORMATS = ("llava", "llamafactory", "lerobot")
EXPORT_SCHEMA = "statgen.export/1"


@dataclass
class ExportResult:
    format: str
    out: str
    samples: int
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        d = self.details
        if self.format == "lerobot":
            what = f"{d['frames']} frames in {d['episodes']} episodes ({d['mode']}, fps {d['fps']}, splits {d['splits']})"
        else:
            what = ", ".join(f"{v['records']} records in {v['file']}" for v in d["splits"].values())
            if d.get("dataset_info"):
                what += f"; dataset_info.json: {', '.join(d['dataset_info'])}"
        return f"exported {self.samples} samples to {self.out} as {self.format}: {what} in {self.seconds:.1f} s"


def _kinds(given: list[str] | None, available: list[str], fmt: str) -> list[str]:
    if not given:
        return sorted(available, key=lambda k: (k != "rosa", available.index(k)))  # the ROSA kind first: LeRobot's task is its question
    unknown = [k for k in given if k not in available]
    if unknown:
        raise ConfigError(f"--text {','.join(unknown)}: not in this dataset; valid: {', '.join(available)}")
    if len(set(given)) != len(given):
        raise ConfigError(f"--text {','.join(given)}: a kind is given twice")
    return list(given)


def export(dataset: str, *, to: str, out: str, camera: str | None = None, texts: list[str] | None = None,
           progress: bool = False) -> ExportResult:
    """Export `dataset` (a folder or s3:// / gs:// prefix) to `out` in format `to`.

    camera: the camera whose image goes with each record (llava, llamafactory: default "front";
    lerobot: default every camera of the dataset). texts: the text kinds to export (default: every
    kind the samples have, "rosa" first); llava and llamafactory write one record per sample and kind.
    Arguments are checked, and the source's dataset.json read, before anything is created."""
    from statgen.export.source import Source
    from statgen.export.target import Target
    from statgen.run.progress import Progress

    if to not in FORMATS:
        raise ConfigError(f"--to {to!r}: expected one of {', '.join(FORMATS)}")
    t0 = time.monotonic()
    src = Source(dataset)
    first = src.first_sample()
    kinds = _kinds(texts, list(first.text), to)
    if to == "lerobot":
        cameras = [src.check_camera(camera)] if camera else list(src.cameras)
    else:
        cameras = [src.check_camera(camera or "front")]
    target = Target(out)
    bar = Progress(total=src.info.samples, done=0, label=f"statgen export {to}", enabled=progress)
    done = 0

    def tick(k: int) -> None:
        nonlocal done
        done += k
        bar.update(done)

    try:
        if to == "lerobot":
            from statgen.export.lerobot import export_lerobot

            details = export_lerobot(src, target, cameras=cameras, kinds=kinds, progress=tick)
        else:
            from statgen.export.chat import export_chat

            details = export_chat(src, target, style=to, camera=cameras[0], kinds=kinds, progress=tick)
        if done != src.info.samples:
            raise ConfigError(f"internal error: exported {done} samples, dataset.json lists {src.info.samples}")
        marker = {
            "schema": EXPORT_SCHEMA, "format": to, "statgen_version": __version__, "source": src.uri,
            "source_dataset_json_sha256": hashlib.sha256(src.store.read_bytes("dataset.json")).hexdigest(),
            "robot": src.info.robot, "samples": done, "cameras": cameras, "text": kinds,
            "splits": {k: [s.name for s in v] for k, v in src.splits.items()}, "details": details,
            "complete": True,
        }
        target.commit(marker)
    except BaseException:
        target.abort()
        raise
    bar.finish(done)
    return ExportResult(format=to, out=target.uri, samples=done, seconds=time.monotonic() - t0, details=details)
