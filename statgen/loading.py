"""Reading a dataset for training: webdataset pipelines and the Parquet index.

Works for a local folder and for object storage (s3://, gs://, through pyarrow.fs).
"""

from __future__ import annotations

from pathlib import Path

from statgen.storage.fs import Store


def _shards(store: Store) -> list[str]:
    """The finished dataset's shards, from dataset.json (not whatever lies in shards/)."""
    from statgen.storage.read import read_dataset_json

    return [s.name for s in read_dataset_json(store).shards]


def shard_urls(root: str | Path) -> list[str]:
    """The dataset's shard paths (local) or URIs (object storage), in order."""
    store = Store.open(str(root))
    return [store.join(rel) for rel in _shards(store)]


def split_urls(root: str | Path) -> dict[str, list[str]]:
    """Each non-empty split's shard paths (local) or URIs (object storage), from dataset.json:
    {"train": [...], "validation": [...]}. A dataset made before splits has every shard in train."""
    from statgen.storage.read import read_dataset_json

    store = Store.open(str(root))
    splits = read_dataset_json(store).split_shards()
    return {k: [store.join(s.name) for s in v] for k, v in splits.items() if v}


def webdataset_samples(root: str | Path, *, camera: str = "front", image_format: str = "jpg"):
    """A webdataset pipeline yielding (PIL image, sample dict) per sample, in order.

    For a local folder this is::

        wds.WebDataset(shard_urls(root), shardshuffle=False).decode("pil").to_tuple("front.jpg", "json")

    On object storage the shards are opened through pyarrow.fs (no aws CLI needed).
    """
    import webdataset as wds
    from webdataset import tariterators

    store = Store.open(str(root))
    names = _shards(store)

    def open_shards(src):
        for sample in src:
            yield {**sample, "stream": store.open_input(sample["url"])}

    return wds.DataPipeline(
        wds.SimpleShardList(names), open_shards, tariterators.tar_file_expander, tariterators.group_by_keys,
        wds.decode("pil"), wds.to_tuple(f"{camera}.{image_format}", "json"),
    )


def index_table(root: str | Path):
    """The Parquet index of the whole dataset as one pyarrow Table, sorted by index."""
    import pyarrow.dataset as pads

    store = Store.open(str(root))
    fs, path = store.filesystem_and_path("index")
    return pads.dataset(path, filesystem=fs, format="parquet").to_table().sort_by("index")
