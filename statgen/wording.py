"""Counts in statgen's own messages: "1 shard", "2 shards", never "1 shards" or "shard(s)"."""

from __future__ import annotations


def counted(k: int, noun: str, plural: str | None = None) -> str:
    """`k` and the noun, singular for exactly one: counted(1, "shard") == "1 shard"."""
    return f"{k} {noun if k == 1 else (plural or noun + 's')}"


def their(k: int) -> str:
    """The possessive that agrees with a count of `k`: "its" for exactly one, else "their"."""
    return "its" if k == 1 else "their"
