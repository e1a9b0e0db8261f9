"""TOML discovery and reading (I/O): the shipped robots/, tasks/ and pipelines/, or a user's own file.

robots/, tasks/ and pipelines/ ship inside the wheel under ``statgen/_data/``; in a
source checkout (editable install) they are read from the repo's top-level folders.
A user may pass a path to their own file instead of a name.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from statgen.errors import ConfigError


def data_dir(kind: str) -> Path:
    """Folder holding the shipped robots/, tasks/ or pipelines/ TOMLs."""
    packaged = resources.files("statgen") / "_data" / kind
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / kind  # source checkout / editable install


def available(kind: str) -> list[str]:
    """Names of the shipped TOMLs of one kind, sorted."""
    d = data_dir(kind)
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def find_toml(kind: str, name_or_path: str) -> Path:
    """A shipped TOML by name, or the user's own file by path.

    A value with a slash or a .toml suffix is a path; otherwise a shipped name wins over a
    folder of that name in the working directory (an --out folder called `franka`, say).
    """
    p = Path(name_or_path)
    what = kind[:-1]
    looks_like_path = p.suffix == ".toml" or "/" in name_or_path
    if looks_like_path or not (data_dir(kind) / f"{name_or_path}.toml").is_file():
        if p.is_dir():
            raise ConfigError(_folder_message(what, name_or_path, p))
    if looks_like_path:
        if not p.is_file():
            raise ConfigError(f"{what} file {name_or_path!r} does not exist; pass a name ({', '.join(available(kind))}) or a path to a .toml file")
        return p.resolve()
    cand = data_dir(kind) / f"{name_or_path}.toml"
    if not cand.is_file():
        raise ConfigError(f"unknown {what} {name_or_path!r}; valid choices: {', '.join(available(kind))} (or a path to a .toml file)")
    return cand


def _folder_message(what: str, given: str, folder: Path) -> str:
    """'--robot DIR' names a folder: say so, and point at the .toml inside when there is one."""
    tomls = sorted(q.name for q in folder.glob("*.toml") if q.is_file())
    head = f"{what} {given!r} is a folder; expected a {what} .toml file"
    if len(tomls) == 1:
        return f"{head}: did you mean {(folder / tomls[0]).as_posix()!r}?"
    if tomls:
        return f"{head}: pass one of the files in it ({', '.join(tomls)})"
    return f"{head}, and it holds no .toml file; pass a name ({', '.join(available(what + 's'))}) or a path to a .toml file"


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict. Every failure is a ConfigError naming the file.

    TOML is UTF-8 by definition; a UTF-8 byte-order mark is accepted and dropped.
    Latin-1, UTF-16 and binary files are refused with one line saying so.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: {_not_utf8(raw, e)}; a statgen config file must be UTF-8 TOML (re-save it as UTF-8)") from None
    if "\x00" in text:  # UTF-16 without a byte-order mark decodes as UTF-8 with a NUL after every ASCII byte
        at = text.index("\x00")
        raise ConfigError(f"{path}: NUL byte at offset {at} (UTF-16 or binary?); a statgen config file must be UTF-8 TOML (re-save it as UTF-8)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e}); fix the syntax") from None


def _not_utf8(raw: bytes, e: UnicodeDecodeError) -> str:
    """What a file that is not UTF-8 looks like, in a few words: 'expected UTF-8, got ...'."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        got = "UTF-16 (it starts with a UTF-16 byte-order mark)"
    else:
        got = f"byte 0x{raw[e.start]:02x} at offset {e.start}, which is not UTF-8 (Latin-1 or binary?)"
    return f"expected UTF-8 text, got {got}"
