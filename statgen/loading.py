"""Reading a dataset for training: webdataset pipelines and the Parquet index."""

from __future__ import annotations

from pathlib import Path


def shard_urls(root: str | Path) -> list[str]:
    """The dataset's shard paths, in order (from the shards/ folder)."""
    return sorted(str(p) for p in Path(root).glob("shards/*.tar"))


def webdataset_samples(root: str | Path, *, camera: str = "front", image_format: str = "jpg"):
    """A webdataset pipeline yielding (PIL image, sample dict) per sample, in order.

    Equivalent to::

        wds.WebDataset(urls, shardshuffle=False).decode("pil").to_tuple("front.jpg", "json")
    """
    import webdataset as wds

    return wds.WebDataset(shard_urls(root), shardshuffle=False, empty_check=False).decode("pil").to_tuple(f"{camera}.{image_format}", "json")


def index_table(root: str | Path):
    """The Parquet index of the whole dataset as one pyarrow Table, sorted by index."""
    import pyarrow.dataset as pads

    return pads.dataset(Path(root) / "index", format="parquet").to_table().sort_by("index")
