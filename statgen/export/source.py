"""Reading a dataset for export: its shards in split order, each checked against dataset.json as it streams.

One shard is open at a time and one sample is in memory at a time, so an export's memory does not
grow with n. Every byte of a shard passes through a sha256 that is compared with dataset.json's at
the shard's end: a damaged shard (a flipped byte, a truncated tar) stops the export with a
VerifyError (exit 1, one line) before anything is published.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

from statgen.errors import ConfigError, VerifyError
from statgen.schema import DatasetInfo, SampleFields, SchemaError, ShardInfo
from statgen.storage.fs import Store
from statgen.storage.read import iter_tar_samples, read_dataset_json


@dataclass
class SourceSample:
    """One sample as an exporter sees it: its split and shard, its checked fields, and its members' bytes."""

    split: str
    shard: str
    key: str
    fields: SampleFields
    members: dict[str, bytes]  # "front.jpg" -> bytes, ...

    def image(self, camera: str, image_format: str) -> bytes:
        return self.members[f"{camera}.{image_format}"]


class _HashingReader:
    """A read-only stream that hashes and counts what is read through it (tarfile's "r|" reads it once, in order)."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        b = self.f.read(size)
        self.h.update(b)
        self.n += len(b)
        return b

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


class Source:
    """A finished dataset opened for export: dataset.json checked, its splits, its image format and cameras."""

    def __init__(self, uri: str):
        self.store = Store.open(uri)
        self.info: DatasetInfo = read_dataset_json(self.store, damaged=VerifyError)
        try:
            self.splits: dict[str, list[ShardInfo]] = self.info.split_shards()
        except SchemaError as e:
            raise VerifyError(f"{self.store.join('dataset.json')}: {e}") from None
        self.image_format: str = self.info.config.image_format
        self.cameras: list[str] = list(self.info.config.cameras)

    @property
    def uri(self) -> str:
        return self.store.uri

    def check_camera(self, camera: str) -> str:
        if camera not in self.cameras:
            raise ConfigError(f"--camera {camera}: not in this dataset; valid: {', '.join(self.cameras)}")
        return camera

    def first_sample(self) -> SampleFields:
        """The first sample of the first shard (its text kinds, joint names and camera sizes are every sample's)."""
        for _split, shards in self.splits.items():
            for info in shards:
                for s in self._iter_shard("", info, check=False):
                    return s.fields
        raise ConfigError(f"{self.uri}: the dataset has no samples")

    def samples(self) -> Iterator[SourceSample]:
        """Every sample, split by split (train, then validation), shard by shard in name order, in key order."""
        for split, shards in self.splits.items():
            for info in shards:
                yield from self._iter_shard(split, info, check=True)

    def _iter_shard(self, split: str, info: ShardInfo, *, check: bool) -> Iterator[SourceSample]:
        where = self.store.join(info.name)
        fix = f"run `statgen verify {self.uri}`"
        key = None
        count = 0
        try:
            with self.store.open_input(info.name) as raw:
                f = _HashingReader(raw)
                for key, members in iter_tar_samples(f):
                    if "json" not in members:
                        raise VerifyError(f"{where}: sample {key} has no json member; {fix}")
                    fields = SampleFields.from_json(json.loads(members["json"]))
                    if f"{key}" != f"{fields.index:09d}":
                        raise VerifyError(f"{where}: sample {key} holds index {fields.index}; {fix}")
                    count += 1
                    yield SourceSample(split, info.name, key, fields, members)
                if check:
                    f.drain()
        except VerifyError:
            raise
        except SchemaError as e:
            raise VerifyError(f"{where}: sample {key}: {e}; {fix}") from None
        except (tarfile.TarError, EOFError, ValueError, UnicodeDecodeError) as e:  # json.JSONDecodeError is a ValueError
            where_in = f"near sample {key}" if key else "at its start"
            raise VerifyError(f"{where}: unreadable {where_in} ({type(e).__name__}); {fix}") from None
        if not check:
            return
        if f.n != info.bytes or f.h.hexdigest() != info.sha256:
            raise VerifyError(f"{where}: sha256 or size differs from dataset.json (the shard is damaged); {fix}")
        if count != info.samples:
            raise VerifyError(f"{where}: {count} samples, dataset.json lists {info.samples}; {fix}")
