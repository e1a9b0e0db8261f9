"""The README's loading recipes (issue 13), each run as written on a small dataset and checked against the shards read with tarfile.

A recipe is the ```python block after a `<!-- recipe: NAME -->` line in README.md. It runs with
"data/franka" and "exports/..." replaced by the test's folders, and the names it binds are then
checked against the source samples (tests/exports.py reads them with plain tarfile). So a README
recipe that stops working, or stops doing what it says, fails here.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from exports import ds, shard_of, source_samples, splits, src  # noqa: F401 (ds, splits, src: fixtures)
from statgen.export import export

README = Path(__file__).resolve().parents[1] / "README.md"
RECIPE = re.compile(r"<!-- recipe: (\w+) -->\n```python\n(.*?)```", re.S)


def recipes() -> dict[str, str]:
    return dict(RECIPE.findall(README.read_text()))


def run_recipe(name: str, **paths: Path) -> dict:
    code = recipes()[name]
    for placeholder, path in paths.items():
        code = code.replace(f'"{placeholder}', f'"{path}')
    namespace: dict = {}
    exec(compile(code, f"README.md recipe {name}", "exec"), namespace)  # noqa: S102 - the README's own code
    return namespace


def _keys(ds: Path, splits, split: str) -> list[str]:
    where = shard_of(ds)
    return sorted(k for k in where if where[k] in splits[split])


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture
def hf_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # the datasets cache, not the user's
    # datasets reads HF_HOME once, at import: when an earlier test imported it, point its cache here too
    # (a cache shared with other runs can hold another dataset that lived at the same tmp path).
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf" / "datasets")


def test_every_recipe_is_tested():
    assert set(recipes()) == {"webdataset", "datasets", "ray", "parquet", "llava"}


def test_webdataset_recipe(ds, src, splits):
    ns = run_recipe("webdataset", **{"data/franka": ds})
    train = _keys(ds, splits, "train")
    assert sorted(f"{i:09d}" for i in ns["answers"]) == train and len(train) == 16
    for i, answer in ns["answers"].items():
        assert answer == json.loads(src[f"{i:09d}"]["json"])["text"]["rosa"]["answer"]
    last = max(ns["answers"])
    assert ns["ee_pos"] == json.loads(src[f"{last:09d}"]["json"])["state"]["ee_pos"]
    assert np.array_equal(np.asarray(ns["image"]), _pixels(src[f"{last:09d}"]["front.jpg"]))


def test_datasets_recipe(ds, src, splits, hf_offline):
    ns = run_recipe("datasets", **{"data/franka": ds})
    d = ns["ds"]
    assert set(d) == {"train", "validation"}
    for split in ("train", "validation"):
        assert sorted(f"{r['index']:09d}" for r in d[split]["json"]) == _keys(ds, splits, split)
    row = ns["row"]
    key = f"{row['json']['index']:09d}"
    assert row["json"] == json.loads(src[key]["json"])
    assert np.array_equal(np.asarray(row["front.jpg"].convert("RGB")), _pixels(src[key]["front.jpg"]))
    first = ns["first"]
    assert f"{first['json']['index']:09d}" in _keys(ds, splits, "train")
    assert first["json"] == json.loads(src[f"{first['json']['index']:09d}"]["json"])


@pytest.mark.slow
@pytest.mark.own_ray  # the recipe starts Ray in this process with its own num_cpus
def test_ray_recipe(ds, src, splits):
    import ray

    # ray.init sets RAY_AUTH_MODE=token (and more) in this process's environment, which every later
    # subprocess would inherit: a later `statgen generate` joining the suite's cluster (auth off) then
    # has its actors die of InvalidAuthToken. The environment is put back as it was.
    saved = dict(os.environ)
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        ns = run_recipe("ray", **{"data/franka": ds})
    finally:
        ray.shutdown()
        os.environ.clear()
        os.environ.update(saved)
    images, samples = ns["images"], ns["samples"]
    val = _keys(ds, splits, "validation")
    assert images.shape == (len(val), 224, 224, 3) and images.dtype == np.uint8  # 8 samples: one batch of 64
    assert sorted(f"{s['index']:09d}" for s in samples) == val
    for img, s in zip(images, samples):
        key = f"{s['index']:09d}"
        assert s == json.loads(src[key]["json"])
        assert np.array_equal(img, _pixels(src[key]["front.jpg"]))


def test_parquet_recipe(ds, src):
    ns = run_recipe("parquet", **{"data/franka": ds})
    states = {int(k): json.loads(v["json"]) for k, v in src.items()}
    assert ns["index"].column("index").to_pylist() == sorted(states)
    hidden = sorted(ns["hidden"].column("index").to_pylist())
    assert hidden == sorted(i for i, s in states.items() if not s["cameras"]["front"]["ee_visible"])
    xyz = ns["xyz"].to_numpy()
    assert np.array_equal(xyz, np.array([states[i]["state"]["ee_pos"] for i in sorted(states)]))


def test_llava_recipe(ds, src, tmp_path):
    out = tmp_path / "llava"
    export(str(ds), to="llava", out=str(out))
    ns = run_recipe("llava", **{"exports/llava": out})
    rec = ns["rec"]
    key = rec["id"].split("-")[0]
    sample = json.loads(src[key]["json"])
    kind = rec["id"].split("-")[1]
    assert ns["question"] == "<image>\n" + sample["text"][kind]["question"] and ns["answer"] == sample["text"][kind]["answer"]
    assert np.array_equal(np.asarray(ns["image"]), _pixels(src[key]["front.jpg"]))
    assert len(ns["records"]) == 2 * 16  # train: one record per sample and text kind
