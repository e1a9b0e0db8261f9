"""How configurations are drawn: a SampleSource gives the producer one feasible configuration at a time.

The protocol (every draw takes an injected np.random.Generator; there is no global RNG):

- `initialize_shard(rng=...)`: once per shard, with the shard's configuration stream
  (default_rng([seed, shard])), after the scene variation's own initialize_shard;
- `new_look() -> bool`: whether the next configuration starts a new look, i.e. the producer
  must draw and apply a new scene look before asking for it (independent samples: always;
  trajectories: at an episode's first step, so the look holds still within an episode);
- `next(rng=..., acc=...) -> Configuration`: draw until a configuration is feasible *in the
  scene as it is now* (after the look was applied), counting every draw in `acc`; the data is
  left at it (FK and camera poses computed), ready for its labels.

IndependentSource is statgen's sampler: independent uniform draws of the arm joints and the
gripper opening, rejected by the Feasibility tests (workspace box, front view, collision) and,
when the pipeline asks, by the TCP's visibility from the front camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import mujoco
import numpy as np

from statgen.errors import RunError
from statgen.schema import Acceptance
from statgen.sim.feasibility import Feasibility
from statgen.sim.labels import camera_label
from statgen.sim.scene import Scene, set_qpos


class NoFeasibleConfiguration(RunError):
    """No configuration was feasible in max_draws_per_sample draws (in the scene as it is)."""


@dataclass(slots=True)
class Configuration:
    """An accepted configuration: qpos of the arm joints then the gripper joints (the order of state.qpos).
    new_look: it started a new look (trajectories add their episode and step here)."""

    qpos: np.ndarray
    new_look: bool = True


class SampleSource(Protocol):
    def initialize_shard(self, *, rng: np.random.Generator) -> None: ...

    def new_look(self) -> bool: ...

    def next(self, *, rng: np.random.Generator, acc: Acceptance) -> Configuration: ...


class IndependentSource:
    """Independent uniform draws, each accepted or rejected on its own; every sample gets a new look."""

    def __init__(self, scene: Scene, data: mujoco.MjData, *, feasibility: Feasibility | None = None,
                 require_visible: bool = False, max_draws_per_sample: int = 200):
        self.scene, self.data = scene, data
        self.feasibility = feasibility if feasibility is not None else Feasibility(scene, data)
        self.require_visible = require_visible
        self.max_draws = max_draws_per_sample

    def initialize_shard(self, *, rng: np.random.Generator) -> None:
        pass  # draws nothing: the configuration stream starts with the first sample's first draw

    def new_look(self) -> bool:
        return True

    def next(self, *, rng: np.random.Generator, acc: Acceptance) -> Configuration:
        scene, d, m, f = self.scene, self.data, self.scene.model, self.feasibility
        ix = scene.index
        lo, span = ix.arm_ranges[:, 0], ix.arm_ranges[:, 1] - ix.arm_ranges[:, 0]
        g_closed, g_span = ix.gripper_closed, ix.gripper_open - ix.gripper_closed
        n_arm = len(lo)
        for _ in range(self.max_draws):
            # One call for the arm joints and the gripper opening; the same numbers, in the same
            # order, as rng.uniform(lo, hi) then rng.uniform(0, 1), at a third of the cost.
            # An arm without a gripper draws the opening too and ignores it: one layout for every robot.
            u = rng.random(n_arm + 1)
            qpos = np.concatenate([lo + span * u[:n_arm], g_closed + float(u[n_arm]) * g_span])
            acc.drawn += 1
            set_qpos(scene, d, qpos=qpos, cameras=False)  # cameras only once accepted
            p_world = d.site_xpos[ix.tcp_site].copy()
            if not f.in_workspace(p_world):
                acc.rejected["workspace"] += 1
                continue
            if f.front_moves:
                mujoco.mj_camlight(m, d)
            if not f.in_front_view(p_world):
                acc.rejected["out_of_view"] += 1
                continue
            if f.in_collision():
                acc.rejected["collision"] += 1
                continue
            mujoco.mj_camlight(m, d)  # moving cameras (wrist) follow the arm
            if self.require_visible and not camera_label(scene, d, "front", p_tcp=p_world).ee_visible:
                acc.rejected["not_visible"] += 1
                continue
            acc.accepted += 1
            return Configuration(qpos=qpos)
        raise NoFeasibleConfiguration(
            f"robot {scene.robot.name}: no feasible configuration in {self.max_draws} draws "
            f"(rejected so far: {acc.rejected}); widen the workspace box, move the front camera, or raise sampling.max_draws_per_sample"
        )
