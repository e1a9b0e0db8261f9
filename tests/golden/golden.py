"""The golden run: a small reference dataset pinned in the repo (issue 9).

franka, tabletop, seed 0, 64 samples in 2 shards of 32, `--randomize none` (the task's scene as
built), default pipeline settings otherwise.
`view(root)` reads a dataset with plain tarfile and pyarrow (not statgen's readers) into a
JSON-ready dict:

- ``members``: every sample's JSON member, as the exact text written (byte-identical check);
- ``index``: the Parquet index rows and the Arrow schema of the index;
- ``dataset``: the deterministic part of dataset.json (wall-clock speed, memory and the
  renderer-dependent shard checksums are left out);
- ``images``: per GL renderer string (images may differ on another renderer, or another
  libjpeg), the sha256 of every image member and of every shard tar.

Regenerate with ``python tests/golden/make_golden.py`` (say why in the commit) when the
output changes on purpose.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

ROBOT, SEED, N, SHARD_SIZE = "franka", 0, 64, 32
GOLDEN_FILE = Path(__file__).with_name("franka_seed0_n64.json")
LEVEL = "none"  # the scene as the task builds it: the golden images are pinned at this level (schema 2's default is "full")
ARGS = ["--robot", ROBOT, "--seed", str(SEED), "--n", str(N), "--shard-size", str(SHARD_SIZE), "--randomize", LEVEL]
# dataset.json keys that depend on the machine or the moment, not on (config, seed).
VOLATILE = ("samples_per_second", "resources", "versions", "shards", "statgen_version")


def view(root: Path) -> dict:
    import pyarrow.dataset as pads

    root = Path(root)
    ds = json.loads((root / "dataset.json").read_text())
    members: dict[str, str] = {}
    image_sha: dict[str, str] = {}
    for tar in sorted((root / "shards").glob("*.tar")):
        with tarfile.open(tar) as tf:
            for m in tf.getmembers():
                data = tf.extractfile(m).read()
                if m.name.endswith(".json"):
                    members[m.name] = data.decode("utf-8")
                else:
                    image_sha[m.name] = hashlib.sha256(data).hexdigest()
    table = pads.dataset(root / "index", format="parquet").to_table().sort_by("index")
    shards = {s["name"]: {k: v for k, v in s.items() if k not in ("bytes", "sha256")} for s in ds["shards"]}
    return {
        "members": members,
        "index": {"schema": table.schema.to_string(show_schema_metadata=False), "rows": table.to_pylist()},
        "dataset": {**{k: v for k, v in ds.items() if k not in VOLATILE}, "shards": shards},
        "images": {ds["versions"]["gl_renderer"]: {
            "members": image_sha,
            "shards": {s["name"]: s["sha256"] for s in ds["shards"]},
        }},
    }


def load() -> dict:
    return json.loads(GOLDEN_FILE.read_text())
