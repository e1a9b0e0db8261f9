"""The dataset card (README.md) and `statgen stats` (issue 13): YAML the Hub accepts, data_files that match, plots that exist."""

from __future__ import annotations

import glob
import json
import re
from pathlib import Path

import pytest
import yaml

from statgen.cli import main
from statgen.export.plots import PLOTS


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    head, _, _ = card[4:].partition("\n---\n")
    return yaml.safe_load(head)


def _matches(root: Path, pattern: str) -> set[str]:
    return {str(Path(p).relative_to(root)) for p in glob.glob(str(root / pattern))}


def test_card_yaml_and_data_files(small_dataset):
    root = small_dataset
    meta = _front_matter((root / "README.md").read_text())
    ds = json.loads((root / "dataset.json").read_text())
    assert meta["license"] == "apache-2.0"  # the Menagerie Panda's license, in the Hub's spelling
    assert meta["task_categories"] == ["robotics"] and "robotics" in meta["tags"] and meta["size_categories"] == ["n<1K"]
    (config,) = meta["configs"]
    assert config["config_name"] == "default"
    by_split = {}
    for entry in config["data_files"]:
        paths = entry["path"] if isinstance(entry["path"], list) else [entry["path"]]
        files = set()
        for p in paths:
            m = _matches(root, p)
            assert m, f"{p} matches no file"
            files |= m
        by_split[entry["split"]] = sorted(files)
    assert by_split == {k: sorted(v) for k, v in ds["splits"].items() if v}
    every = sorted(s["name"] for s in ds["shards"])
    assert sorted(by_split["train"] + by_split["validation"]) == every


def test_card_body_and_plots(small_dataset):
    root = small_dataset
    card = (root / "README.md").read_text()
    for rel in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card):  # every image the card shows is there
        assert (root / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", rel
    for name in (*PLOTS, "preview.png"):
        assert f"stats/{name}" in card
    assert "| train | 16 | 2 |" in card and "| validation | 8 | 1 |" in card
    ds = json.loads((root / "dataset.json").read_text())
    assert f"{ds['acceptance']['accepted']} of {ds['acceptance']['drawn']} draws" in card
    for k, v in ds["versions"].items():
        assert f"| {k} | {v} |" in card
    scene = next(line for line in card.splitlines() if line.startswith("- **Scene:**"))
    level = ds["config"]["randomize"]["level"]
    assert f"randomisation `{level}`: " in scene and "null" not in scene, scene  # words, not a dump of unset settings


def test_stats_command_redraws_the_plots(small_dataset, tmp_path, capsys):
    import shutil

    root = tmp_path / "ds"
    shutil.copytree(small_dataset, root)
    shutil.rmtree(root / "stats")
    assert main(["stats", str(root)]) == 0
    out = capsys.readouterr().out
    for name in PLOTS:
        assert (root / "stats" / name).read_bytes()[:4] == b"\x89PNG" and f"stats/{name}" in out
    assert "24 samples" in out


def test_stats_on_a_folder_that_is_not_a_dataset(tmp_path, capsys):
    code = main(["stats", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "not a statgen dataset" in err


def test_generate_writes_the_card(dataset_2w):
    """The card at the end of `statgen generate` (the run with Ray; dataset.json stays the last file)."""
    meta = _front_matter((dataset_2w / "README.md").read_text())
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": "shards/*.tar"}]
    assert all((dataset_2w / "stats" / p).exists() for p in (*PLOTS, "preview.png"))
    assert (dataset_2w / "dataset.json").stat().st_mtime_ns >= (dataset_2w / "README.md").stat().st_mtime_ns


@pytest.mark.parametrize("damage", ["missing", "garbage"])
def test_stats_on_a_damaged_index_is_one_line(small_dataset, tmp_path, capsys, damage):
    import shutil

    from conftest import assert_one_line

    root = tmp_path / "ds"
    shutil.copytree(small_dataset, root)
    f = root / "index/statgen-000001.parquet"
    if damage == "missing":
        f.unlink()
    else:
        f.write_bytes(b"not parquet")
    code = main(["stats", str(root)])
    line = assert_one_line(capsys.readouterr().err, code, 1)
    assert "statgen-000001.parquet" in line


def test_plots_fit_their_figures_at_large_counts(small_dataset):
    """The plots' fixed margins hold what a big run puts on its axes: 500,000 samples (6-digit counts
    on the gripper's and the ROSA histograms' axes), 3,000 samples in one workspace cell (4-digit
    colorbar ticks), 500 shards, three cameras. Every drawn artist's box lies inside its figure."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from statgen.export.plots import ROSA_BINS, Summary, figures, grid_bins
    from statgen.schema import DatasetInfo

    info = DatasetInfo.from_json(json.loads((small_dataset / "dataset.json").read_text()))
    n, grid = 500_000, grid_bins(500_000)
    rng = np.random.default_rng(0)
    cams = ["front", "wrist", "side"]
    s = Summary(ranges=np.asarray(info.rosa.ranges, dtype=float), samples=n,
                xyz={k: rng.integers(0, 3000, (grid, grid)).astype(float) for k in ("top", "side", "front")},
                dims=np.full((7, ROSA_BINS), 250_000.0), outside=np.zeros(7, dtype=int), gripper_open=250_001,
                in_view={c: n for c in cams}, visible={c: n - 1 for c in cams},
                shards=[(f"statgen-{i:06d}.tar", {"drawn": 2000, "accepted": 1000, "rejected": {"workspace": 1000}}) for i in range(500)])
    figs = figures(s, info)
    assert sorted(figs) == sorted(PLOTS)
    for name, fig in figs.items():
        box = fig.get_tightbbox(FigureCanvasAgg(fig).get_renderer())  # inches
        w, h = fig.get_size_inches()
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= w and box.y1 <= h, f"{name}: drawn over {box.bounds} in a {w} x {h} in figure"
