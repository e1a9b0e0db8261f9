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

TrajectorySource records random-action episodes (README, "Trajectories"): at an episode's first
step it plans the whole episode in the scene as it is (statgen.core.trajectory): a feasible start,
then random feasible joint-space waypoints joined by minimum-jerk segments no faster than the
joint limits allow, and a gripper that opens and closes at random times at a finite speed. A
segment is kept only when every recorded step on it passes the Feasibility tests and every
substep (check_substeps per control period) is collision-free; otherwise its waypoint is drawn
again (counted under its reason). Then each next() returns the episode's next recorded step. In trajectory mode the acceptance
counts are per waypoint (the start included): drawn, accepted, and rejected by the first test a
recorded step or substep of its segment failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import mujoco
import numpy as np

from statgen.core import trajectory as tj
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
    step: int | None = None  # trajectories: the step within its episode


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


class TrajectorySource:
    """Random-action episodes of `steps` steps at `hz` (see the module's docstring); a new look per episode."""

    def __init__(self, scene: Scene, data: mujoco.MjData, *, settings, limits: tj.JointLimits, feasibility: Feasibility | None = None,
                 require_visible: bool = False, max_draws_per_sample: int = 200):
        """settings: config.TrajectorySettings (hz, steps, segment_s, check_substeps, gripper_speed, gripper_switch_rate);
        limits: the arm joints' velocity and acceleration limits."""
        self.scene, self.data = scene, data
        self.feasibility = feasibility if feasibility is not None else Feasibility(scene, data)
        self.require_visible = require_visible
        self.max_draws = max_draws_per_sample
        self.settings, self.limits = settings, limits
        self.planned: np.ndarray | None = None  # (steps, n_arm + n_grip) of the episode being recorded
        self.step = 0
        self.last_path: tj.JointPath | None = None  # the last episode's arm plan and gripper plan (for tests and bench)
        self.last_gripper: tj.GripperPlan | None = None

    def initialize_shard(self, *, rng: np.random.Generator) -> None:
        self.planned, self.step = None, 0  # a shard starts with a new episode

    def new_look(self) -> bool:
        return self.planned is None

    def next(self, *, rng: np.random.Generator, acc: Acceptance) -> Configuration:
        if self.planned is None:
            self.planned, self.step = self.plan(rng=rng, acc=acc), 0
        step = self.step
        qpos = self.planned[step]
        set_qpos(self.scene, self.data, qpos=qpos)
        self.step += 1
        if self.step == len(self.planned):
            self.planned = None
        return Configuration(qpos=qpos, new_look=step == 0, step=step)

    # ------------------------------------------------------------------ planning

    def _gripper_qpos(self, frac: np.ndarray) -> np.ndarray:
        ix = self.scene.index
        return ix.gripper_closed + np.asarray(frac)[:, None] * (ix.gripper_open - ix.gripper_closed)

    def _feasible(self, qpos: np.ndarray, acc: Acceptance, *, full: bool) -> bool:
        """qpos passes the tests (full: all of IndependentSource's; else collision only); a failure is counted."""
        scene, d, f = self.scene, self.data, self.feasibility
        set_qpos(scene, d, qpos=qpos, cameras=False)
        if full:
            p_world = d.site_xpos[scene.index.tcp_site].copy()
            if not f.in_workspace(p_world):
                acc.rejected["workspace"] += 1
                return False
            if f.front_moves:
                mujoco.mj_camlight(scene.model, d)
            if not f.in_front_view(p_world):
                acc.rejected["out_of_view"] += 1
                return False
        if f.in_collision():
            acc.rejected["collision"] += 1
            return False
        if full and self.require_visible:
            mujoco.mj_camlight(scene.model, d)
            if not camera_label(scene, d, "front", p_tcp=d.site_xpos[scene.index.tcp_site].copy()).ee_visible:
                acc.rejected["not_visible"] += 1
                return False
        return True

    def segment_ok(self, *, path: tj.JointPath, t0: float, t1: float, grip: tj.GripperPlan | None, acc: Acceptance,
                   substeps: int | None = None) -> bool:
        """Whether the path is feasible over [t0, t1] [s]: full tests at the recorded steps in (t0, t1], collision at
        substeps between them (substeps=1: the recorded steps only)."""
        st = self.settings
        hz = float(st.hz)
        k = np.arange(int(np.floor(t0 * hz + 1e-9)) + 1, int(np.floor(t1 * hz + 1e-9)) + 1)
        rec = k / hz
        sub = tj.substep_times(t0=t0, t1=t1, hz=hz, substeps=substeps if substeps is not None else st.check_substeps)
        sub = sub[1:]  # t0 itself was checked with the previous segment (or as the start)
        sub = sub[np.min(np.abs(sub[:, None] - rec[None, :]), axis=1) > 1e-9] if len(rec) else sub
        times = np.concatenate([rec, sub])
        full = np.concatenate([np.ones(len(rec), bool), np.zeros(len(sub), bool)])
        q = np.concatenate([path.position(times), self._grip_at(grip, times)], axis=1)
        return all(self._feasible(q[i], acc, full=bool(full[i])) for i in range(len(times)))

    def _grip_at(self, grip: tj.GripperPlan | None, times: np.ndarray) -> np.ndarray:
        if not len(self.scene.index.gripper_qpos):
            return np.zeros((len(times), 0))
        return self._gripper_qpos(grip.fraction(times))

    def _draw_arm(self, rng: np.random.Generator) -> np.ndarray:
        ix = self.scene.index
        lo, span = ix.arm_ranges[:, 0], ix.arm_ranges[:, 1] - ix.arm_ranges[:, 0]
        return lo + span * rng.random(len(lo))

    def plan(self, *, rng: np.random.Generator, acc: Acceptance) -> np.ndarray:
        """The episode's recorded qpos (steps, n_arm + n_grip), planned in the scene as it is now. Draws from rng:
        the gripper plan, the start (until feasible), then per waypoint its joints and its duration."""
        st, scene = self.settings, self.scene
        hz, steps = float(st.hz), int(st.steps)
        T_end = (steps - 1) / hz
        grip = tj.draw_gripper(rng=rng, duration=T_end, speed=st.gripper_speed, switch_rate=st.gripper_switch_rate)
        g0 = self._grip_at(grip, np.zeros(1))[0]
        for _ in range(self.max_draws):
            q0 = self._draw_arm(rng)
            acc.drawn += 1
            if self._feasible(np.concatenate([q0, g0]), acc, full=True):
                acc.accepted += 1
                break
        else:
            raise self._none(acc, "an episode's start")
        wps, durs, t = [q0], [], 0.0
        while t < T_end - 1e-12:
            for _ in range(self.max_draws):
                q1 = self._draw_arm(rng)
                T = max(tj.min_duration(dq=q1 - wps[-1], limits=self.limits), float(rng.uniform(*st.segment_s)))
                acc.drawn += 1
                path = tj.JointPath(waypoints=np.array([wps[-1], q1]), durations=np.array([T]))
                shifted = _Shifted(path, t)
                if self.segment_ok(path=shifted, t0=t, t1=min(t + T, T_end), grip=grip, acc=acc):
                    acc.accepted += 1
                    wps.append(q1)
                    durs.append(T)
                    t += T
                    break
            else:  # no waypoint works from here: hold still to the episode's end if the gripper's motion allows it
                hold = tj.JointPath(waypoints=np.array([wps[-1], wps[-1]]), durations=np.array([T_end - t]))
                if not self.segment_ok(path=_Shifted(hold, t), t0=t, t1=T_end, grip=grip, acc=acc):
                    raise self._none(acc, "an episode's next waypoint")
                wps.append(wps[-1])
                durs.append(T_end - t)
                t = T_end
        self.last_path = tj.JointPath(waypoints=np.array(wps), durations=np.array(durs))
        self.last_gripper = grip
        times = tj.step_times(steps=steps, hz=hz)
        return np.concatenate([self.last_path.position(times), self._grip_at(grip, times)], axis=1)

    def _none(self, acc: Acceptance, what: str) -> NoFeasibleConfiguration:
        return NoFeasibleConfiguration(
            f"robot {self.scene.robot.name}: no feasible {what} in {self.max_draws} draws (rejected so far: {acc.rejected}); "
            "widen the workspace box, move the front camera, lower trajectory.segment_s, or raise sampling.max_draws_per_sample")


class _Shifted:
    """A path whose time 0 is at `t0` of the episode."""

    def __init__(self, path: tj.JointPath, t0: float):
        self.path, self.t0 = path, t0

    def position(self, t: np.ndarray) -> np.ndarray:
        return self.path.position(np.asarray(t) - self.t0)
