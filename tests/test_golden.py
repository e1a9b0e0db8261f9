"""The golden run (tests/golden/): the code must reproduce the pinned reference exactly.

Two routes to the same reference: the whole `statgen generate` (Ray, 2 workers), and the
shard producer in this process (no Ray; part of `make test-fast`). Image hashes are
compared only when the reference holds this machine's GL renderer; everything else
(every JSON member byte for byte, every index row, dataset.json's deterministic part)
is compared everywhere.
"""

from __future__ import annotations

import hashlib
import sys
import tarfile
from pathlib import Path

import pytest
from conftest import run_cli

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
import golden  # noqa: E402

REGEN = "python tests/golden/make_golden.py (only when the output changes on purpose; say why in the commit)"


@pytest.fixture(scope="module")
def reference() -> dict:
    if not golden.GOLDEN_FILE.exists():
        pytest.fail(f"{golden.GOLDEN_FILE} is missing; create it with {REGEN}")
    return golden.load()


def _compare_members(got: dict[str, str], ref: dict[str, str]) -> None:
    assert sorted(got) == sorted(ref), "the samples' keys differ from the golden run"
    diff = [k for k in sorted(ref) if got[k] != ref[k]]
    assert not diff, f"{len(diff)} JSON members differ from the golden run, first {diff[0]}:\n got {got[diff[0]][:400]}\n ref {ref[diff[0]][:400]}\nregenerate with {REGEN}"


def _compare_images(got: dict, ref: dict, renderer: str) -> None:
    if renderer not in ref["images"]:
        pytest.skip(f"no golden image hashes for GL renderer {renderer!r} (have: {', '.join(ref['images'])}); "
                    "add them with python tests/golden/make_golden.py --merge")
    want = ref["images"][renderer]
    diff = [k for k in sorted(want["members"]) if got["members"].get(k) != want["members"][k]]
    assert not diff, f"{len(diff)} images differ from the golden run (renderer {renderer}), first {diff[0]}"
    assert got["shards"] == want["shards"]


@pytest.mark.slow
def test_generate_reproduces_the_golden_run(reference, tmp_path):
    out = tmp_path / "golden"
    run_cli("generate", *golden.ARGS, "--out", str(out), "--workers", "2", "--quiet")
    got = golden.view(out)
    _compare_members(got["members"], reference["members"])
    assert got["index"]["schema"] == reference["index"]["schema"]
    assert got["index"]["rows"] == reference["index"]["rows"]
    assert got["dataset"] == reference["dataset"]
    (renderer, images), = got["images"].items()
    _compare_images(images, reference, renderer)


def test_the_shard_producer_reproduces_the_golden_run_without_ray(reference, tmp_path):
    import pyarrow.dataset as pads

    import statgen
    from statgen.run.generate import prepare
    from statgen.run.job import plan_shards
    from statgen.run.producer import ShardProducer
    from statgen.sim.render import gl_renderer_name

    cfg = statgen.build_config({"robot": golden.ROBOT, "seed": golden.SEED, "n": golden.N, "shard_size": golden.SHARD_SIZE, "out": str(tmp_path)})
    job, store = prepare(cfg)
    producer = ShardProducer(job)
    try:
        shard_sha = {}
        for plan in plan_shards(cfg.n, cfg.shard_size):
            result = producer.produce(plan, store)
            shard_sha[result.info.name] = result.info.sha256
        renderer = gl_renderer_name(producer.renderer)
    finally:
        producer.close()
    members, image_sha = {}, {}
    for tar in sorted((tmp_path / "shards").glob("*.tar")):
        with tarfile.open(tar) as tf:
            for m in tf.getmembers():
                data = tf.extractfile(m).read()
                if m.name.endswith(".json"):
                    members[m.name] = data.decode("utf-8")
                else:
                    image_sha[m.name] = hashlib.sha256(data).hexdigest()
    _compare_members(members, reference["members"])
    table = pads.dataset(tmp_path / "index", format="parquet").to_table().sort_by("index")
    assert table.to_pylist() == reference["index"]["rows"]
    _compare_images({"members": image_sha, "shards": shard_sha}, reference, renderer)
