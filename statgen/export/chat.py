"""LLaVA and LLaMA-Factory exports: one JSON list per split and the images it points to.

Layout (both formats):
    OUT/images/<shard>/<key>.<camera>.<ext>   the source image's bytes, unchanged
    OUT/train.json, OUT/validation.json        one record per sample and text kind
    OUT/dataset_info.json                      LLaMA-Factory only: one entry per split
    OUT/statgen-export.json                    written last: what was exported, from where

Image paths in the records are relative to OUT: LLaVA's `--image_folder OUT`, LLaMA-Factory's
`dataset_dir` (its `media_dir` defaults to it). Each JSON list is streamed to disk record by record.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson

from statgen.export.source import Source, SourceSample
from statgen.export.target import Target

IMAGE_TAG = "<image>"


def llava_record(s: SourceSample, kind: str, image: str) -> dict[str, Any]:
    """LLaVA-1.5 / LLaVA-NeXT (llava/train/train.py; Qwen2.5-VL's fine-tuning code reads the same)."""
    qa = s.fields.text[kind]
    return {"id": f"{s.key}-{kind}", "image": image,
            "conversations": [{"from": "human", "value": f"{IMAGE_TAG}\n{qa.question}"}, {"from": "gpt", "value": qa.answer}]}


def llamafactory_record(s: SourceSample, kind: str, image: str) -> dict[str, Any]:
    """LLaMA-Factory's sharegpt format with images: one `<image>` tag per entry of `images`."""
    qa = s.fields.text[kind]
    return {"messages": [{"role": "user", "content": f"{IMAGE_TAG}{qa.question}"}, {"role": "assistant", "content": qa.answer}],
            "images": [image]}


def llamafactory_entry(file_name: str) -> dict[str, Any]:
    """A dataset_info.json entry for one of our JSON lists."""
    return {"file_name": file_name, "formatting": "sharegpt", "columns": {"messages": "messages", "images": "images"},
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}


def image_path(s: SourceSample, camera: str, image_format: str) -> str:
    shard = s.shard.rsplit("/", 1)[-1].removesuffix(".tar")
    return f"images/{shard}/{s.key}.{camera}.{image_format}"


def export_chat(src: Source, target: Target, *, style: str, camera: str, kinds: list[str], progress=None) -> dict[str, Any]:
    """Write the JSON lists and images; returns per split {"samples", "records", "file"} (and the dataset_info entries)."""
    make = llava_record if style == "llava" else llamafactory_record
    splits: dict[str, dict[str, Any]] = {}
    for split, group in itertools.groupby(src.samples(), key=lambda s: s.split):
        file_name = f"{split}.json"
        samples = records = 0
        with target.stream(file_name) as f:
            f.write(b"[")
            for s in group:
                rel = image_path(s, camera, src.image_format)
                target.put(rel, s.image(camera, src.image_format))
                for kind in kinds:
                    f.write(b"\n" if records == 0 else b",\n")
                    f.write(orjson.dumps(make(s, kind, rel)))
                    records += 1
                samples += 1
                if progress is not None:
                    progress(1)
            f.write(b"\n]\n")
        splits[split] = {"file": file_name, "samples": samples, "records": records}
    out: dict[str, Any] = {"splits": splits}
    if style == "llamafactory":
        entries = {f"statgen_{src.info.robot}_{split}": llamafactory_entry(v["file"]) for split, v in splits.items()}
        target.put_json("dataset_info.json", entries)  # after the lists and images it points to
        out["dataset_info"] = sorted(entries)
    return out
