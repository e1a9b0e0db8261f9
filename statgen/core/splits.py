"""Splits: whole shards assigned to `validation`, deterministically from the seed (pure; no I/O).

A shard is the unit because it is what a loader reads whole (a webdataset URL, a `data_files`
entry); splitting inside a shard would make every split read every shard. The choice depends only
on (seed, number of shards, fraction), all part of the run identity, so a resumed or repeated run
gets the same splits. Its own random stream, `default_rng([seed, SPLIT_STREAM])`, is disjoint from the
shards' streams (`[seed, shard]`, `[seed, shard, k]`), so it changes no sample.
"""

from __future__ import annotations

import numpy as np

SPLITS = ("train", "validation")
SPLIT_STREAM = 2**32 + 7  # never a shard number (at most 10**9 samples)


def validation_count(n_shards: int, val_fraction: float) -> int:
    """How many shards go to validation: round(F * n), at least 1 when F > 0 and there are 2 or more
    shards, and never every shard (a dataset always keeps a training split)."""
    if val_fraction <= 0 or n_shards < 2:
        return 0
    return int(min(max(1, round(val_fraction * n_shards)), n_shards - 1))


def split_shards(seed: int, n_shards: int, val_fraction: float) -> dict[str, list[int]]:
    """{"train": [shard numbers], "validation": [...]}, each sorted; disjoint, together every shard.
    The validation shards are the first k of a permutation drawn from the seed's split stream."""
    k = validation_count(n_shards, val_fraction)
    order = np.random.default_rng([seed, SPLIT_STREAM]).permutation(n_shards)
    val = sorted(int(s) for s in order[:k])
    val_set = set(val)
    return {"train": [s for s in range(n_shards) if s not in val_set], "validation": val}
