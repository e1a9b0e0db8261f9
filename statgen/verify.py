"""`statgen verify`: trust, but check. Re-reads every shard and re-derives every label it can."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from statgen.config import RenderSettings, robot_from_dict, task_from_dict
from statgen.core import rosa
from statgen.errors import StatgenError, VerifyError
from statgen.sim.assets import resolve_model
from statgen.sim.sampler import set_qpos, state_labels
from statgen.sim.scene import build_scene
from statgen.storage.fs import Store
from statgen.storage.read import iter_shard, read_dataset_json
from statgen.storage.shards import index_name

FK_TOL = 1e-6  # [m] and unitless (quaternion, rot6d): stored floats are exact JSON reprs, FK is deterministic
MAX_PROBLEMS_PER_SHARD = 5


@dataclass
class Report:
    root: str
    shard_status: list[tuple[str, str]] = field(default_factory=list)  # (name, "ok" | problem)
    problems: list[str] = field(default_factory=list)
    samples: int = 0
    fk_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        out = [f"{'ok ' if s == 'ok' else 'BAD'} {name}{'' if s == 'ok' else ': ' + s}" for name, s in self.shard_status]
        out += [f"problem: {p}" for p in self.problems if not any(p.startswith(n) for n, _ in self.shard_status)]
        if self.ok:
            out.append(f"verified {self.samples} samples in {len(self.shard_status)} shards ({self.fk_checked} re-checked by FK): OK")
        else:
            out.append(
                f"{len(self.problems)} problem(s) in {self.root}. Repair: `statgen generate --resume --out {self.root}` "
                "regenerates missing or corrupted shards (checksums are checked) and rewrites dataset.json"
            )
        return out


class _FK:
    """Re-run FK from stored qpos with the dataset's robot and scene."""

    def __init__(self, ds: dict[str, Any], assets_dir: str | None):
        import mujoco

        cfg = ds["config"]
        # The robot and scene as they were when the data was made (not today's TOML files).
        robot, task = robot_from_dict(ds["robot_spec"]), task_from_dict(ds["task_spec"])
        model = resolve_model(robot, assets_dir=assets_dir)
        self.scene = build_scene(robot=robot, task=task, resolved=model, cameras=tuple(cfg["cameras"]), render=RenderSettings())
        self.data = mujoco.MjData(self.scene.model)
        self.model_note = "" if model.model_sha256 == ds.get("model_sha256") else " (note: the robot model here differs from the one used)"

    def check(self, sample: dict[str, Any]) -> str | None:
        st = sample["state"]
        set_qpos(self.scene, self.data, qpos=np.asarray(st["qpos"], dtype=float))
        labels = state_labels(self.scene, self.data)
        ref = labels["state"]
        for k in ("ee_pos", "ee_quat_wxyz", "ee_euler_xyz", "ee_rot6d", "gripper_width", "gripper_open_fraction"):
            err = float(np.max(np.abs(np.asarray(ref[k], dtype=float) - np.asarray(st[k], dtype=float))))
            if not err <= FK_TOL:
                return f"{k} disagrees with FK from qpos by {err:.3g}{self.model_note}"
        if ref["gripper_open"] != st["gripper_open"] or ref["joint_names"] != st["joint_names"]:
            return f"gripper_open or joint_names disagree with FK{self.model_note}"
        err = float(np.max(np.abs(np.asarray(labels["T_world_base"]) - np.asarray(sample["T_world_base"]))))
        if not err <= FK_TOL:
            return f"T_world_base disagrees with the scene by {err:.3g}"
        return None


def _check_sample(key: str, fields: dict[str, bytes], ds: dict[str, Any], ranges: np.ndarray) -> tuple[dict | None, str | None]:
    from PIL import Image

    cfg = ds["config"]
    if "json" not in fields:
        return None, f"sample {key}: no json member"
    try:
        sample = json.loads(fields["json"])
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, f"sample {key}: json does not parse"
    if sample.get("index") is None or f"{sample['index']:09d}" != key:
        return None, f"sample {key}: json index {sample.get('index')} does not match the key"
    for cam in cfg["cameras"]:
        name = f"{cam}.{cfg['image_format']}"
        if name not in fields:
            return None, f"sample {key}: missing {name}"
        try:
            im = Image.open(io.BytesIO(fields[name]))
            im.load()
        except Exception as e:  # noqa: BLE001 - any decoder failure is the finding
            return None, f"sample {key}: {name} does not decode ({type(e).__name__})"
        c = sample["cameras"][cam]
        if im.size != (c["width"], c["height"]):
            return None, f"sample {key}: {name} is {im.size}, labels say {(c['width'], c['height'])}"
    st = sample["state"]
    tokens = rosa.to_bins(rosa.rosa_vector(ee_pos=np.array(st["ee_pos"]), ee_euler_xyz=np.array(st["ee_euler_xyz"]), gripper_open=st["gripper_open"]), ranges)
    if rosa.format_tokens(tokens) != sample["text"]["rosa"]["answer"]:
        return None, f"sample {key}: ROSA answer {sample['text']['rosa']['answer']!r} does not match the state ({rosa.format_tokens(tokens)!r})"
    return sample, None


def verify(root: str | Path, *, fk_samples: int = 0, assets_dir: str | None = None) -> Report:
    """Check a dataset (a folder or an s3:// / gs:// prefix). fk_samples: FK re-checks per shard (0 = every sample)."""
    store = Store.open(str(root))
    ds = read_dataset_json(store, damaged=VerifyError)
    rep = Report(root=store.uri)
    ranges = np.asarray(ds["rosa"]["ranges"], dtype=float)
    try:
        fk = _FK(ds, assets_dir)
    except StatgenError as e:
        fk = None
        rep.problems.append(f"cannot re-run FK: {e}")
    listed = {s["name"] for s in ds["shards"]}
    on_disk = {rel for rel in store.list("shards") if rel.endswith(".tar")}
    for extra in sorted(on_disk - listed):
        rep.shard_status.append((extra, "not listed in dataset.json (extra or from another dataset)"))
        rep.problems.append(f"{extra}: not listed in dataset.json")
    seen: dict[int, str] = {}
    for s in sorted(ds["shards"], key=lambda s: s["first_index"]):
        name = s["name"]
        problems: list[str] = []
        if not store.exists(name):
            problems.append("missing")
        else:
            size = store.size(name)
            if size != s["bytes"]:
                problems.append(f"size {size} bytes, expected {s['bytes']} (truncated or altered)")
            elif store.sha256(name) != s["sha256"]:
                problems.append("sha256 mismatch (corrupted or altered)")
            try:
                indices = []
                for i, (key, fields) in enumerate(iter_shard(store, name)):
                    try:
                        sample, err = _check_sample(key, fields, ds, ranges)
                        if err:
                            problems.append(err)
                        if sample is None:
                            continue
                        idx = sample["index"]
                        indices.append(idx)
                        if idx in seen:
                            problems.append(f"duplicate key {key} (also in {seen[idx]})")
                        seen[idx] = name
                        if fk is not None and (fk_samples == 0 or i < fk_samples):
                            e = fk.check(sample)
                            rep.fk_checked += 1
                            if e:
                                problems.append(f"sample {key}: {e}")
                    except (KeyError, TypeError, ValueError, IndexError) as e:
                        problems.append(f"sample {key}: malformed json ({type(e).__name__}: {e})")
                    if len(problems) >= MAX_PROBLEMS_PER_SHARD:
                        break
                expected = list(range(s["first_index"], s["first_index"] + s["samples"]))
                if not problems and indices != expected:
                    problems.append(f"keys {indices[:1]}..{indices[-1:]} ({len(indices)}), expected {s['first_index']}..{expected[-1]} ({len(expected)})")
                rep.samples += len(indices)
            except (tarfile.TarError, EOFError, OSError) as e:
                problems.append(f"not a readable tar ({type(e).__name__}: {e})")
            idx = index_name(int(name.split("-")[-1].split(".")[0]))
            try:
                with store.open_input(idx) as f:
                    t = pq.read_table(f, columns=["index"])
                if t.column("index").to_pylist() != list(range(s["first_index"], s["first_index"] + s["samples"])):
                    problems.append(f"{idx}: index rows do not match the shard")
            except Exception as e:  # noqa: BLE001 - missing or unreadable: the finding
                problems.append(f"index {idx} missing or unreadable ({type(e).__name__})")
        rep.shard_status.append((name, "ok" if not problems else "; ".join(problems[:MAX_PROBLEMS_PER_SHARD])))
        rep.problems += [f"{name}: {p}" for p in problems]
    missing = ds["samples"] - len(seen)
    if missing and not any("missing" in p for p in rep.problems):
        rep.problems.append(f"{missing} samples missing: keys are not dense in 0..{ds['samples'] - 1}")
    elif set(seen) - set(range(ds["samples"])):
        rep.problems.append("keys outside 0..samples-1")
    return rep
