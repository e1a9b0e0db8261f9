"""The dataset card: README.md in the dataset's root, as the Hugging Face Hub renders it.

YAML front matter (license from the robot's asset license, task_categories, tags, size_categories,
and `configs` with `config_name` and `data_files` per split), then what a person wants to know
before opening a shard: counts per split, acceptance, the robot and its model, the scene, the
versions, the ROSA ranges, the preview sheet and the plots of statgen.export.plots, and how to load it.

Written at the end of every `statgen generate`, before dataset.json (which stays the last file);
`statgen stats DIR` draws the plots again.
"""

from __future__ import annotations

import io
import json
from typing import Any

from statgen.core.rosa import DIMS
from statgen.export.plots import STATS_DIR, Summary, write_plots
from statgen.schema import DatasetInfo
from statgen.storage.fs import Store

CARD = "README.md"
PREVIEW = f"{STATS_DIR}/preview.png"
PREVIEW_COUNT = 16
# SPDX ids (as robot TOMLs and Menagerie write them) -> the Hub's license ids.
HUB_LICENSES = {"apache-2.0": "apache-2.0", "mit": "mit", "bsd-3-clause": "bsd-3-clause", "bsd-2-clause": "bsd-2-clause", "bsd": "bsd",
                "cc-by-4.0": "cc-by-4.0", "cc0-1.0": "cc0-1.0", "cc-by-sa-4.0": "cc-by-sa-4.0", "gpl-3.0": "gpl-3.0", "lgpl-3.0": "lgpl-3.0",
                "mpl-2.0": "mpl-2.0"}


def hub_license(info: DatasetInfo) -> tuple[str, str | None]:
    """(the Hub's license id, a license_name when it is "other"). One id when every asset has the same license."""
    ids = {a.license.strip().lower() for a in info.assets}
    if len(ids) == 1:
        (only,) = ids
        if only in HUB_LICENSES:
            return HUB_LICENSES[only], None
    names = ", ".join(sorted({f"{a.license} ({a.source})" for a in info.assets})) or "unknown"
    return "other", names


def size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return label
    return "10M<n<100M"


def data_files(info: DatasetInfo) -> list[dict[str, Any]]:
    """`configs[0].data_files`: per non-empty split, a glob when the split is every shard, else its shards' paths."""
    splits = info.split_shards()
    out = []
    for split, shards in splits.items():
        if not shards:
            continue
        if len(shards) == len(info.shards):
            out.append({"split": split, "path": "shards/*.tar"})
        else:
            out.append({"split": split, "path": [s.name for s in shards]})
    return out


def _yaml_scalar(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def front_matter(info: DatasetInfo) -> str:
    lic, lic_name = hub_license(info)
    lines = ["---", f"license: {lic}"]
    if lic_name:
        lines.append(f"license_name: {_yaml_scalar(lic_name)}")
    lines += [f"pretty_name: {_yaml_scalar(f'statgen {info.robot} {info.task} robot-state (ROSA)')}",
              "task_categories:", "- robotics",
              "tags:"] + [f"- {t}" for t in ("robotics", "statgen", "rosa", "robot-state-estimation", "synthetic", "mujoco", "webdataset", info.robot)]
    lines += ["size_categories:", f"- {size_category(info.samples)}", "configs:", "- config_name: default", "  data_files:"]
    for entry in data_files(info):
        lines.append(f"  - split: {entry['split']}")
        if isinstance(entry["path"], str):
            lines.append(f"    path: {_yaml_scalar(entry['path'])}")
        else:
            lines.append("    path:")
            lines += [f"    - {_yaml_scalar(p)}" for p in entry["path"]]
    lines.append("---")
    return "\n".join(lines) + "\n"


LEVEL_WORDS = {
    "none": "one fixed look (the task's table, lights and camera)",
    "appearance": "a new look per sample (surface materials and textures, lights, headlight) in the task's geometry, seen by its camera",
    "full": "a new look per sample (surface materials and textures, lights, headlight, camera pose and field of view) "
            "and a new layout per shard (table size and height, robot base pose, distractors, walls)",
}


def _scene_line(info: DatasetInfo) -> str:
    """The randomisation in words, and only the settings the run gave (the rest are the task's ranges)."""
    r = info.config_json().get("randomize")
    if not isinstance(r, dict):
        return "one fixed look (made before statgen randomised scenes)"
    level = r.get("level", "none")
    given = {k: v for k, v in sorted(r.items()) if k != "level" and v is not None}
    line = f"randomisation `{level}`: {LEVEL_WORDS.get(level, level)}"
    if given:
        line += "; settings: " + ", ".join(f"`{k}` = `{json.dumps(v)}`" for k, v in given.items())
    return line


def body(info: DatasetInfo, s: Summary, plots: list[str], preview: str | None) -> str:
    a = info.acceptance
    splits = info.split_shards()
    spec = info.robot_spec
    lic, lic_name = hub_license(info)
    cams = list(info.config.cameras)
    L: list[str] = []
    L.append(f"# statgen: {info.robot} on {info.task}, {info.samples} robot-state samples\n")
    L.append("Exact robot-state training data for vision-language-action (VLA) models, following the ROSA recipe "
             "([arXiv 2506.13679](https://arxiv.org/abs/2506.13679)). Each sample is a rendered image of a simulated arm "
             "(MuJoCo) in a random, feasible joint configuration, labelled by forward kinematics with the end-effector "
             "pose and gripper state: the labels are exact. Made by "
             f"statgen {info.statgen_version}.\n")
    if preview:
        L.append(f"![preview: the TCP (yellow ring) and its axes drawn from the stored labels; the bottom line is the ROSA answer]({preview})\n")
    L.append("## Contents\n")
    L.append("| split | samples | shards |\n|---|---:|---:|")
    for split, shards in splits.items():
        L.append(f"| {split} | {sum(x.samples for x in shards)} | {len(shards)} |")
    L.append(f"| **all** | **{info.samples}** | **{len(info.shards)}** |\n")
    frac = info.config.val_fraction
    L.append(f"Splits are whole shards, chosen from the seed ({info.seed}) with `val_fraction` = {frac}; "
             "dataset.json lists each split's shards.\n")
    L.append(f"- **Robot:** `{info.robot}`: {spec.description}; model `{info.assets[0].source if info.assets else '?'}`, "
             f"license {', '.join(sorted({x.license for x in info.assets}))}; model sha256 `{info.model_sha256[:16]}...`.")
    L.append(f"- **Scene:** task `{info.task}`; scene: {_scene_line(info)}.")
    L.append(f"- **Cameras:** {', '.join(f'`{c}`' for c in cams)}, {({'jpg': 'JPEG'}).get(info.config.image_format, info.config.image_format.upper())} images "
             f"({info.task_spec.camera(cams[0]).width}x{info.task_spec.camera(cams[0]).height} for `{cams[0]}`).")
    L.append(f"- **Text kinds:** every sample has a question and an answer per kind (ROSA tokens in `rosa`, a metric paraphrase in `natural`).")
    L.append(f"- **Seed:** {info.seed}; sample schema `{info.sample_schema}`.\n")
    L.append("## Acceptance\n")
    rej = ", ".join(f"{k} {v}" for k, v in sorted(a.rejected.items()) if v) or "none"
    L.append(f"{a.accepted} of {a.drawn} draws were accepted ({100 * a.accepted / max(a.drawn, 1):.1f}%). Rejected: {rej}. "
             "A draw is rejected only for a collision, a TCP outside the workspace box, or a TCP out of the front camera's view; "
             "occlusion is a label (`ee_visible`), not a filter.\n")
    L.append("| camera | TCP in view | TCP visible |\n|---|---:|---:|")
    for c in cams:
        L.append(f"| {c} | {100 * s.rate(s.in_view[c]):.1f}% | {100 * s.rate(s.visible[c]):.1f}% |")
    L.append(f"\nGripper open in {100 * s.rate(s.gripper_open):.1f}% of samples.\n")
    L.append("## Plots\n")
    captions = {"workspace.png": "Where the TCP is: three projections of its position in the base frame.",
                "rosa_dims.png": "Each ROSA dimension over its range.",
                "visibility.png": "The TCP in view and visible, per camera.",
                "gripper.png": "Gripper open and closed.",
                "acceptance.png": "Acceptance per shard."}
    for rel in plots:
        name = rel.rsplit("/", 1)[-1]
        L.append(f"{captions.get(name, name)}\n\n![{name}]({rel})\n")
    L.append("## ROSA state\n")
    L.append("The `rosa` answer is seven integer tokens, one per dimension: `b = clip(floor((v - min) / (max - min) * 255), 0, 255)`; "
             "decode with `v = min + b / 255 * (max - min)` (off by less than one bin). Base frame; metres and radians; "
             "roll, pitch, yaw are extrinsic XYZ; the gripper is 1 when open.\n")
    L.append("| dim | min | max |\n|---|---:|---:|")
    for d, (lo, hi) in zip(DIMS, info.rosa.ranges):
        L.append(f"| {d} | {lo:g} | {hi:g} |")
    L.append("")
    L.append("## Loading\n")
    L.append("```python\nfrom datasets import load_dataset\n"
             "ds = load_dataset(\"<this folder or repo>\")  # the splits above, from this card's configs\n"
             "sample = ds[\"train\"][0]             # sample[\"json\"][\"text\"][\"rosa\"][\"answer\"], sample[\"front.jpg\"]\n```\n")
    L.append("WebDataset, Ray Data, the Parquet index (`index/`) and exports to LLaVA, LLaMA-Factory and LeRobot "
             "(`statgen export`) are described in statgen's README.\n")
    L.append("## Versions\n")
    L.append("| package | version |\n|---|---|")
    for k, v in sorted(info.versions.items()):
        L.append(f"| {k} | {v} |")
    L.append("")
    L.append("## License\n")
    L.append(f"The images show the robot model `{info.assets[0].source if info.assets else '?'}`, whose license is "
             f"{lic_name or lic}; the card's `license` follows it.\n")
    return "\n".join(L)


def write_card(store: Store, info: DatasetInfo, shard_extras: dict[str, dict[str, Any]] | None = None) -> list[str]:
    """stats/*.png, stats/preview.png and README.md (in that order). Returns the files written."""
    from statgen.preview import sheet_image

    summary, plots = write_plots(store, info, shard_extras)
    preview = None
    if info.samples:
        sheet = sheet_image(store, info, count=min(PREVIEW_COUNT, info.samples), camera=list(info.config.cameras)[0])
        buf = io.BytesIO()
        sheet.save(buf, format="PNG")
        store.write_bytes(PREVIEW, buf.getvalue())
        preview = PREVIEW
    store.write_bytes(CARD, (front_matter(info) + "\n" + body(info, summary, plots, preview)).encode())
    return [*plots, *([preview] if preview else []), CARD]
