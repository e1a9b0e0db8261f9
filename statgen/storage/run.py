"""The run's bookkeeping under <out>/_run/: run.json, shards.jsonl, the lock; and dataset.json.

Everything goes through a Store, so a dataset may live in a local folder or on object
storage. Locally, shards.jsonl is appended and fsynced; on object storage, where objects
cannot be appended to, it is rewritten whole (one PUT) after each shard.
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

from statgen.errors import ConfigError, RunError
from statgen.storage.fs import Store
from statgen.schema import ShardInfo

RUN_DIR = "_run"
RUN_JSON = f"{RUN_DIR}/run.json"
SHARDS_JSONL = f"{RUN_DIR}/shards.jsonl"
LOCK = f"{RUN_DIR}/lock"


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode()


def write_json(store: Store, rel: str, obj: Any) -> None:
    """Sorted keys, indented; atomic (temp + os.replace locally, one PUT on object storage)."""
    store.write_bytes(rel, json_bytes(obj))


def read_json(store: Store, rel: str, what: str) -> Any:
    if not store.exists(rel):
        raise ConfigError(f"{store.join(rel)}: missing; is this a statgen dataset?")
    try:
        return json.loads(store.read_bytes(rel))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{store.join(rel)}: corrupted {what} ({e}); regenerate it with `statgen generate --resume`") from None


def _line(info: ShardInfo, extra: dict[str, Any] | None) -> str:
    return json.dumps({**info.as_dict(), **({"extra": extra} if extra else {})}, sort_keys=True)


class ShardLog:
    """_run/shards.jsonl: one line per finished shard, what --resume reads."""

    def __init__(self, store: Store):
        self.store = store
        self.lines: list[str] = []

    def reset(self, entries: list[tuple[ShardInfo, dict[str, Any]]]) -> None:
        self.lines = [_line(i, e) for i, e in entries]
        self.store.write_bytes(SHARDS_JSONL, "".join(x + "\n" for x in self.lines).encode())

    def append(self, info: ShardInfo, extra: dict[str, Any] | None = None) -> None:
        line = _line(info, extra)
        self.lines.append(line)
        if self.store.is_local:
            with open(self.store.local_root / SHARDS_JSONL, "a") as f:
                f.write(line + "\n")
                f.flush()
                os.fsync(f.fileno())
        else:
            self.store.write_bytes(SHARDS_JSONL, "".join(x + "\n" for x in self.lines).encode())


def read_shards(store: Store) -> list[tuple[ShardInfo, dict[str, Any]]]:
    """Finished shards from _run/shards.jsonl; a torn last line (killed mid-write) is ignored."""
    if not store.exists(SHARDS_JSONL):
        return []
    out = []
    for line in store.read_text(SHARDS_JSONL).splitlines():
        try:
            d = json.loads(line)
            extra = d.pop("extra", {})
            out.append((ShardInfo(**d), extra))
        except (json.JSONDecodeError, TypeError, AttributeError):
            continue
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """_run/lock, held while a generate runs: {pid, host, start}.

    Taking it is one atomic create-if-absent (Store.create_exclusive): locally a file
    linked into place, on S3 a PutObject with If-None-Match: *, on GCS an upload with
    ifGenerationMatch=0. Of two runs racing for it, exactly one wins; the other is refused.
    A lock whose process is dead (same host) is stale: it is deleted and the create tried
    again. That takeover is not conditional (deleting someone else's fresh lock needs a
    conditional delete), so two runs that take over the same stale lock at the same moment
    can both win; a lock left by a dead run on another host is deleted by hand.
    """

    def __init__(self, store: Store):
        self.store = store
        self.held = False

    def acquire(self) -> None:
        body = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "start": time.time()})
        for _ in range(3):
            if self.store.create_exclusive(LOCK, body.encode()):
                self.held = True
                return
            try:
                text = self.store.read_text(LOCK)
            except FileNotFoundError:
                continue  # released meanwhile: try again
            if self._stale(text):
                self.store.delete(LOCK)
                continue
            raise ConfigError(
                f"{self.store.uri}: another statgen generate holds {self.store.join(LOCK)} ({text.strip()}); "
                "wait for it or stop it (a lock of a run that died on another host can be deleted by hand)"
            )
        raise RunError(f"cannot take the lock {self.store.join(LOCK)}")

    @staticmethod
    def _stale(text: str) -> bool:
        try:
            info = json.loads(text)
            return info.get("host") == socket.gethostname() and not _pid_alive(int(info.get("pid", -1)))
        except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
            return False  # cannot tell: treat as held (the message says how to remove it)

    def release(self) -> None:
        if self.held:
            self.store.delete(LOCK)
            self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
