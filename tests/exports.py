"""Small datasets for the export, card and loading tests, made in this process without Ray.

`make_dataset` runs what `statgen generate` runs, minus Ray: the producer per shard, the run's shard
log, the card and dataset.json (statgen.run.finalize). `make_trajectory` turns a real dataset into a
trajectory-shaped one (an `episode` block and an `action` per sample, as trajectories will carry),
rewriting each shard and dataset.json's checksums, to test the episode path of the LeRobot export.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
from conftest import resolved


def make_dataset(out: Path, *, n: int = 24, shard_size: int = 8, val_fraction: float = 0.34, cameras=("front",), seed: int = 0) -> Path:
    from statgen.config import build_config
    from statgen.run import finalize
    from statgen.run.job import Job, plan_shards
    from statgen.run.producer import ShardProducer
    from statgen.storage.fs import Store
    from statgen.storage.run import ShardLog

    cfg = build_config({"robot": "franka", "n": n, "shard_size": shard_size, "val_fraction": val_fraction, "cameras": list(cameras),
                        "seed": seed, "out": str(out)})
    spec, task, model = resolved("franka")
    job = Job(config=cfg, robot=spec, task=task, model=model)
    store = Store.open(str(out))
    (out / "_run").mkdir(parents=True, exist_ok=True)
    log = ShardLog(store)
    producer = ShardProducer(job)
    results = {}
    try:
        for plan in plan_shards(n, shard_size):
            r = producer.produce(plan, store)
            log.append(r.info, r.log_extra())
            results[plan.shard] = (r.info, r.log_extra())
    finally:
        producer.close()
    info = finalize.dataset_info(job, results, gl_renderer="test", samples_per_second=None)
    finalize.write_card(store, info, results)
    store.write_bytes("dataset.json", json.dumps(info.to_json(), indent=1, sort_keys=True).encode())
    return out


STEPS, HZ = 4, 10


def make_trajectory(src: Path, dst: Path, *, steps: int = STEPS, hz: int = HZ) -> Path:
    """A copy of `src` whose samples are episodes of `steps` consecutive samples (within a shard), at `hz`."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("_run"))
    ds = json.loads((dst / "dataset.json").read_text())
    for sh in ds["shards"]:
        path = dst / sh["name"]
        with tarfile.open(path) as tf:
            members = [(m, tf.extractfile(m).read()) for m in tf.getmembers()]
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tw:
            for m, data in members:
                if m.name.endswith(".json"):
                    d = json.loads(data)
                    i = d["index"]
                    d["episode"] = {"id": i // steps, "step": i % steps, "steps": steps, "hz": hz}
                    d["action"] = {"note": "trajectory samples will carry their action; the exporter takes the next state"}
                    data = json.dumps(d, sort_keys=True).encode()
                info = tarfile.TarInfo(m.name)
                info.size, info.mtime, info.mode = len(data), 0, 0o444
                tw.addfile(info, io.BytesIO(data))
        blob = buf.getvalue()
        path.write_bytes(blob)
        sh["bytes"], sh["sha256"] = len(blob), hashlib.sha256(blob).hexdigest()
    (dst / "dataset.json").write_text(json.dumps(ds, indent=1, sort_keys=True))
    return dst


def source_samples(root: Path) -> dict[str, dict[str, bytes]]:
    """{key: {member: bytes}} of every shard, read with plain tarfile."""
    out: dict[str, dict[str, bytes]] = {}
    for tar in sorted((root / "shards").glob("*.tar")):
        with tarfile.open(tar) as tf:
            for m in tf.getmembers():
                key, _, field = m.name.partition(".")
                out.setdefault(key, {})[field] = tf.extractfile(m).read()
    return out


def shard_of(root: Path) -> dict[str, str]:
    """{key: shard name} from the tars."""
    out = {}
    for tar in sorted((root / "shards").glob("*.tar")):
        with tarfile.open(tar) as tf:
            for m in tf.getmembers():
                out[m.name.partition(".")[0]] = f"shards/{tar.name}"
    return out


# --------------------------------------------------------------------------- fixtures over conftest's small_dataset
# (imported by the test modules that read it: `from exports import ds, splits, src`)


@pytest.fixture(scope="module")
def ds(small_dataset) -> Path:
    """24 samples in 3 shards of 8, front and wrist cameras, one shard in validation (conftest)."""
    return small_dataset


@pytest.fixture(scope="module")
def src(ds):
    return source_samples(ds)


@pytest.fixture(scope="module")
def splits(ds) -> dict[str, list[str]]:
    return json.loads((ds / "dataset.json").read_text())["splits"]
