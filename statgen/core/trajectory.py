"""Trajectory mode's pure parts (no MuJoCo, no I/O): the time profile between two waypoints, the time
scaling that keeps joint velocity and acceleration within limits, the gripper's opening over time at
a finite speed, and the action (the next step's target) with its delta to the current state.

A segment joins two joint-space waypoints q0 -> q1 in a duration T [s] with the minimum-jerk
profile s(tau) = 10 tau^3 - 15 tau^4 + 6 tau^5, tau = t / T in [0, 1]: it starts and ends at rest
with zero acceleration, so segments chain rest-to-rest and the whole path is twice continuously
differentiable. Its peaks are known in closed form:

    max |ds/dtau|     = 15/8              (at tau = 1/2)
    max |d2s/dtau2|   = 10 / sqrt(3)      (at tau = 1/2 -+ sqrt(3)/6)

so joint j moves at most |dq_j| 15/8 / T [rad/s] and accelerates at most |dq_j| 10/sqrt(3) / T^2
[rad/s^2]; `min_duration` returns the shortest T that keeps both within limits.

Sampled at the control rate hz, the joint step between two recorded steps is the integral of the
velocity over 1/hz, so |q(t + 1/hz) - q(t)| <= v_max / hz exactly, and the second difference
divided by (1/hz)^2 is an average of the acceleration, so it is within a_max too: verify and the
tests check those bounds on the stored qpos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MJ_PEAK_VEL = 15.0 / 8.0  # max ds/dtau of the minimum-jerk profile
MJ_PEAK_ACC = 10.0 / np.sqrt(3.0)  # max |d2s/dtau2|

# Default limits when a robot declares none: fractions of each joint's range per second (per second squared).
# 0.35 range/s lets a 5.8 rad joint (the Panda's first) move at 2.0 rad/s, under the Panda's datasheet
# 2.175 rad/s; an arm with narrower ranges gets proportionally slower joints, which keeps the image-to-image
# change of a step similar across robots. 1.0 range/s^2 (5.8 rad/s^2 on the Panda's first joint, datasheet 15).
DEFAULT_VEL_FRACTION = 0.35  # [1/s]
DEFAULT_ACC_FRACTION = 1.0  # [1/s^2]


def min_jerk(tau: np.ndarray | float) -> np.ndarray:
    """s(tau) in [0, 1] for tau clipped to [0, 1] (tau = t / T)."""
    t = np.clip(np.asarray(tau, dtype=float), 0.0, 1.0)
    return t**3 * (10.0 + t * (-15.0 + 6.0 * t))


def min_jerk_d1(tau: np.ndarray | float) -> np.ndarray:
    """ds/dtau (0 outside [0, 1])."""
    t = np.asarray(tau, dtype=float)
    v = 30.0 * t**2 * (1.0 - t) ** 2
    return np.where((t < 0) | (t > 1), 0.0, v)


def min_jerk_d2(tau: np.ndarray | float) -> np.ndarray:
    """d2s/dtau2 (0 outside [0, 1])."""
    t = np.asarray(tau, dtype=float)
    a = 60.0 * t * (1.0 - t) * (1.0 - 2.0 * t)
    return np.where((t < 0) | (t > 1), 0.0, a)


@dataclass(frozen=True, slots=True)
class JointLimits:
    """Per-joint velocity [rad/s or m/s] and acceleration [rad/s^2 or m/s^2] limits, each (n,) and > 0."""

    velocity: tuple[float, ...]
    acceleration: tuple[float, ...]

    @classmethod
    def from_ranges(cls, ranges: np.ndarray, *, vel_fraction: float = DEFAULT_VEL_FRACTION,
                    acc_fraction: float = DEFAULT_ACC_FRACTION) -> JointLimits:
        """Defaults from the joint ranges (n, 2) [rad or m]: fractions of each range per second (squared)."""
        span = np.asarray(ranges, dtype=float)[:, 1] - np.asarray(ranges, dtype=float)[:, 0]
        return cls(tuple(float(x) for x in vel_fraction * span), tuple(float(x) for x in acc_fraction * span))


def min_duration(*, dq: np.ndarray, limits: JointLimits) -> float:
    """The shortest minimum-jerk duration T [s] moving every joint by dq (n,) [rad or m] within the limits."""
    d = np.abs(np.asarray(dq, dtype=float))
    v, a = np.asarray(limits.velocity), np.asarray(limits.acceleration)
    return float(max(np.max(MJ_PEAK_VEL * d / v, initial=0.0), np.max(np.sqrt(MJ_PEAK_ACC * d / a), initial=0.0)))


@dataclass(frozen=True, slots=True)
class JointPath:
    """Rest-to-rest minimum-jerk segments through waypoints (k + 1, n), with durations (k,) [s], starting at t = 0.
    Beyond the last waypoint's time it holds still there."""

    waypoints: np.ndarray
    durations: np.ndarray

    @property
    def end_time(self) -> float:
        return float(np.sum(self.durations))

    def _locate(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        starts = np.concatenate([[0.0], np.cumsum(self.durations)])
        if len(self.durations) == 0:
            return np.zeros(len(t), dtype=int), np.ones(len(t))
        seg = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(self.durations) - 1)
        tau = (t - starts[seg]) / self.durations[seg]
        return seg, tau

    def position(self, t: np.ndarray | float) -> np.ndarray:
        """q at times t (m,) [s] -> (m, n)."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        if len(self.durations) == 0:
            return np.repeat(self.waypoints[:1], len(t), axis=0)
        seg, tau = self._locate(t)
        q0, q1 = self.waypoints[seg], self.waypoints[seg + 1]
        return q0 + (q1 - q0) * min_jerk(tau)[:, None]

    def velocity(self, t: np.ndarray | float) -> np.ndarray:
        """dq/dt at times t (m,) -> (m, n) [rad/s]."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        if len(self.durations) == 0:
            return np.zeros((len(t), self.waypoints.shape[1]))
        seg, tau = self._locate(t)
        dq = self.waypoints[seg + 1] - self.waypoints[seg]
        return dq * (min_jerk_d1(tau) / self.durations[seg])[:, None]

    def acceleration(self, t: np.ndarray | float) -> np.ndarray:
        """d2q/dt2 at times t (m,) -> (m, n) [rad/s^2]."""
        t = np.atleast_1d(np.asarray(t, dtype=float))
        if len(self.durations) == 0:
            return np.zeros((len(t), self.waypoints.shape[1]))
        seg, tau = self._locate(t)
        dq = self.waypoints[seg + 1] - self.waypoints[seg]
        return dq * (min_jerk_d2(tau) / self.durations[seg] ** 2)[:, None]


def step_times(*, steps: int, hz: float) -> np.ndarray:
    """The recorded steps' times (steps,) [s]: k / hz."""
    return np.arange(steps, dtype=float) / hz


def substep_times(*, t0: float, t1: float, hz: float, substeps: int) -> np.ndarray:
    """Times in [t0, t1] [s] at which a path is checked: every 1 / (hz * substeps), both ends included."""
    n = max(1, int(np.ceil((t1 - t0) * hz * substeps - 1e-9)))
    return np.linspace(t0, t1, n + 1)


# --------------------------------------------------------------------------- the gripper


@dataclass(frozen=True, slots=True)
class GripperPlan:
    """The gripper's opening fraction over an episode: it starts at `start` (0 closed .. 1 open) and, at each
    switch time [s] (ascending), heads for the other end (fully open or fully closed) at `speed` [fraction/s]."""

    start: float
    switches: tuple[float, ...]
    speed: float

    def fraction(self, t: np.ndarray | float) -> np.ndarray:
        """The opening fraction at times t (m,) [s]: piecewise linear, its slope at most `speed`."""
        return np.array([self._at(float(ti)) for ti in np.atleast_1d(np.asarray(t, dtype=float))])

    def _at(self, t: float) -> float:
        g, prev, target = self.start, 0.0, self.start  # before the first switch the gripper holds its start
        for k, s in enumerate(self.switches):
            if s >= t:
                break
            g = _approach(g, target, self.speed * (s - prev))
            # the first switch heads for the far end; each later one for the other end than the last
            target = (1.0 if self.start < 0.5 else 0.0) if k == 0 else 1.0 - target
            prev = s
        return _approach(g, target, self.speed * (t - prev))


def _approach(g: float, target: float, dist: float) -> float:
    """g moved by at most dist towards target."""
    return min(g + dist, target) if target > g else max(g - dist, target)


def draw_gripper(*, rng: np.random.Generator, duration: float, speed: float, switch_rate: float) -> GripperPlan:
    """A random gripper plan over [0, duration] [s]: a uniform start, switch times of a Poisson process with
    `switch_rate` [1/s] (3 draws plus one per switch, from `rng`)."""
    start = float(rng.random())
    count = int(rng.poisson(switch_rate * duration))
    switches = tuple(float(x) for x in np.sort(rng.uniform(0.0, duration, size=count)))
    return GripperPlan(start=start, switches=switches, speed=speed)


# --------------------------------------------------------------------------- actions


def rotvec_from_R(R: np.ndarray) -> np.ndarray:
    """The rotation vector (3,) [rad] of a rotation matrix (axis times angle, angle in [0, pi])."""
    c = np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0)
    angle = float(np.arccos(c))
    if angle < 1e-12:
        return np.zeros(3)
    if np.pi - angle < 1e-6:  # near pi: the axis from the diagonal
        k = int(np.argmax(np.diag(R)))
        axis = R[:, k] + np.eye(3)[k]
        axis /= np.linalg.norm(axis)
        return axis * angle
    w = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / (2.0 * np.sin(angle))
    return w * angle


def quat_wxyz_to_R(q: np.ndarray) -> np.ndarray:
    w, x, y, z = (float(v) for v in np.asarray(q) / np.linalg.norm(q))
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def action_delta(*, ee_pos: np.ndarray, ee_quat_wxyz: np.ndarray, gripper_open_fraction: float,
                 next_pos: np.ndarray, next_quat_wxyz: np.ndarray, next_gripper_open_fraction: float) -> dict[str, list[float] | float]:
    """The delta from the current state to the action (both in the base frame).

    pos [m]: next minus current. rotvec [rad]: the rotation vector of R_cur^T R_next, i.e. the rotation
    from the current end-effector frame to the next one, in the current end-effector frame; unlike an
    euler difference it has no wrap-around at +-pi and no gimbal lock. gripper: the opening fraction's change.
    """
    R0, R1 = quat_wxyz_to_R(ee_quat_wxyz), quat_wxyz_to_R(next_quat_wxyz)
    return {"pos": (np.asarray(next_pos, dtype=float) - np.asarray(ee_pos, dtype=float)).tolist(),
            "rotvec": rotvec_from_R(R0.T @ R1).tolist(),
            "gripper": float(next_gripper_open_fraction) - float(gripper_open_fraction)}
