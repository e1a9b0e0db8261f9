"""How the scene looks: a SceneVariation draws a look per sample and applies it to the model and data.

The protocol (dm_control composer's hooks are the model; every draw takes an injected
np.random.Generator, there is no global RNG):

- `initialize_shard(rng=..., shard=...)`: once per shard, before its first sample, with the shard's
  layout stream (default_rng([seed, shard, 2])) and the shard's number (a layout's id): e.g. a
  texture pool, or a per-shard layout edited in place in the model.
- `draw(rng=...) -> SceneParams`: per look, with the shard's look stream (default_rng([seed,
  shard, 1])); pure: it only draws numbers. SceneParams is JSON-ready data (what a `scene`
  block of the sample would record); an empty mapping means "the scene as built".
- `apply(params, data=...)`: write a look into the model (data.model) and data. Idempotent and
  total: applying look i after any other look gives the same state as applying it first, because
  the producer applies each sample's look twice (before its labels, and again before its render,
  the phases running over a batch). It must not touch qpos.

Looks have their own streams, apart from the configuration stream (default_rng([seed, shard]));
so a variation that only changes the look never changes which configurations are accepted.
After `apply` with non-empty params the producer refreshes the feasibility tests' frames (the
front camera may have moved, its K changed).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Protocol

import mujoco
import numpy as np

SceneParams = Mapping[str, Any]
AS_BUILT: SceneParams = MappingProxyType({})  # no change: the scene as build_scene made it


class SceneVariation(Protocol):
    def initialize_shard(self, *, rng: np.random.Generator, shard: int) -> None: ...

    def draw(self, *, rng: np.random.Generator) -> SceneParams: ...

    def apply(self, params: SceneParams, *, data: mujoco.MjData) -> None: ...

    # Optional: `apply_geometry(params, *, data)`, writing only what the feasibility tests and the labels
    # read (what moves), for the draws before a render, which calls apply. Without it, apply serves both.


class NoVariation:
    """The scene as built, with no record of it (a test's stand-in; statgen's level "none" is
    statgen.sim.looks.AsBuilt, which records the scene). Draws nothing, applies nothing."""

    def initialize_shard(self, *, rng: np.random.Generator, shard: int = 0) -> None:
        pass

    def draw(self, *, rng: np.random.Generator) -> SceneParams:
        return AS_BUILT

    def apply(self, params: SceneParams, *, data: mujoco.MjData) -> None:
        pass
