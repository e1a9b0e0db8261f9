"""LeRobot dataset v3.0 (what `lerobot.datasets.lerobot_dataset.LeRobotDataset(repo_id, root=OUT)` reads).

Layout, as LeRobot's own writer makes it (lerobot 0.4, CODEBASE_VERSION "v3.0"):
    meta/info.json                              written last: codebase_version, fps, features, totals, paths, splits
    meta/stats.json                             over the whole dataset (statgen.export.stats)
    meta/tasks.parquet                          task string (the pandas index) -> task_index
    meta/episodes/chunk-000/file-000.parquet    one row per episode: its frames' range and data file
    data/chunk-CCC/file-FFF.parquet             one row per frame; a new file past DATA_FILE_MB, never inside an episode
    README.md                                   a Hub card (LeRobot's tags and data_files)

Features (LeRobot adds timestamp, frame_index, episode_index, index and task_index; so do we):
- `observation.images.<camera>` (dtype image): the source image's bytes, unchanged (JPEG stays JPEG),
  in the struct {bytes, path} that `datasets.Image` decodes;
- `observation.state` (float32, 7): the ROSA state [x, y, z, roll, pitch, yaw, gripper] in the
  robot's base frame, metres and radians (extrinsic XYZ Euler angles), gripper 1.0 open / 0.0 closed:
  the vector the ROSA tokens bin, before binning;
- `observation.joint_positions` (float32, one per joint, named): the sample's qpos (rad, or m for
  prismatic fingers);
- `action` (float32, 7, the same names): the next frame's `observation.state`. In a trajectory episode
  that is the state the robot reaches next (absolute end-effector pose targets, the format ROSA's
  actions share with its state); the last frame of an episode holds its own state. An independent
  sample is an episode of one frame, so its action is its own state: "hold this pose". There is no
  next state to target, and this keeps the features identical to trajectory exports, so that both
  can be loaded, mixed and normalised together;
- `text.<kind>.question`, `text.<kind>.answer` (string): the sample's question and answer, exactly;
- `source_index` (int64): the sample's index in the statgen dataset (its key), to join back to it.
The task of every frame is the question of the first text kind (the ROSA question by default).

Episodes: a trajectory's samples (an `episode` block: id, step, steps, hz) become one LeRobot episode,
in step order, at fps = hz. Independent samples become one-frame episodes at fps 1. Splits follow
dataset.json: train episodes first, then validation, and info.json's `splits` gives their ranges.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from statgen import __version__
from statgen.core.rosa import DIMS, rosa_vector
from statgen.errors import VerifyError
from statgen.export.source import Source, SourceSample
from statgen.export.stats import ImageStats, VectorStats
from statgen.export.target import Target

CODEBASE_VERSION = "v3.0"
CHUNKS_SIZE = 1000  # files per chunk folder (LeRobot's DEFAULT_CHUNK_SIZE)
DATA_FILE_MB = 100  # LeRobot's DEFAULT_DATA_FILE_SIZE_IN_MB
VIDEO_FILE_MB = 200
ROW_GROUP_FRAMES = 256  # frames per Parquet row group (and per flush): bounds memory
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
EPISODES_PATH = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
INDEPENDENT_FPS = 1
DEFAULT_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}


def rosa_state(s: SourceSample) -> list[float]:
    st = s.fields.state
    return rosa_vector(ee_pos=np.asarray(st.ee_pos), ee_euler_xyz=np.asarray(st.ee_euler_xyz), gripper_open=st.gripper_open).tolist()


def decode_rgb(data: bytes, image_format: str) -> np.ndarray:
    if image_format == "jpg":
        import simplejpeg

        return simplejpeg.decode_jpeg(data, colorspace="RGB")
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _decoded(src: Source, s: SourceSample, cam: str, img: bytes) -> np.ndarray:
    """The image as RGB for the pixel stats; an image that does not decode is a damaged shard (VerifyError, exit 1)."""
    try:
        return decode_rgb(img, src.image_format)
    except Exception as e:  # noqa: BLE001 - simplejpeg and PIL raise ValueError, OSError, ...
        raise VerifyError(f"{src.store.join(s.shard)}: the {cam} image of sample {s.key} does not decode ({type(e).__name__}): "
                          f"the shard is damaged (its size and sha256 are checked against dataset.json only at its end); "
                          f"run `statgen verify {src.uri}`") from None


class _Features:
    """The export's features (info.json), its Arrow schema and the `datasets` features stored beside it."""

    def __init__(self, first, cameras: list[str], kinds: list[str]):
        self.cameras, self.kinds = cameras, kinds
        self.joint_names = list(first.state.joint_names)
        self.info: dict[str, dict[str, Any]] = {}
        for cam in cameras:
            c = first.cameras[cam]
            self.info[f"observation.images.{cam}"] = {"dtype": "image", "shape": [c.height, c.width, 3], "names": ["height", "width", "channels"]}
        self.info["observation.state"] = {"dtype": "float32", "shape": [len(DIMS)], "names": list(DIMS)}
        self.info["observation.joint_positions"] = {"dtype": "float32", "shape": [len(self.joint_names)], "names": self.joint_names}
        self.info["action"] = {"dtype": "float32", "shape": [len(DIMS)], "names": list(DIMS)}
        for k in kinds:
            self.info[f"text.{k}.question"] = {"dtype": "string", "shape": [1], "names": None}
            self.info[f"text.{k}.answer"] = {"dtype": "string", "shape": [1], "names": None}
        self.info["source_index"] = {"dtype": "int64", "shape": [1], "names": None}
        self.info.update(DEFAULT_FEATURES)
        self.schema = pa.schema([pa.field(name, self._arrow(ft)) for name, ft in self.info.items()],
                                metadata={"huggingface": json.dumps({"info": {"features": {n: self._hf(ft) for n, ft in self.info.items()}}})})

    @staticmethod
    def _arrow(ft: dict[str, Any]) -> pa.DataType:
        if ft["dtype"] == "image":
            return pa.struct([("bytes", pa.binary()), ("path", pa.string())])
        scalar = {"float32": pa.float32(), "int64": pa.int64(), "string": pa.string()}[ft["dtype"]]
        return scalar if ft["shape"] == [1] else pa.list_(scalar, ft["shape"][0])

    @staticmethod
    def _hf(ft: dict[str, Any]) -> dict[str, Any]:
        """`datasets` feature JSON (what `datasets.Features.from_dict` reads), so plain `datasets` decodes the images too."""
        if ft["dtype"] == "image":
            return {"_type": "Image"}
        value = {"dtype": ft["dtype"], "_type": "Value"}
        return value if ft["shape"] == [1] else {"feature": value, "length": ft["shape"][0], "_type": "Sequence"}


class _DataFiles:
    """data/chunk-CCC/file-FFF.parquet, written a row group at a time; a new file once DATA_FILE_MB is reached (between episodes)."""

    def __init__(self, target: Target, features: _Features):
        self.target, self.features = target, features
        self.chunk, self.file = 0, 0
        self._cm = None
        self._writer: pq.ParquetWriter | None = None
        self.bytes = 0
        self.rows: list[dict[str, Any]] = []
        self.files: list[str] = []

    def where(self) -> tuple[int, int]:
        """The (chunk, file) the next episode goes to, opening a new file if the current one is full."""
        if self._writer is not None and self.bytes >= DATA_FILE_MB * 1024 * 1024:
            self.close()
            self.file += 1
            if self.file == CHUNKS_SIZE:
                self.chunk, self.file = self.chunk + 1, 0
        if self._writer is None:
            rel = DATA_PATH.format(chunk_index=self.chunk, file_index=self.file)
            self._cm = self.target.stream(rel)
            f = self._cm.__enter__()
            self._writer = pq.ParquetWriter(f, self.features.schema, compression="snappy")
            self.bytes = 0
            self.files.append(rel)
        return self.chunk, self.file

    def add(self, row: dict[str, Any], nbytes: int) -> None:
        self.rows.append(row)
        self.bytes += nbytes
        if len(self.rows) >= ROW_GROUP_FRAMES:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self._writer.write_table(pa.Table.from_pylist(self.rows, schema=self.features.schema))
            self.rows = []

    def close(self) -> None:
        if self._writer is not None:
            self.flush()
            self._writer.close()
            self._writer = None
            self._cm.__exit__(None, None, None)
            self._cm = None

    def abort(self) -> None:
        """After a failure: close what is open; the target removes the files."""
        if self._cm is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            with contextlib.suppress(BaseException):
                self._cm.__exit__(RuntimeError, RuntimeError("export aborted"), None)
            self._cm = self._writer = None


EPISODES_SCHEMA = pa.schema([
    ("episode_index", pa.int64()), ("tasks", pa.list_(pa.string())), ("length", pa.int64()),
    ("data/chunk_index", pa.int64()), ("data/file_index", pa.int64()),
    ("dataset_from_index", pa.int64()), ("dataset_to_index", pa.int64()),
    ("meta/episodes/chunk_index", pa.int64()), ("meta/episodes/file_index", pa.int64()),
])


def _tasks_table(tasks: dict[str, int]) -> pa.Table:
    """meta/tasks.parquet as pandas writes a DataFrame indexed by task (what LeRobot's load_tasks reads with pandas)."""
    pandas_meta = {
        "index_columns": ["__index_level_0__"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object", "metadata": {"encoding": "UTF-8"}}],
        "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": None},
                    {"name": None, "field_name": "__index_level_0__", "pandas_type": "unicode", "numpy_type": "object", "metadata": None}],
        "attributes": {}, "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": "2.2.0",
    }
    items = sorted(tasks.items(), key=lambda kv: kv[1])
    return pa.table({"task_index": pa.array([i for _, i in items], pa.int64()), "__index_level_0__": pa.array([t for t, _ in items], pa.string())},
                    ).replace_schema_metadata({"pandas": json.dumps(pandas_meta)})


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="snappy")
    return buf.getvalue()


class _Episodes:
    """Groups the sample stream into episodes: a trajectory's samples by episode id, in step order; an independent sample alone."""

    def __init__(self):
        self.finished: set[Any] = set()
        self.hz: float | None = None
        self.mode: str | None = None  # "independent" or "trajectory"

    def group(self, samples):
        current: list[SourceSample] = []
        for s in samples:
            ep = s.fields.episode
            mode = "independent" if ep is None else "trajectory"
            if self.mode is None:
                self.mode = mode
            elif mode != self.mode:
                raise VerifyError(f"{s.shard}: sample {s.key} is {'part of an episode' if ep else 'not part of an episode'}, unlike the samples before it")
            if ep is None:
                yield [s]
                continue
            if current and (_ep_key(current[0]) != _ep_key(s) or current[0].split != s.split):
                yield self._close(current)
                current = []
            current.append(s)
        if current:
            yield self._close(current)

    def _close(self, frames: list[SourceSample]) -> list[SourceSample]:
        first = frames[0]
        ep = first.fields.episode
        key = _ep_key(first)
        where = f"{first.shard}: episode {ep['id']!r}"
        if key in self.finished:
            raise VerifyError(f"{where}: its samples are not contiguous (or it spans two splits)")
        self.finished.add(key)
        steps = [f.fields.episode["step"] for f in frames]
        if steps != list(range(len(frames))) or any(f.fields.episode["steps"] != len(frames) for f in frames):
            raise VerifyError(f"{where}: steps {steps[:5]}{'...' if len(steps) > 5 else ''} are not 0..steps-1 (steps={ep['steps']})")
        hz = float(ep["hz"])
        if self.hz is None:
            self.hz = hz
        elif hz != self.hz:
            raise VerifyError(f"{where}: {hz} Hz, while earlier episodes are {self.hz} Hz; LeRobot needs one fps per dataset")
        return frames


def _ep_key(s: SourceSample) -> Any:
    ep_id = s.fields.episode["id"]
    return json.dumps(ep_id, sort_keys=True) if isinstance(ep_id, (dict, list)) else ep_id


def export_lerobot(src: Source, target: Target, *, cameras: list[str], kinds: list[str], progress=None) -> dict[str, Any]:
    first = src.first_sample()
    features = _Features(first, cameras, kinds)
    data = _DataFiles(target, features)
    vec_stats = {name: VectorStats(ft["shape"][0]) for name, ft in features.info.items() if ft["dtype"] in ("float32", "int64")}
    img_stats = {cam: ImageStats() for cam in cameras}
    tasks: dict[str, int] = {}
    episodes = _Episodes()
    ep_rows: list[dict[str, Any]] = []
    split_ranges: dict[str, list[int]] = {}
    frame = 0
    ep_index = 0
    try:
        with target.stream(EPISODES_PATH.format(chunk_index=0, file_index=0)) as ef:
            ep_writer = pq.ParquetWriter(ef, EPISODES_SCHEMA, compression="snappy")
            try:
                batch: dict[str, list] = {k: [] for k in ("state", "joints", "action", "timestamp", "frame_index", "episode_index", "index", "task_index", "source_index")}
                for frames in episodes.group(src.samples()):
                    split = frames[0].split
                    chunk, file = data.where()
                    fps = INDEPENDENT_FPS if episodes.mode == "independent" else episodes.hz
                    states = [rosa_state(f) for f in frames]
                    ep_tasks: list[str] = []
                    for t, s in enumerate(frames):
                        task = s.fields.text[kinds[0]].question
                        if task not in tasks:
                            tasks[task] = len(tasks)
                        if task not in ep_tasks:
                            ep_tasks.append(task)
                        action = states[t + 1] if t + 1 < len(frames) else states[t]
                        row: dict[str, Any] = {}
                        nbytes = 0
                        for cam in cameras:
                            img = s.image(cam, src.image_format)
                            row[f"observation.images.{cam}"] = {"bytes": img, "path": f"{s.key}.{cam}.{src.image_format}"}
                            nbytes += len(img)
                            img_stats[cam].update(_decoded(src, s, cam, img))
                        row["observation.state"] = states[t]
                        row["observation.joint_positions"] = list(s.fields.state.qpos)
                        row["action"] = action
                        for k in kinds:
                            qa = s.fields.text[k]
                            row[f"text.{k}.question"], row[f"text.{k}.answer"] = qa.question, qa.answer
                        row["source_index"] = s.fields.index
                        row["timestamp"] = t / fps
                        row["frame_index"] = t
                        row["episode_index"] = ep_index
                        row["index"] = frame + t
                        row["task_index"] = tasks[task]
                        data.add(row, nbytes + 200)
                        for k, v in (("state", states[t]), ("joints", row["observation.joint_positions"]), ("action", action),
                                     ("timestamp", [row["timestamp"]]), ("frame_index", [t]), ("episode_index", [ep_index]),
                                     ("index", [frame + t]), ("task_index", [tasks[task]]), ("source_index", [s.fields.index])):
                            batch[k].append(v)
                        if progress is not None:
                            progress(1)
                    ep_rows.append({"episode_index": ep_index, "tasks": ep_tasks, "length": len(frames), "data/chunk_index": chunk, "data/file_index": file,
                                    "dataset_from_index": frame, "dataset_to_index": frame + len(frames),
                                    "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0})
                    rng = split_ranges.setdefault(split, [ep_index, ep_index])
                    rng[1] = ep_index + 1
                    frame += len(frames)
                    ep_index += 1
                    if len(ep_rows) >= 1000:
                        ep_writer.write_table(pa.Table.from_pylist(ep_rows, schema=EPISODES_SCHEMA))
                        ep_rows = []
                    if len(batch["state"]) >= ROW_GROUP_FRAMES:
                        _update_stats(vec_stats, batch)
                if ep_rows:
                    ep_writer.write_table(pa.Table.from_pylist(ep_rows, schema=EPISODES_SCHEMA))
                _update_stats(vec_stats, batch)
            finally:
                ep_writer.close()  # also on a failure: an unclosed writer complains when it is collected
        data.close()
    except BaseException:
        data.abort()
        raise
    fps = INDEPENDENT_FPS if episodes.mode != "trajectory" else episodes.hz
    fps = int(fps) if float(fps).is_integer() else fps
    stats = {name: st.result() for name, st in vec_stats.items()}
    stats.update({f"observation.images.{cam}": st.result() for cam, st in img_stats.items()})
    target.put_json("meta/stats.json", stats, indent=4)
    target.put("meta/tasks.parquet", _parquet_bytes(_tasks_table(tasks)))
    info = {
        "codebase_version": CODEBASE_VERSION, "robot_type": src.info.robot, "total_episodes": ep_index, "total_frames": frame,
        "total_tasks": len(tasks), "chunks_size": CHUNKS_SIZE, "data_files_size_in_mb": DATA_FILE_MB, "video_files_size_in_mb": VIDEO_FILE_MB,
        "fps": fps, "splits": {split: f"{a}:{b}" for split, (a, b) in split_ranges.items()},
        "data_path": DATA_PATH, "video_path": None, "features": features.info,
    }
    target.put("README.md", _card(src, info).encode())
    target.put_json("meta/info.json", info, indent=4)  # last of the format's files: LeRobot reads it first
    return {"episodes": ep_index, "frames": frame, "fps": fps, "mode": episodes.mode or "independent", "splits": info["splits"],
            "data_files": data.files, "tasks": len(tasks)}


_STAT_FEATURES = {"state": "observation.state", "joints": "observation.joint_positions", "action": "action", "timestamp": "timestamp",
                  "frame_index": "frame_index", "episode_index": "episode_index", "index": "index", "task_index": "task_index",
                  "source_index": "source_index"}


def _update_stats(vec_stats: dict[str, VectorStats], batch: dict[str, list]) -> None:
    for k, name in _STAT_FEATURES.items():
        if batch[k]:
            arr = np.asarray(batch[k], dtype=np.float64)
            if name in ("observation.state", "observation.joint_positions", "action", "timestamp"):
                arr = arr.astype(np.float32).astype(np.float64)  # the stored values
            vec_stats[name].update(arr)
            batch[k].clear()


def _card(src: Source, info: dict[str, Any]) -> str:
    from statgen.export.card import hub_license

    lic, lic_name = hub_license(src.info)  # the Hub's id for the robot model's license, as the dataset's own card
    return (
        "---\n"
        f"license: {lic}\n"
        + (f"license_name: {json.dumps(lic_name)}\n" if lic_name else "") +
        "task_categories:\n- robotics\n"
        "tags:\n- LeRobot\n- statgen\n- robot-state-estimation\n- synthetic\n"
        "configs:\n- config_name: default\n  data_files: data/*/*.parquet\n"
        "---\n\n"
        f"A LeRobot v3.0 export of a statgen dataset ({src.info.robot}, {src.info.samples} samples), made by statgen {__version__}.\n"
        "`observation.state` is the ROSA state [x, y, z, roll, pitch, yaw, gripper] in the robot's base frame "
        "(metres, radians; gripper 1 open, 0 closed); `action` is the next frame's state (an independent sample's own state).\n\n"
        "```python\nfrom lerobot.datasets.lerobot_dataset import LeRobotDataset\n"
        "ds = LeRobotDataset(\"local/statgen\", root=\"<this folder>\")\n```\n\n"
        f"meta/info.json:\n```json\n{json.dumps({k: v for k, v in info.items() if k != 'features'}, indent=2)}\n```\n"
    )
