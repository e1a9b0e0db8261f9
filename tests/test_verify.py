"""`statgen verify` as a trust tool: it finds each kind of damage, says which shard, and how to repair."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import e2e_args, run_cli

from statgen.verify import verify


def rewrite_tar(path: Path, edit) -> None:
    """Re-write a shard with plain tarfile, passing each (name, bytes) through `edit` (None drops it)."""
    with tarfile.open(path) as tf:
        members = [(m.name, tf.extractfile(m).read()) for m in tf.getmembers()]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            out = edit(name, data)
            if out is None:
                continue
            name, data = out
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    path.write_bytes(buf.getvalue())


def relist(root: Path, name: str) -> None:
    """Make dataset.json agree with the shard's new bytes, so only deeper checks can catch the damage."""
    ds = json.loads((root / "dataset.json").read_text())
    data = (root / name).read_bytes()
    for s in ds["shards"]:
        if s["name"] == name:
            s["bytes"], s["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    (root / "dataset.json").write_text(json.dumps(ds))


@pytest.fixture
def copy(dataset_2w, tmp_path) -> Path:
    dst = tmp_path / "ds"
    shutil.copytree(dataset_2w, dst)
    return dst


def test_clean_dataset_reports_every_shard_ok(dataset_2w):
    rep = verify(dataset_2w)
    assert rep.ok and rep.samples == 24 and rep.fk_checked == 24
    assert [s for _, s in rep.shard_status] == ["ok"] * 3


def test_label_that_fk_disagrees_with(copy):
    def edit(name, data):
        if name == "000000009.json":
            s = json.loads(data)
            s["state"]["ee_pos"][2] += 1e-4  # 0.1 mm: far below a ROSA bin, far above FK's precision
            return name, json.dumps(s).encode()
        return name, data

    rewrite_tar(copy / "shards/statgen-000001.tar", edit)
    relist(copy, "shards/statgen-000001.tar")
    rep = verify(copy)
    assert not rep.ok
    bad = dict(rep.shard_status)
    assert bad["shards/statgen-000000.tar"] == "ok" and "ee_pos disagrees with FK" in bad["shards/statgen-000001.tar"]
    assert "000000009" in bad["shards/statgen-000001.tar"]


def test_duplicate_key(copy):
    rewrite_tar(copy / "shards/statgen-000002.tar", lambda n, d: (n.replace("000000016", "000000003"), d.replace(b'"index":16', b'"index":3')))
    relist(copy, "shards/statgen-000002.tar")
    rep = verify(copy)
    assert not rep.ok
    assert any("duplicate key 000000003" in p for p in rep.problems)


def test_shards_from_another_dataset(copy, tmp_path):
    other = tmp_path / "other"
    run_cli(*e2e_args(other, "--seed", "1"))
    shutil.copy(other / "shards/statgen-000001.tar", copy / "shards/statgen-000001.tar")  # swapped in
    shutil.copy(other / "shards/statgen-000002.tar", copy / "shards/statgen-000007.tar")  # extra
    rep = verify(copy)
    status = dict(rep.shard_status)
    swapped = status["shards/statgen-000001.tar"]
    assert "sha256 mismatch" in swapped or "truncated or altered" in swapped  # looks differ in their records' length: often the size
    assert "not listed" in status["shards/statgen-000007.tar"]
    assert status["shards/statgen-000000.tar"] == "ok"
    lines = rep.lines()
    assert any(line.startswith("BAD shards/statgen-000001.tar") for line in lines)
    assert "--resume" in lines[-1]


def test_missing_and_truncated_shards_and_index(copy):
    (copy / "shards/statgen-000000.tar").unlink()
    p = copy / "shards/statgen-000002.tar"
    p.write_bytes(p.read_bytes()[:700])
    (copy / "index/statgen-000001.parquet").unlink()
    status = dict(verify(copy).shard_status)
    assert status["shards/statgen-000000.tar"].startswith("missing")
    assert "truncated" in status["shards/statgen-000002.tar"]
    assert "index" in status["shards/statgen-000001.tar"]


def test_rosa_answer_that_does_not_match_the_state(copy):
    def edit(name, data):
        if name == "000000004.json":
            s = json.loads(data)
            t = s["text"]["rosa"]["answer"].split()
            t[0] = str((int(t[0]) + 7) % 256)
            s["text"]["rosa"]["answer"] = " ".join(t)
            return name, json.dumps(s).encode()
        return name, data

    rewrite_tar(copy / "shards/statgen-000000.tar", edit)
    relist(copy, "shards/statgen-000000.tar")
    rep = verify(copy)
    assert any("ROSA answer" in p and "000000004" in p for p in rep.problems)


def test_undecodable_image(copy):
    rewrite_tar(copy / "shards/statgen-000001.tar", lambda n, d: (n, d[:200] if n == "000000010.front.jpg" else d))
    relist(copy, "shards/statgen-000001.tar")
    rep = verify(copy)
    assert any("000000010" in p and "decode" in p for p in rep.problems), rep.problems
    assert np.sum([s != "ok" for _, s in rep.shard_status]) == 1


def test_every_shard_is_rerendered_from_its_scene_record(dataset_2w):
    """The default `full` dataset: the first sample of each shard renders again, bit for bit, from its record."""
    rep = verify(dataset_2w, render_samples=2)
    assert rep.ok and rep.rerendered == 6, rep.lines()
    assert any("largest mean difference 0 grey levels" in n for n in rep.notes), rep.notes


def test_a_dataset_made_before_the_render_levers_re_renders_as_made(tmp_path):
    """A full dataset made with 256 px textures and the task's floor grid, its records then stripped of the
    two settings (as statgen wrote them before these existed): verify reads them back with their legacy
    values and re-renders it bit for bit. With today's defaults (128 px, 0.4 m) the re-render of this
    dataset differs by 0.32 grey levels on average, inside the 0.5 bound: only the exact 0 tells."""
    root, pipe = tmp_path / "old", tmp_path / "old.toml"
    pipe.write_text("[randomize]\ntexture_size = 256\nfloor_grid_m = 0.1\n")
    run_cli(*e2e_args(root, "--workers", "1", "--pipeline", str(pipe)))
    for f in (root / "dataset.json", root / "_run" / "run.json"):
        d = json.loads(f.read_text())
        config = d["config"] if f.name == "dataset.json" else d["identity"]["config"]
        assert (config["randomize"].pop("texture_size"), config["randomize"].pop("floor_grid_m")) == (256, 0.1)
        f.write_text(json.dumps(d))
    rep = verify(root, render_samples=2)
    assert rep.ok and rep.rerendered > 0, rep.lines()
    assert any("largest mean difference 0 grey levels" in n for n in rep.notes), rep.notes


@pytest.mark.parametrize("damage", ["swapped image", "edited look"])
def test_pixels_that_do_not_match_their_scene_record(copy, damage):
    """An image from another sample of the shard (it decodes, FK and the ROSA answer still agree), or a
    look record edited after rendering (one surface's colour): only the re-render can tell."""
    shard = copy / "shards/statgen-000000.tar"
    with tarfile.open(shard) as tf:
        other = tf.extractfile("000000001.front.jpg").read()

    def edit(name, data):
        if damage == "swapped image" and name == "000000000.front.jpg":
            return name, other
        if damage == "edited look" and name == "000000000.json":
            d = json.loads(data)
            table = next(s for s in d["scene"]["surfaces"] if s["name"] == "table_top")
            table["rgba"] = [round(1.0 - table["rgba"][0], 3), *table["rgba"][1:]]
            return name, json.dumps(d).encode()
        return name, data

    rewrite_tar(shard, edit)
    relist(copy, "shards/statgen-000000.tar")
    rep = verify(copy)
    assert [p for p in rep.problems if "re-render" in p and "000000000" in p], rep.problems
    assert rep.rerendered == 3


def test_a_schema_1_dataset_is_still_verified(tmp_path):
    """A dataset as statgen wrote it before schema 2 (no scene block, ee_pixel null behind the camera,
    no randomize settings: made at level none) passes verify, FK and the seed re-draw included;
    nothing is re-rendered (it has no record)."""
    root = tmp_path / "v1"
    run_cli(*e2e_args(root, "--workers", "1", "--randomize", "none"))
    shutil.rmtree(root / "_run")  # its run record is schema 2's

    def edit(name, data):
        if name.endswith(".json"):
            d = json.loads(data)
            d["schema"] = "statgen.sample/1"
            del d["scene"]
            for c in d["cameras"].values():
                if c["ee_depth"] <= 0:
                    c["ee_pixel"] = None
            return name, json.dumps(d).encode()
        return name, data

    ds = json.loads((root / "dataset.json").read_text())
    for s in ds["shards"]:
        rewrite_tar(root / s["name"], edit)
    ds["schema"] = "statgen.dataset/1"
    del ds["config"]["randomize"]
    del ds["acceptance"]["new_views"]
    ds["config"]["schema"] = "statgen.sample/1"
    for c in ds["task_spec"]["cameras"]:
        for k in ("K", "T_base_cam", "shell"):
            del c[k]
    del ds["task_spec"]["randomize"]
    (root / "dataset.json").write_text(json.dumps(ds))
    for s in ds["shards"]:
        relist(root, s["name"])
    rep = verify(root)
    assert rep.ok, rep.problems
    assert rep.redrawn == len(ds["shards"]) and rep.rerendered == 0 and rep.fk_checked == rep.samples > 0
