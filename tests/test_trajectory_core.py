"""statgen.core.trajectory against independent truth: finite differences, closed-form boundary values, scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from statgen.core import trajectory as tj


def test_min_jerk_boundary_conditions():
    # s(0)=0, s(1)=1, and rest with zero acceleration at both ends: what makes segments chain smoothly.
    assert tj.min_jerk(0.0) == 0.0 and tj.min_jerk(1.0) == 1.0
    for tau in (0.0, 1.0):
        assert abs(float(tj.min_jerk_d1(tau))) < 1e-12 and abs(float(tj.min_jerk_d2(tau))) < 1e-12
    # derivatives against central finite differences of s itself
    tau = np.linspace(0.01, 0.99, 99)
    h = 1e-5
    fd1 = (tj.min_jerk(tau + h) - tj.min_jerk(tau - h)) / (2 * h)
    fd2 = (tj.min_jerk(tau + h) - 2 * tj.min_jerk(tau) + tj.min_jerk(tau - h)) / h**2
    np.testing.assert_allclose(tj.min_jerk_d1(tau), fd1, atol=1e-7)
    np.testing.assert_allclose(tj.min_jerk_d2(tau), fd2, atol=1e-3)
    # the peaks used for time scaling, from a dense grid
    dense = np.linspace(0, 1, 200001)
    assert np.max(tj.min_jerk_d1(dense)) == pytest.approx(tj.MJ_PEAK_VEL, rel=1e-9)
    assert np.max(np.abs(tj.min_jerk_d2(dense))) == pytest.approx(tj.MJ_PEAK_ACC, rel=1e-6)


def _path(rng, n=7, k=4, limits=None):
    wps = rng.uniform(-2.5, 2.5, size=(k + 1, n))
    limits = limits or tj.JointLimits(tuple(rng.uniform(0.5, 2.5, n)), tuple(rng.uniform(2.0, 15.0, n)))
    durs = np.array([tj.min_duration(dq=wps[i + 1] - wps[i], limits=limits) for i in range(k)])
    return tj.JointPath(waypoints=wps, durations=durs), limits


def test_time_scaling_keeps_finite_difference_velocity_and_acceleration_within_limits_and_is_tight():
    rng = np.random.default_rng(3)
    for _ in range(5):
        path, lim = _path(rng)
        dt = 1e-4
        t = np.arange(0.0, path.end_time + dt, dt)
        q = path.position(t)
        v = np.diff(q, axis=0) / dt
        a = np.diff(q, 2, axis=0) / dt**2
        vmax, amax = np.asarray(lim.velocity), np.asarray(lim.acceleration)
        assert np.all(np.abs(v) <= vmax * (1 + 1e-6))
        assert np.all(np.abs(a) <= amax * (1 + 1e-3))
        # tight: on each segment some joint reaches (nearly) its velocity or acceleration limit
        ratio = np.maximum(np.abs(v[1:]) / vmax, np.abs(a) / amax).max(axis=1)
        assert ratio.max() > 0.99
        # the analytic derivatives agree with the finite differences (and are continuous across segments)
        np.testing.assert_allclose(path.velocity(t[:-1] + dt / 2), v, atol=1e-4 * vmax.max())
        # waypoints are reached at the segment boundaries, at rest
        ends = np.concatenate([[0.0], np.cumsum(path.durations)])
        np.testing.assert_allclose(path.position(ends), path.waypoints, atol=1e-12)
        assert np.abs(path.velocity(ends)).max() < 1e-9


def test_recorded_steps_bound_joint_steps_by_velocity_over_hz():
    # the verify check: |q(t+1/hz) - q(t)| <= v_max / hz, at the control rate, and second differences <= a_max
    rng = np.random.default_rng(5)
    path, lim = _path(rng, k=6)
    hz = 10.0
    t = tj.step_times(steps=int(path.end_time * hz), hz=hz)
    q = path.position(t)
    assert np.all(np.abs(np.diff(q, axis=0)) <= np.asarray(lim.velocity) / hz + 1e-12)
    assert np.all(np.abs(np.diff(q, 2, axis=0)) * hz**2 <= np.asarray(lim.acceleration) + 1e-9)


def test_path_holds_still_after_its_end():
    path, _ = _path(np.random.default_rng(1), k=2)
    q = path.position([path.end_time, path.end_time + 3.0])
    np.testing.assert_array_equal(q[0], q[1])
    np.testing.assert_allclose(q[0], path.waypoints[-1], atol=1e-12)


def test_default_limits_are_fractions_of_the_range():
    lim = tj.JointLimits.from_ranges(np.array([[-2.0, 2.0], [0.0, 1.0]]))
    assert lim.velocity == pytest.approx((4 * tj.DEFAULT_VEL_FRACTION, tj.DEFAULT_VEL_FRACTION))
    assert lim.acceleration == pytest.approx((4 * tj.DEFAULT_ACC_FRACTION, tj.DEFAULT_ACC_FRACTION))


def test_substep_times_cover_the_interval_finer_than_the_control_period():
    t = tj.substep_times(t0=0.3, t1=0.5, hz=10.0, substeps=4)
    assert t[0] == 0.3 and t[-1] == 0.5 and np.max(np.diff(t)) <= 1 / 40 + 1e-12


def test_gripper_moves_at_finite_speed_and_switches_between_ends():
    rng = np.random.default_rng(7)
    for _ in range(20):
        plan = tj.draw_gripper(rng=rng, duration=5.0, speed=2.0, switch_rate=0.8)
        dt = 1e-3
        t = np.arange(0, 5.0, dt)
        g = plan.fraction(t)
        assert np.all((g >= 0) & (g <= 1))
        assert np.all(np.abs(np.diff(g)) <= plan.speed * dt + 1e-12)  # finite speed
        if not plan.switches:
            assert np.all(g == plan.start)
    # hand-made: closed at 0.2, opens at 1 s at 2 /s: fully open 0.4 s later; closes again at 2 s
    plan = tj.GripperPlan(start=0.2, switches=(1.0, 2.0), speed=2.0)
    np.testing.assert_allclose(plan.fraction([0.5, 1.0, 1.2, 1.4, 1.9, 2.25, 2.6]), [0.2, 0.2, 0.6, 1.0, 1.0, 0.5, 0.0], atol=1e-12)


def test_action_delta_rotvec_matches_scipy():
    rng = np.random.default_rng(11)
    for _ in range(50):
        r0, r1 = Rotation.random(random_state=rng), Rotation.random(random_state=rng)
        q0, q1 = r0.as_quat(scalar_first=True), r1.as_quat(scalar_first=True)
        d = tj.action_delta(ee_pos=np.zeros(3), ee_quat_wxyz=q0, gripper_open_fraction=0.25,
                            next_pos=np.array([1.0, 2.0, 3.0]), next_quat_wxyz=q1, next_gripper_open_fraction=1.0)
        np.testing.assert_allclose(d["rotvec"], (r0.inv() * r1).as_rotvec(), atol=1e-7)
        assert d["pos"] == [1.0, 2.0, 3.0] and d["gripper"] == 0.75
    # near pi
    r0 = Rotation.identity()
    r1 = Rotation.from_rotvec([0, np.pi - 1e-9, 0])
    d = tj.action_delta(ee_pos=np.zeros(3), ee_quat_wxyz=r0.as_quat(scalar_first=True), gripper_open_fraction=0,
                        next_pos=np.zeros(3), next_quat_wxyz=r1.as_quat(scalar_first=True), next_gripper_open_fraction=0)
    assert np.linalg.norm(d["rotvec"]) == pytest.approx(np.pi, abs=1e-6)
