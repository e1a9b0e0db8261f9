"""statgen export (issue 13): LLaVA, LLaMA-Factory and LeRobot v3.0, checked record by record against the source.

The datasets are made in this process without Ray (tests/exports.py), so these run in `make test-fast`.
LeRobot's own reader is exercised in test_export_lerobot_reader.py (skipped without lerobot).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from conftest import assert_one_line
from exports import HZ, STEPS, ds, make_trajectory, shard_of, source_samples, splits, src  # noqa: F401 (ds, splits, src: fixtures)
from statgen.cli import main
from statgen.core.rosa import DIMS
from statgen.core.splits import split_shards, validation_count
from statgen.export import export
from statgen.export.target import MARKER


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".") and "export" in p.name)


# --------------------------------------------------------------------------- splits


@pytest.mark.parametrize("n_shards", [1, 2, 3, 7, 20, 101])
@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.1, 0.34, 0.5, 0.99])
def test_splits_partition_the_shards_deterministically(n_shards, fraction):
    for seed in (0, 1, 12345):
        s = split_shards(seed, n_shards, fraction)
        assert s == split_shards(seed, n_shards, fraction)  # the same every time (and so on resume)
        train, val = set(s["train"]), set(s["validation"])
        assert not train & val and train | val == set(range(n_shards))
        assert len(val) == validation_count(n_shards, fraction)
        assert train, "a dataset always keeps a training split"
        if fraction > 0 and n_shards >= 2:
            assert val
    if fraction == 0:
        assert split_shards(0, n_shards, 0.0)["validation"] == []


def test_split_depends_on_the_seed():
    assert len({tuple(split_shards(seed, 50, 0.2)["validation"]) for seed in range(10)}) > 1


def test_dataset_json_lists_the_splits(ds, splits):
    d = json.loads((ds / "dataset.json").read_text())
    names = [s["name"] for s in d["shards"]]
    expect = split_shards(d["seed"], len(names), d["config"]["val_fraction"])
    assert splits == {k: [names[i] for i in v] for k, v in expect.items()}
    assert sorted(splits["train"] + splits["validation"]) == names and len(splits["validation"]) == 1


# --------------------------------------------------------------------------- LLaVA and LLaMA-Factory


def test_llava_records_are_the_samples(ds, src, splits, tmp_path):
    out = tmp_path / "llava"
    r = export(str(ds), to="llava", out=str(out))
    assert r.samples == 24 and (out / MARKER).exists()
    keys = shard_of(ds)
    seen = set()
    for split in ("train", "validation"):
        records = json.loads((out / f"{split}.json").read_text())  # the whole JSON list loads back
        assert len(records) == 2 * sum(1 for k in keys if keys[k] in splits[split])  # one per sample and text kind
        for rec in records:
            key, kind = rec["id"].split("-")
            assert keys[key] in splits[split]
            sample = json.loads(src[key]["json"])
            human, gpt = rec["conversations"]
            assert human == {"from": "human", "value": "<image>\n" + sample["text"][kind]["question"]}
            assert gpt == {"from": "gpt", "value": sample["text"][kind]["answer"]}
            image = (out / rec["image"]).read_bytes()  # relative to --image_folder OUT
            assert image == src[key]["front.jpg"]
            assert np.array_equal(_pixels(image), _pixels(src[key]["front.jpg"]))
            seen.add((key, kind))
    assert len(seen) == 48


def test_llamafactory_records_and_dataset_info(ds, src, splits, tmp_path):
    out = tmp_path / "lf"
    export(str(ds), to="llamafactory", out=str(out), camera="wrist", texts=["rosa"])
    info = json.loads((out / "dataset_info.json").read_text())
    assert set(info) == {"statgen_franka_train", "statgen_franka_validation"}
    by_image = {}
    for name, entry in info.items():
        assert entry["formatting"] == "sharegpt" and entry["columns"] == {"messages": "messages", "images": "images"}
        assert entry["tags"] == {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}
        records = json.loads((out / entry["file_name"]).read_text())
        assert records and name.endswith(entry["file_name"].removesuffix(".json"))
        for rec in records:
            assert set(rec) == {"messages", "images"}
            text = "".join(m["content"] for m in rec["messages"])
            assert text.count("<image>") == len(rec["images"]) == 1
            assert [m["role"] for m in rec["messages"]] == ["user", "assistant"]
            key = Path(rec["images"][0]).name.split(".")[0]
            sample = json.loads(src[key]["json"])
            assert rec["messages"][0]["content"] == "<image>" + sample["text"]["rosa"]["question"]
            assert rec["messages"][1]["content"] == sample["text"]["rosa"]["answer"]
            assert (out / rec["images"][0]).read_bytes() == src[key]["wrist.jpg"]
            by_image[key] = name
    assert len(by_image) == 24


def test_llamafactory_loads_as_llamafactory_loads_it(ds, src, tmp_path, monkeypatch):
    """LLaMA-Factory's file loader: the dataset_info.json entry's file_name under dataset_dir, read with
    datasets' json builder (data/loader.py, load_from "file"), then its sharegpt checks: user/assistant
    alternating from the entry's tags, and as many <image> tags as images (mm_plugin), each image under dataset_dir."""
    import datasets

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    out = tmp_path / "lf"
    export(str(ds), to="llamafactory", out=str(out))
    info = json.loads((out / "dataset_info.json").read_text())
    total = 0
    for name, entry in info.items():
        d = datasets.load_dataset("json", data_files=str(out / entry["file_name"]), split="train", cache_dir=str(tmp_path / "cache"))
        cols, tags = entry["columns"], entry["tags"]
        for rec in d:
            msgs = rec[cols["messages"]]
            roles = [m[tags["role_tag"]] for m in msgs]
            assert roles == [tags["user_tag"], tags["assistant_tag"]] * (len(roles) // 2) and len(roles) % 2 == 0
            n_tags = sum(m[tags["content_tag"]].count("<image>") for m in msgs)
            assert n_tags == len(rec[cols["images"]]) == 1
            key = Path(rec[cols["images"]][0]).name.split(".")[0]
            assert _pixels((out / rec[cols["images"]][0]).read_bytes()).shape == (224, 224, 3)
            assert msgs[1][tags["content_tag"]] in {json.loads(src[key]["json"])["text"][k]["answer"] for k in ("rosa", "natural")}
            total += 1
    assert total == 48  # 24 samples x 2 text kinds


# --------------------------------------------------------------------------- LeRobot v3.0 (the files; the reader is in its own module)


def _lerobot_frames(out: Path):
    info = json.loads((out / "meta/info.json").read_text())
    files = sorted((out / "data").glob("*/*.parquet"))
    table = pq.read_table(files[0]) if len(files) == 1 else None
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    episodes = [r for f in sorted((out / "meta/episodes").glob("*/*.parquet")) for r in pq.read_table(f).to_pylist()]
    return info, rows, episodes, table


def test_lerobot_layout_totals_and_values(ds, src, splits, tmp_path):
    out = tmp_path / "lr"
    export(str(ds), to="lerobot", out=str(out))
    info, rows, episodes, table = _lerobot_frames(out)
    assert info["codebase_version"] == "v3.0" and info["video_path"] is None and info["fps"] == 1
    assert info["total_frames"] == len(rows) == 24 and info["total_episodes"] == len(episodes) == 24
    assert info["total_tasks"] == 1 and info["splits"] == {"train": "0:16", "validation": "16:24"}
    assert set(table.column_names) == set(info["features"])  # every feature is a column and every column a feature
    for name in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert name in info["features"]
    assert info["features"]["observation.state"]["names"] == list(DIMS)
    assert info["features"]["observation.images.front"] == {"dtype": "image", "shape": [224, 224, 3], "names": ["height", "width", "channels"]}
    keys = shard_of(ds)
    for i, (row, ep) in enumerate(zip(rows, episodes)):
        key = f"{row['source_index']:09d}"
        sample = json.loads(src[key]["json"])
        assert keys[key] in splits["train" if i < 16 else "validation"]
        assert row["index"] == row["episode_index"] == i and row["frame_index"] == 0 and row["timestamp"] == 0.0
        assert ep["episode_index"] == i and ep["length"] == 1 and (ep["dataset_from_index"], ep["dataset_to_index"]) == (i, i + 1)
        assert (ep["data/chunk_index"], ep["data/file_index"]) == (0, 0)
        st = sample["state"]
        rosa = np.array([*st["ee_pos"], *st["ee_euler_xyz"], 1.0 if st["gripper_open"] else 0.0], dtype=np.float32)
        assert np.array_equal(np.array(row["observation.state"], dtype=np.float32), rosa)
        assert row["action"] == row["observation.state"]  # an independent sample: hold its own state
        assert np.array_equal(np.array(row["observation.joint_positions"], dtype=np.float32), np.array(st["qpos"], dtype=np.float32))
        for kind in ("rosa", "natural"):
            assert row[f"text.{kind}.answer"] == sample["text"][kind]["answer"]
            assert row[f"text.{kind}.question"] == sample["text"][kind]["question"]
        for cam in ("front", "wrist"):
            assert row[f"observation.images.{cam}"]["bytes"] == src[key][f"{cam}.jpg"]
    # tasks.parquet as LeRobot reads it (pandas, the task as the index)
    import pandas as pd

    tasks = pd.read_parquet(out / "meta/tasks.parquet")
    assert list(tasks.index) == ["What is the current state of the robot?"] and list(tasks["task_index"]) == [0]
    # the export's Hub card: YAML that parses, the robot model's license, data_files that match the data
    import yaml

    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["license"] == "apache-2.0" and "LeRobot" in meta["tags"] and meta["configs"][0]["config_name"] == "default"
    assert sorted(out.glob(meta["configs"][0]["data_files"])) == sorted((out / "data").glob("*/*.parquet"))


def _lerobot_hf_features(features: dict):
    """datasets.Features from info.json's features, as lerobot 0.4's get_hf_features_from_features builds them
    (lerobot/datasets/utils.py; info.json's shapes become tuples when LeRobot loads it)."""
    import datasets

    out = {}
    for key, ft in features.items():
        shape = tuple(ft["shape"])
        if ft["dtype"] == "video":
            continue
        if ft["dtype"] == "image":
            out[key] = datasets.Image()
        elif shape == (1,):
            out[key] = datasets.Value(dtype=ft["dtype"])
        elif len(shape) == 1:
            out[key] = datasets.Sequence(length=shape[0], feature=datasets.Value(dtype=ft["dtype"]))
        else:
            raise AssertionError(f"{key}: shape {shape} is not one LeRobot 0.4 builds for these features")
    return datasets.Features(out)


def test_lerobot_data_loads_as_lerobot_loads_it(ds, src, tmp_path, monkeypatch):
    """Without lerobot: its load path (load_nested_dataset: datasets.Dataset.from_parquet over data/*/*.parquet with the
    features above; episodes from meta/episodes), checked against the source. LeRobotDataset itself is in
    test_export_lerobot_reader.py."""
    import datasets

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    out = tmp_path / "lr"
    export(str(ds), to="lerobot", out=str(out))
    info = json.loads((out / "meta/info.json").read_text())
    paths = sorted(str(p) for p in (out / "data").glob("*/*.parquet"))
    assert paths == [str(out / info["data_path"].format(chunk_index=0, file_index=0))]
    hf = datasets.Dataset.from_parquet(paths, features=_lerobot_hf_features(info["features"]), cache_dir=str(tmp_path / "cache"))
    assert len(hf) == info["total_frames"] == 24
    assert set(hf.column_names) == set(info["features"])
    episodes = datasets.Dataset.from_parquet(sorted(str(p) for p in (out / "meta/episodes").glob("*/*.parquet")),
                                             cache_dir=str(tmp_path / "cache"))
    assert len(episodes) == info["total_episodes"]
    for ep in episodes:
        frames = hf.select(range(ep["dataset_from_index"], ep["dataset_to_index"]))
        assert frames["episode_index"] == [ep["episode_index"]] * ep["length"]
    for row in hf:
        key = f"{row['source_index']:09d}"
        sample = json.loads(src[key]["json"])
        for cam in ("front", "wrist"):
            img = row[f"observation.images.{cam}"]  # decoded by datasets.Image, as LeRobot's hf_transform_to_torch receives it
            assert np.array_equal(np.asarray(img.convert("RGB")), _pixels(src[key][f"{cam}.jpg"]))
            assert [img.height, img.width, 3] == info["features"][f"observation.images.{cam}"]["shape"]
        st = sample["state"]
        assert row["observation.state"] == pytest.approx([*st["ee_pos"], *st["ee_euler_xyz"], float(st["gripper_open"])], abs=1e-6)
        assert row["text.rosa.answer"] == sample["text"]["rosa"]["answer"]
    a, b = (int(x) for x in info["splits"]["validation"].split(":"))
    val_eps = [e for e in episodes if a <= e["episode_index"] < b]
    assert sum(e["length"] for e in val_eps) == 8


def test_lerobot_stats_cover_the_whole_dataset(ds, src, tmp_path):
    out = tmp_path / "lr"
    export(str(ds), to="lerobot", out=str(out))
    stats = json.loads((out / "meta/stats.json").read_text())
    _, rows, _, _ = _lerobot_frames(out)
    for name in ("observation.state", "observation.joint_positions", "action", "index", "timestamp"):
        x = np.array([np.atleast_1d(r[name]) for r in rows], dtype=np.float64)
        s = stats[name]
        assert s["count"] == [24]
        np.testing.assert_allclose(s["mean"], x.mean(0), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(s["std"], x.std(0), rtol=1e-7, atol=1e-9)
        np.testing.assert_array_equal(s["min"], x.min(0))
        np.testing.assert_array_equal(s["max"], x.max(0))
        width = (x.max(0) - x.min(0)) / 5000 + 1e-12
        for q, key in ((0.01, "q01"), (0.5, "q50"), (0.99, "q99")):
            lo, hi = np.quantile(x, q, axis=0, method="inverted_cdf"), np.quantile(x, q, axis=0, method="higher")
            assert np.all(np.array(s[key]) >= np.minimum(lo, hi) - (x.max(0) - x.min(0)) / 24 - width)
            assert np.all(np.array(s[key]) <= np.maximum(lo, hi) + (x.max(0) - x.min(0)) / 24 + width)
    pix = np.stack([_pixels(src[k]["front.jpg"]) for k in sorted(src)]).astype(np.float64) / 255
    s = stats["observation.images.front"]
    assert s["count"] == [24]
    np.testing.assert_allclose(np.array(s["mean"]).ravel(), pix.mean(axis=(0, 1, 2)), rtol=1e-9)
    np.testing.assert_allclose(np.array(s["std"]).ravel(), pix.std(axis=(0, 1, 2)), rtol=1e-7)
    np.testing.assert_allclose(np.array(s["q50"]).ravel(), np.quantile(pix.reshape(-1, 3), 0.5, axis=0, method="inverted_cdf"), atol=1e-12)
    assert np.array(s["min"]).shape == (3, 1, 1)


def test_lerobot_trajectory_episodes(ds, tmp_path):
    traj = make_trajectory(ds, tmp_path / "traj")
    out = tmp_path / "lr"
    r = export(str(traj), to="lerobot", out=str(out))
    assert r.details["mode"] == "trajectory"
    info, rows, episodes, _ = _lerobot_frames(out)
    assert info["fps"] == HZ and info["total_frames"] == 24 and info["total_episodes"] == 24 // STEPS
    assert info["splits"] == {"train": "0:4", "validation": "4:6"}
    assert sum(e["length"] for e in episodes) == len(rows)
    for e in episodes:
        frames = rows[e["dataset_from_index"]:e["dataset_to_index"]]
        assert [f["frame_index"] for f in frames] == list(range(STEPS)) and all(f["episode_index"] == e["episode_index"] for f in frames)
        assert [f["timestamp"] for f in frames] == pytest.approx([t / HZ for t in range(STEPS)])
        src_idx = [f["source_index"] for f in frames]
        assert src_idx == list(range(src_idx[0], src_idx[0] + STEPS)) and src_idx[0] % STEPS == 0
        for t, f in enumerate(frames):  # the action is the next state; the last frame holds its own
            assert f["action"] == (frames[t + 1] if t + 1 < STEPS else f)["observation.state"]


def test_episode_that_is_not_contiguous_fails(ds, tmp_path, capsys):
    traj = make_trajectory(ds, tmp_path / "traj", steps=5)  # 5 does not divide a shard of 8: episode 1 spans shards 0 and 1
    code = main(["export", str(traj), "--to", "lerobot", "--out", str(tmp_path / "lr"), "--quiet"])
    line = assert_one_line(capsys.readouterr().err, code, 1)
    assert "episode" in line and not (tmp_path / "lr").exists() and not _leftovers(tmp_path)


# --------------------------------------------------------------------------- failures: never a partial export that looks complete


@pytest.mark.parametrize("fmt", ["llava", "llamafactory", "lerobot"])
def test_flipped_byte_fails_loudly(ds, tmp_path, capsys, fmt):
    bad = tmp_path / "bad"
    shutil.copytree(ds, bad)
    shard = bad / "shards/statgen-000002.tar"  # the last one: earlier shards are exported before it is read
    blob = bytearray(shard.read_bytes())
    blob[len(blob) // 2] ^= 0x01  # inside an image: the tar still reads, only the checksum can tell
    shard.write_bytes(bytes(blob))
    out = tmp_path / "out"
    code = main(["export", str(bad), "--to", fmt, "--out", str(out), "--quiet"])
    line = assert_one_line(capsys.readouterr().err, code, 1)
    assert "statgen-000002.tar" in line and "sha256" in line
    assert not out.exists() and not _leftovers(tmp_path)


@pytest.mark.parametrize("fmt", ["llava", "llamafactory", "lerobot"])
def test_image_that_does_not_decode_fails_loudly(ds, tmp_path, capsys, fmt):
    """A flipped byte in a JPEG's header: lerobot decodes it (pixel stats) before the shard's end, llava and
    llamafactory copy it; each fails with one line naming the shard, and nothing is left."""
    import tarfile

    bad = tmp_path / "bad"
    shutil.copytree(ds, bad)
    shard = bad / "shards/statgen-000002.tar"
    with tarfile.open(shard) as tf:
        member = next(m for m in tf.getmembers() if m.name.endswith(".front.jpg"))
    blob = bytearray(shard.read_bytes())
    assert blob[member.offset_data:member.offset_data + 2] == b"\xff\xd8"  # JPEG SOI
    blob[member.offset_data + 1] ^= 0xFF  # no longer a JPEG; the tar still reads
    shard.write_bytes(bytes(blob))
    out = tmp_path / "out"
    code = main(["export", str(bad), "--to", fmt, "--out", str(out), "--quiet"])
    line = assert_one_line(capsys.readouterr().err, code, 1)
    assert "statgen-000002.tar" in line and "sha256" in line
    assert not out.exists() and not _leftovers(tmp_path)


def test_truncated_shard_fails_loudly(ds, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(ds, bad)
    shard = bad / "shards/statgen-000001.tar"
    shard.write_bytes(shard.read_bytes()[:5000])
    code = main(["export", str(bad), "--to", "llava", "--out", str(tmp_path / "out"), "--quiet"])
    assert_one_line(capsys.readouterr().err, code, 1)
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)


def test_refuses_to_overwrite(ds, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code = main(["export", str(ds), "--to", "llava", "--out", str(out), "--quiet"])
    assert "never overwrites" in assert_one_line(capsys.readouterr().err, code, 2)
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and not _leftovers(tmp_path)
    # a finished export is not overwritten by a second one either
    assert main(["export", str(ds), "--to", "llava", "--out", str(tmp_path / "e"), "--quiet"]) == 0
    capsys.readouterr()
    before = sorted(p.relative_to(tmp_path / "e") for p in (tmp_path / "e").rglob("*"))
    assert main(["export", str(ds), "--to", "lerobot", "--out", str(tmp_path / "e"), "--quiet"]) == 2
    assert sorted(p.relative_to(tmp_path / "e") for p in (tmp_path / "e").rglob("*")) == before


@pytest.mark.parametrize("args, words", [
    (["--to", "parquet"], "--to"),
    (["--to", "llava", "--camera", "left"], "--camera left"),
    (["--to", "lerobot", "--text", "rosa,poetry"], "--text poetry"),
])
def test_user_mistakes_exit_2_before_anything_is_written(ds, tmp_path, capsys, args, words):
    out = tmp_path / "out"
    code = main(["export", str(ds), "--out", str(out), "--quiet", *args])
    assert words in assert_one_line(capsys.readouterr().err, code, 2)
    assert not out.exists() and not _leftovers(tmp_path)


def test_export_to_and_from_s3(ds, src, s3_server, monkeypatch, tmp_path):
    """Object storage in and out: the marker is the last object, and a failed export leaves nothing."""
    import pyarrow.fs as pafs

    for k, v in s3_server.env.items():
        monkeypatch.setenv(k, v)
    prefix = f"s3://{s3_server.bucket}/export-{os.getpid()}"
    fs = pafs.S3FileSystem(endpoint_override=s3_server.endpoint.split("//")[1], scheme="http", region="us-east-1")
    up = tmp_path / "up"
    # the source dataset onto S3, then export it from there to S3 and from there to a local folder
    fs.create_dir(f"{s3_server.bucket}/export-{os.getpid()}/ds")
    pafs.copy_files(str(ds), f"{s3_server.bucket}/export-{os.getpid()}/ds", source_filesystem=pafs.LocalFileSystem(), destination_filesystem=fs)
    export(f"{prefix}/ds", to="llava", out=f"{prefix}/llava")
    names = {i.path.split("/llava/", 1)[1] for i in fs.get_file_info(pafs.FileSelector(f"{s3_server.bucket}/export-{os.getpid()}/llava", recursive=True))
             if i.type == pafs.FileType.File}
    assert MARKER in names and "train.json" in names and sum(n.startswith("images/") for n in names) == 24
    assert not any(n.rsplit("/", 1)[-1].startswith(".") for n in names)
    export(f"{prefix}/ds", to="lerobot", out=str(up))
    assert json.loads((up / "meta/info.json").read_text())["total_frames"] == 24
    with pytest.raises(Exception, match="never overwrites"):
        export(f"{prefix}/ds", to="llava", out=f"{prefix}/llava")
