"""The run's bookkeeping under <out>/_run/: run.json, shards.jsonl, the lock; and dataset.json."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from statgen.errors import ConfigError, RunError
from statgen.storage.shards import ShardInfo, partial_path

RUN_DIR = "_run"


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON (sorted keys, indented) under a temporary name, fsync, then os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(path)
    try:
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing; is this a statgen dataset?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: corrupted {what} ({e}); regenerate it with `statgen generate ... --resume`") from None


def append_shard(root: Path, info: ShardInfo, extra: dict[str, Any] | None = None) -> None:
    """Record a finished shard in _run/shards.jsonl, durably. `extra` (e.g. acceptance) rides along."""
    line = {**info.as_dict(), **({"extra": extra} if extra else {})}
    with open(root / RUN_DIR / "shards.jsonl", "a") as f:
        f.write(json.dumps(line, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_shards(root: Path) -> list[tuple[ShardInfo, dict[str, Any]]]:
    """Finished shards from _run/shards.jsonl; a torn last line (killed mid-write) is ignored."""
    p = root / RUN_DIR / "shards.jsonl"
    if not p.exists():
        return []
    out = []
    for line in p.read_text().splitlines():
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
    """_run/lock, held while a generate runs: {pid, host, start}. A lock whose process is dead is stale."""

    def __init__(self, root: Path):
        self.path = Path(root) / RUN_DIR / "lock"
        self.held = False

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "start": time.time()})
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._stale():
                    self.path.unlink(missing_ok=True)
                    continue
                raise ConfigError(f"{self.path.parent.parent}: another statgen generate holds {self.path} ({self.path.read_text().strip()}); wait for it or stop it") from None
            with os.fdopen(fd, "w") as f:
                f.write(body)
            self.held = True
            return
        raise RunError(f"cannot take the lock {self.path}")

    def _stale(self) -> bool:
        try:
            info = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return True  # torn write by a process that died while taking it
        return info.get("host") == socket.gethostname() and not _pid_alive(int(info.get("pid", -1)))

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
