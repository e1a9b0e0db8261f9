"""A LeRobot export loads in LeRobot's own reader, offline: LeRobotDataset(repo_id, root=...) with HF_HUB_OFFLINE=1.

Skipped where lerobot is not installed: it pulls torch (about 8 GB with its CUDA wheels), so CI's
`.[dev]` leaves it out. To run it: a venv of its own, `pip install -e ".[dev,lerobot]"`, then
`pytest tests/test_export_lerobot_reader.py` (README, "Exports").
"""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported: nothing may be fetched
pytest.importorskip("lerobot", reason="lerobot is not installed (pip install -e '.[dev,lerobot]' in a venv of its own; see README, Exports)")

from PIL import Image  # noqa: E402

from exports import HZ, STEPS, make_trajectory, source_samples  # noqa: E402
from statgen.export import export  # noqa: E402


@pytest.fixture(autouse=True)
def _hf_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # the datasets cache LeRobot builds, not the user's
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _load(root):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset("local/statgen", root=root)


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_lerobot_reads_an_independent_export(small_dataset, tmp_path):
    out = tmp_path / "lr"
    export(str(small_dataset), to="lerobot", out=str(out))
    ds = _load(out)
    info = json.loads((out / "meta/info.json").read_text())
    src = source_samples(small_dataset)
    assert len(ds) == ds.meta.total_frames == info["total_frames"] == 24 and ds.num_episodes == 24 and ds.fps == 1
    for i in range(len(ds)):
        item = ds[i]
        key = f"{int(item['source_index']):09d}"
        sample = json.loads(src[key]["json"])
        assert item["text.rosa.answer"] == sample["text"]["rosa"]["answer"] and item["task"] == sample["text"]["rosa"]["question"]
        img = (item["observation.images.front"].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)  # LeRobot: (C, H, W) in [0, 1]
        assert np.array_equal(img, _pixels(src[key]["front.jpg"]))
        st = sample["state"]
        rosa = np.array([*st["ee_pos"], *st["ee_euler_xyz"], 1.0 if st["gripper_open"] else 0.0], dtype=np.float32)
        assert np.array_equal(item["observation.state"].numpy(), rosa) and np.array_equal(item["action"].numpy(), rosa)
    assert ds.meta.stats["observation.state"]["mean"].shape == (7,)
    assert ds.meta.stats["observation.images.front"]["mean"].shape == (3, 1, 1)


def test_lerobot_reads_trajectory_episodes(small_dataset, tmp_path):
    traj = make_trajectory(small_dataset, tmp_path / "traj")
    out = tmp_path / "lr"
    export(str(traj), to="lerobot", out=str(out))
    ds = _load(out)
    assert ds.fps == HZ and ds.num_episodes == 24 // STEPS and len(ds) == 24
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    # delta_timestamps: LeRobot's own episode bookkeeping (meta/episodes) gives the next frame's state, padded at the end
    dt = LeRobotDataset("local/statgen", root=out, delta_timestamps={"observation.state": [0.0, 1 / HZ]})
    for i in range(len(dt)):
        item = dt[i]
        now, nxt = item["observation.state"]
        assert np.array_equal(item["action"].numpy(), (now if bool(item["observation.state_is_pad"][1]) else nxt).numpy())
        assert bool(item["observation.state_is_pad"][1]) == (int(item["frame_index"]) == STEPS - 1)
