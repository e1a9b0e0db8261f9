"""Where an export is written, so that a partial export is never visible as complete.

- **A local folder.** Everything is written into a hidden sibling, `.<name>.export-XXXX.partial`,
  and the whole folder is renamed to `<name>` at the end (one rename on one filesystem). `--out`
  exists only once the export is complete; a failure or Ctrl-C removes the hidden folder, and a
  process killed outright leaves only that hidden folder behind.
- **Object storage** (s3://, gs://) has no rename. Each object appears whole (statgen.storage.fs),
  the format's own entry file (LeRobot's `meta/info.json`, LLaMA-Factory's `dataset_info.json`, the
  LLaVA JSON lists) is written after everything it points to, and `statgen-export.json` is written
  last of all. An export under a prefix is complete if and only if `<prefix>/statgen-export.json`
  exists. A failed export deletes what it wrote.

Both refuse an `--out` that already holds a file (exit 2): an export never overwrites.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from statgen.errors import ConfigError
from statgen.storage.fs import Store

MARKER = "statgen-export.json"


class Target:
    def __init__(self, uri: str):
        self.final = Store.open(uri)
        self.uri = self.final.uri
        if self.final.is_local:
            root = self.final.local_root
            if root.exists() and any(root.iterdir()):
                raise ConfigError(f"--out {root}: already exists and is not empty; an export never overwrites: remove it or choose another --out")
            for parent in root.parents:  # the nearest existing ancestor must be a folder
                if parent.exists():
                    if not parent.is_dir():
                        raise ConfigError(f"--out {root}: {parent} is a file, not a folder")
                    break
            root.parent.mkdir(parents=True, exist_ok=True)
            self.staging = root.parent / f".{root.name}.export-{secrets.token_hex(4)}.partial"
            self.staging.mkdir()
            self.store = Store.open(str(self.staging))
        else:
            if not self.final.is_empty():
                raise ConfigError(f"--out {self.uri}: already holds objects; an export never overwrites: choose another --out")
            self.staging = None
            self.store = self.final
        self._tmpdir: pathlib.Path | None = None

    # -- writing ------------------------------------------------------------------------------

    def put(self, rel: str, data: bytes) -> None:
        """A whole file (an image, a small JSON)."""
        if self.staging is not None:
            path = self.staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        else:
            self.store.write_bytes(rel, data)

    @contextlib.contextmanager
    def stream(self, rel: str) -> Iterator[BinaryIO]:
        """A file written piece by piece (a JSON list, a Parquet file): a local file, published whole when the block ends."""
        if self.staging is not None:
            path = self.staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as f:
                yield f
            return
        if self._tmpdir is None:
            self._tmpdir = pathlib.Path(tempfile.mkdtemp(prefix="statgen-export-"))
        path = self._tmpdir / f"{secrets.token_hex(6)}.part"
        try:
            with open(path, "wb") as f:
                yield f
            self.store.put_file(path, rel)  # consumes the staged file
        finally:
            path.unlink(missing_ok=True)

    def put_json(self, rel: str, obj: Any, *, indent: int | None = 2) -> None:
        self.put(rel, (json.dumps(obj, indent=indent, ensure_ascii=False) + "\n").encode())

    # -- finishing ----------------------------------------------------------------------------

    def commit(self, marker: dict[str, Any]) -> None:
        """Write the marker last, then make the export visible (locally: rename the hidden folder into place)."""
        self.put_json(MARKER, marker)
        if self.staging is not None:
            os.sync()  # every file on disk before the rename makes them visible (one call, not one fsync per image)
            root = self.final.local_root
            try:
                os.rename(self.staging, root)  # an empty folder at `root` is replaced; a non-empty one fails
            except OSError as e:
                raise ConfigError(f"--out {root}: appeared while exporting ({e.strerror}); the export was not published") from None
            with contextlib.suppress(OSError):
                fd = os.open(root.parent, os.O_RDONLY)
                os.fsync(fd)
                os.close(fd)
            self.staging = None
        self._cleanup_tmp()

    def abort(self) -> None:
        """Remove whatever this export wrote."""
        self._cleanup_tmp()
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        else:
            with contextlib.suppress(Exception):
                fs, path = self.final.filesystem_and_path("")
                fs.delete_dir_contents(path, missing_dir_ok=True)

    def _cleanup_tmp(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None
