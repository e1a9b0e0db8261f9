"""One shard in-process (no Ray), every camera and every image kind, for each robot."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from conftest import resolved
from PIL import Image

from statgen.config import build_config
from statgen.run.job import Job, ShardPlan
from statgen.run.producer import ShardProducer

CAMERAS = ("front", "left", "right", "wrist")
COUNT = 4


@pytest.mark.parametrize("robot", ["franka", "jaco"])
def test_shard_with_all_cameras_depth_and_seg(robot, tmp_path):
    cfg = build_config({"robot": robot, "n": COUNT, "cameras": CAMERAS, "depth": True, "seg": True, "render.visual_reduction": 0.0})
    spec, task, model = resolved(robot)
    producer = ShardProducer(Job(config=cfg, robot=spec, task=task, model=model))
    try:
        result = producer.produce(ShardPlan(shard=2, first_index=10, count=COUNT), tmp_path)
    finally:
        producer.close()
    assert result.acceptance.accepted == COUNT and result.index_sha256
    with tarfile.open(tmp_path / "shards/statgen-000002.tar") as tf:
        files = {m.name: tf.extractfile(m).read() for m in tf.getmembers()}
    expected = {f"{10 + i:09d}.{f}" for i in range(COUNT)
                for f in ["json", *(f"{c}.{kind}" for c in CAMERAS for kind in ("jpg", "depth.png", "seg.png"))]}
    assert set(files) == expected
    for i in range(COUNT):
        key = f"{10 + i:09d}"
        sample = json.loads(files[f"{key}.json"])
        assert sample["index"] == 10 + i and sample["robot"] == robot and set(sample["cameras"]) == set(CAMERAS)
        for c in CAMERAS:
            rgb = Image.open(io.BytesIO(files[f"{key}.{c}.jpg"]))
            depth = np.array(Image.open(io.BytesIO(files[f"{key}.{c}.depth.png"])))
            seg = np.array(Image.open(io.BytesIO(files[f"{key}.{c}.seg.png"])))
            assert rgb.size == (224, 224) and depth.shape == seg.shape == (224, 224)
            assert depth.dtype == np.uint16 and set(np.unique(seg)) <= {0, 1, 2}
            assert (depth[seg > 0] > 0).all()  # every robot pixel was hit, so it has a depth
        # The wrist camera rides on the hand: the gripper fills part of its view.
        assert (np.array(Image.open(io.BytesIO(files[f"{key}.wrist.seg.png"]))) == 2).any()


def test_images_belong_to_their_labels_across_batches(tmp_path, monkeypatch):
    """Labels, render and encode run in batches: each image must still show its own sample's pose.

    The TCP's labelled pixel lies inside the bounding box of the gripper's segmentation mask
    (the TCP sits between the fingers); an image paired with another sample's labels fails.
    """
    import statgen.run.producer as producer_mod

    monkeypatch.setattr(producer_mod, "MAX_BATCH", 3)  # 7 samples: batches of 3, 3, 1
    count = 7
    cfg = build_config({"robot": "franka", "n": count, "seg": True, "require_visible": True})
    spec, task, model = resolved("franka")
    producer = ShardProducer(Job(config=cfg, robot=spec, task=task, model=model))
    try:
        assert producer.batch_size() == 3
        producer.produce(ShardPlan(shard=0, first_index=0, count=count), tmp_path)
    finally:
        producer.close()
    with tarfile.open(tmp_path / "shards/statgen-000000.tar") as tf:
        files = {m.name: tf.extractfile(m).read() for m in tf.getmembers()}
    for i in range(count):
        sample = json.loads(files[f"{i:09d}.json"])
        u, v = sample["cameras"]["front"]["ee_pixel"]
        rows, cols = np.nonzero(np.array(Image.open(io.BytesIO(files[f"{i:09d}.front.seg.png"]))) == 2)
        assert rows.size, f"sample {i}: no gripper pixels"
        assert cols.min() - 1 <= u <= cols.max() + 1 and rows.min() - 1 <= v <= rows.max() + 1, f"sample {i}: TCP outside the gripper's box"


@pytest.mark.parametrize("subsampling,pil_sampling", [("420", 2), ("422", 1), ("444", 0)])
def test_jpeg_subsampling(subsampling, pil_sampling, tmp_path):
    """image.jpeg_subsampling / --jpeg-subsampling: the JPEGs' chroma subsampling (PIL: 2 = 4:2:0, 1 = 4:2:2, 0 = 4:4:4)."""
    from PIL import JpegImagePlugin

    cfg = build_config({"robot": "franka", "n": 1}, flags={"jpeg_subsampling": subsampling})
    spec, task, model = resolved("franka")
    producer = ShardProducer(Job(config=cfg, robot=spec, task=task, model=model))
    try:
        producer.produce(ShardPlan(shard=0, first_index=0, count=1), tmp_path)
    finally:
        producer.close()
    with tarfile.open(tmp_path / "shards/statgen-000000.tar") as tf:
        im = Image.open(io.BytesIO(tf.extractfile("000000000.front.jpg").read()))
    assert JpegImagePlugin.get_sampling(im) == pil_sampling
