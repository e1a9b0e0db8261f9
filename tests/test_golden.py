"""The golden run (tests/golden/): the code must reproduce the pinned reference exactly.

Two routes to the same reference, both at `--randomize none` (the task's scene as built): the
whole `statgen generate` (Ray, 2 workers), and the shard producer in this process (no Ray; part
of `make test-fast`). Image hashes are compared only when the reference holds this machine's GL
renderer; everything else (every JSON member byte for byte, every index row, dataset.json's
deterministic part) is compared everywhere.

At `--randomize appearance` the looks come from their own streams and never change which
configurations are accepted: every JSON member equals the golden run's but for its `scene` block,
and the images differ.
"""

from __future__ import annotations

import hashlib
import json
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


def _produce(tmp_path, level: str) -> tuple[dict, dict, dict, str]:
    """The golden run's config at a randomize level, shard by shard in this process: JSON members, image
    hashes, shard hashes, GL renderer."""
    import statgen
    from statgen.run.generate import prepare
    from statgen.run.job import plan_shards
    from statgen.run.producer import ShardProducer
    from statgen.sim.render import gl_renderer_name

    cfg = statgen.build_config({"robot": golden.ROBOT, "seed": golden.SEED, "n": golden.N, "shard_size": golden.SHARD_SIZE, "out": str(tmp_path),
                                "randomize.level": level})
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
    return members, image_sha, shard_sha, renderer


def test_the_shard_producer_reproduces_the_golden_run_without_ray(reference, tmp_path):
    import pyarrow.dataset as pads

    members, image_sha, shard_sha, renderer = _produce(tmp_path, golden.LEVEL)
    _compare_members(members, reference["members"])
    table = pads.dataset(tmp_path / "index", format="parquet").to_table().sort_by("index")
    assert table.to_pylist() == reference["index"]["rows"]
    _compare_images({"members": image_sha, "shards": shard_sha}, reference, renderer)


def test_appearance_keeps_the_golden_states_and_answers(reference, tmp_path):
    """Materials, textures, lights and a background change the pixels only: the states, the ROSA and
    natural answers and every camera label equal the golden run's; only `scene` is new."""
    members, image_sha, _, renderer = _produce(tmp_path, "appearance")
    assert sorted(members) == sorted(reference["members"])
    for k in sorted(members):
        got, ref = json.loads(members[k]), json.loads(reference["members"][k])
        assert got.pop("scene")["level"] == "appearance" and ref.pop("scene")["level"] == "none"
        assert got == ref, f"{k}: differs from the golden run beyond its scene block"
    if renderer in reference["images"]:
        same = [k for k, v in image_sha.items() if reference["images"][renderer]["members"].get(k) == v]
        assert not same, f"{len(same)} images equal the golden run's at appearance (the look did not change them)"
