"""Validation without I/O: collect every problem of an input, then raise one ConfigError listing them all.

- `Problems` collects messages; `raise_if_any()` raises one line: the problem itself when
  there is one, else "3 problems: (1) ...; (2) ...; (3) ...", after an optional prefix
  (the file's path).
- `check(value, kind, where)` is a small type language for TOML values and flags: str, int,
  float, bool, vec3, vec4, range, interval, list[str], list[float], list[table], any.
- `Table` reads one TOML table: each key's type is checked, unknown keys are reported, and a
  value that fails is recorded and read as INVALID, so the reader goes on to the next key.
  Code that combines values checks them with `ok(...)` first.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from statgen.errors import ConfigError


class _Invalid:
    """A value that failed its check (its problem is recorded); never reaches a spec."""

    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:
        return False


INVALID: Any = _Invalid()


def ok(*values: Any) -> bool:
    """True when none of the values failed its check."""
    return not any(v is INVALID for v in values)


def problems_message(items: list[str], prefix: str = "") -> str:
    """One line for one or more problems: the problem itself, or "N problems: (1) a; (2) b"."""
    body = items[0] if len(items) == 1 else f"{len(items)} problems: " + "; ".join(f"({i}) {p}" for i, p in enumerate(items, 1))
    return f"{prefix}: {body}" if prefix else body


class Problems:
    """Every problem of one input (a file, a set of flags); one ConfigError at the end."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.items: list[str] = []

    def add(self, message: str) -> None:
        self.items.append(message)

    def __len__(self) -> int:
        return len(self.items)

    def check(self, value: Any, kind: str, where: str) -> Any:
        """`check(value, kind, where)`, with a failure recorded and INVALID returned."""
        try:
            return check(value, kind, where)
        except ConfigError as e:
            self.add(str(e))
            return INVALID

    def run(self, fn, *args, **kwargs) -> Any:
        """fn(*args, **kwargs); a ConfigError from it is recorded and INVALID returned."""
        try:
            return fn(*args, **kwargs)
        except ConfigError as e:
            self.add(str(e))
            return INVALID

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError(problems_message(self.items, self.prefix))


_NUM = (int, float)


def _number(x: Any) -> bool:
    return isinstance(x, _NUM) and not isinstance(x, bool)


_KINDS = {
    "str": lambda v: isinstance(v, str) and v != "",
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: _number(v) and math.isfinite(v),
    "bool": lambda v: isinstance(v, bool),
    "vec3": lambda v: isinstance(v, list) and len(v) == 3 and all(_number(x) for x in v),
    "vec4": lambda v: isinstance(v, list) and len(v) == 4 and all(_number(x) for x in v),
    "range": lambda v: isinstance(v, list) and len(v) == 2 and all(_number(x) for x in v) and v[0] < v[1],
    "interval": lambda v: isinstance(v, list) and len(v) == 2 and all(_number(x) and math.isfinite(x) for x in v) and v[0] <= v[1],
    "list[str]": lambda v: isinstance(v, list) and all(isinstance(x, str) and x for x in v),
    "list[float]": lambda v: isinstance(v, list) and all(_number(x) and math.isfinite(x) for x in v),
    "list[table]": lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
    "any": lambda v: True,
}
_EXPECTED = {"range": "[low, high] with low < high", "interval": "[low, high] with low <= high", "vec3": "3 numbers", "vec4": "4 numbers", "str": "a non-empty string",
             "list[float]": "a list of numbers", "list[table]": "a list of tables"}


def check(v: Any, kind: str, where: str) -> Any:
    """Check a TOML value against the small type language; returns it normalised (tuples, floats)."""
    if not _KINDS[kind](v):
        raise ConfigError(f"{where}: expected {_EXPECTED.get(kind, kind)}, got {v!r}")
    if kind == "float":
        return float(v)
    if kind in ("vec3", "vec4", "range", "interval"):
        return tuple(float(x) for x in v)
    if kind == "list[str]":
        return tuple(v)
    if kind == "list[float]":
        return tuple(float(x) for x in v)
    return v


class Table:
    """A TOML table being read: every key must be consumed, with its type checked.

    Problems go to `problems`; a value that fails reads as INVALID. A table that is missing
    or not a table is "dead": its reads return INVALID without further problems.
    """

    def __init__(self, data: Any, where: str, problems: Problems, *, dead: bool = False):
        self.where, self.problems, self.used = where, problems, set()
        self.dead = dead
        if not dead and not isinstance(data, dict):
            problems.add(f"{where or 'top level'}: expected a table, got {type(data).__name__}")
            self.dead = True
        self.data = data if isinstance(data, dict) and not self.dead else {}

    def _at(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, kind: str, default: Any = dataclasses.MISSING) -> Any:
        self.used.add(key)
        if self.dead:
            return INVALID
        if key not in self.data:
            if default is dataclasses.MISSING:
                self.problems.add(f"{self._at(key)}: missing; add it to the file")
                return INVALID
            return default
        return self.problems.check(self.data[key], kind, self._at(key))

    def sub(self, key: str, *, optional: bool = False) -> Table | None:
        self.used.add(key)
        if self.dead:
            return Table(None, self._at(key), self.problems, dead=True)
        if key not in self.data:
            if optional:
                return None
            self.problems.add(f"{self._at(key)}: missing table; add [{self._at(key)}]")
            return Table(None, self._at(key), self.problems, dead=True)
        return Table(self.data[key], self._at(key), self.problems)

    def done(self) -> None:
        if self.dead:
            return
        for extra in sorted(set(self.data) - self.used):
            self.problems.add(f"{self.where or 'top level'}: unknown key {extra!r}; valid keys: {', '.join(sorted(self.used))}")


def rosa_ranges(v: Any, where: str) -> tuple[tuple[float, float], ...]:
    """ROSA token ranges: one [low, high] per dimension of core.rosa.DIMS, the gripper's [0, 1]."""
    from statgen.core.rosa import DIMS

    if not (isinstance(v, list) and len(v) == len(DIMS)):
        raise ConfigError(f"{where}: expected {len(DIMS)} ranges for {', '.join(DIMS)}, got {v!r}")
    ranges = tuple(check(r, "range", f"{where}[{i}] ({DIMS[i]})") for i, r in enumerate(v))
    if ranges[-1] != (0.0, 1.0):
        raise ConfigError(f"{where}[6] (gripper): expected [0, 1] (the gripper token is binary: 0 closed, 255 open), got {list(ranges[-1])}")
    return ranges


def unique(names: Any, where: str, what: str) -> None:
    """Refuse a name listed twice: a joint sampled twice (or never), a body counted twice."""
    if not ok(names):
        return
    seen = set()
    for x in names:
        if x in seen:
            raise ConfigError(f"{where}: {what} {x!r} is listed twice; expected each {what} once, got {list(names)}")
        seen.add(x)
