"""Coupled grippers (statgen.sim.grippers): the Robotiq 2F-85 alone and on a UR5e, the WidowX AI.

Independent truths:
- constraint residuals recomputed here from body poses and qpos (the connect anchors'
  world distance, joint-equality polynomials), not from MuJoCo's efc_pos that the solver
  iterates on;
- the rendered fingers against a *simulation*: the gripper's own actuator drives it and
  MuJoCo's constraint dynamics settle the linkage (gravity and dry friction off); the finger masks of the
  solver's state and of the settled state must match, and the naive state (drivers set,
  the rest left alone) must not;
- the fingertip distance along the opening.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import mujoco
import numpy as np
import pytest

from statgen.core.geometry import R_to_quat_wxyz, look_at_R
from statgen.errors import ConfigError
from statgen.sim.assets import attach_resolved, resolve_model_file
from statgen.sim.compose import attach_gripper
from statgen.sim.grippers import TABLE_TOLERANCE, GripperSolver, equality_residuals

MENAGERIE = Path(os.environ.get("MENAGERIE_ROOT", Path(__file__).resolve().parents[2] / "shared/assets/menagerie"))
F85 = MENAGERIE / "robotiq_2f85" / "2f85.xml"
UR5E = MENAGERIE / "universal_robots_ur5e" / "ur5e.xml"
WXAI = MENAGERIE / "trossen_wxai" / "wxai_follower.xml"
PANDA = MENAGERIE / "franka_emika_panda" / "panda.xml"
needs_models = pytest.mark.skipif(not (F85.is_file() and WXAI.is_file() and UR5E.is_file()), reason=f"models not found under {MENAGERIE}")

# The driver value at which the 2F-85's pads touch (inner faces of pad1 meet). The model's
# joint limit, 0.8, lets them pass through each other by 2.5 mm: "closed" is 0.779.
F85_CLOSED = 0.779
CONNECT_TOL = TABLE_TOLERANCE  # m: connect anchors after table interpolation
JOINT_EQ_TOL = 1e-9  # rad or m: linear joint couplings are exact under interpolation
SIZE = 160


def f85_solver_args(p: str = "") -> dict:
    return dict(
        driver_joints=[f"{p}right_driver_joint", f"{p}left_driver_joint"], closed=[F85_CLOSED, F85_CLOSED], open=[0.0, 0.0],
        held={f"{p}right_coupler_joint": 0.0, f"{p}left_coupler_joint": 0.0},
        coupled_joints=[f"{p}right_spring_link_joint", f"{p}right_follower_joint", f"{p}left_spring_link_joint", f"{p}left_follower_joint"],
    )


@dataclass
class Case:
    model: mujoco.MjModel
    solver_args: dict
    fingers: list[str]  # bodies whose geoms are the moving fingers
    tips: list[tuple[str, tuple[float, float, float]]]  # the two fingertip points (body, pos in body)
    actuator: str
    ctrl_of: callable  # driver target -> ctrl
    driver: str
    hold: list[str] = field(default_factory=list)  # arm joints held still in the simulation
    keep: list = field(default_factory=list)  # specs to keep alive


def _camera(body: mujoco.MjsBody, eye, target, up) -> None:
    R = look_at_R(eye=np.array(eye, float), target=np.array(target, float), up=np.array(up, float))
    body.add_camera(name="test/cam", pos=list(eye), quat=list(R_to_quat_wxyz(R)), fovy=50.0)


def _f85_parts(p: str) -> dict:
    sides = ("right", "left")
    return dict(
        fingers=[f"{p}{s}_{b}" for s in sides for b in ("driver", "coupler", "spring_link", "follower", "pad", "silicone_pad")],
        tips=[(f"{p}right_pad", (0.0, -0.0066, 0.028125)), (f"{p}left_pad", (0.0, -0.0066, 0.028125))],
        actuator=f"{p}fingers_actuator", ctrl_of=lambda d: d / (0.3137255 / 100.0), driver=f"{p}right_driver_joint",
    )


def build_case(name: str) -> Case:
    if name == "2f85":
        spec = mujoco.MjSpec.from_file(str(F85))
        _camera(spec.body("base"), (0.25, 0.0, 0.11), (0.0, 0.0, 0.11), (0.0, 0.0, 1.0))
        spec.worldbody.add_light(pos=[0, 0, 1], dir=[0, 0, -1])
        return Case(model=spec.compile(), solver_args=f85_solver_args(), **_f85_parts(""))
    if name == "ur5e+2f85":  # attached the way the research does it: at attachment_site, prefix gripper/
        both = attach_resolved(resolve_model_file(UR5E, robot="ur5e"), resolve_model_file(F85, robot="2f85"), namespace="robotiq_2f85")
        spec = mujoco.MjSpec.from_string(both.text(both.main_file), assets=both.assets)
        child = mujoco.MjSpec.from_string(both.text(both.attach_files[-1]), assets=both.assets)
        attach_gripper(spec, child, gripper_body="base_mount", prefix="gripper/", parent_site="attachment_site")
        _camera(spec.body("gripper/base"), (0.25, 0.0, 0.11), (0.0, 0.0, 0.11), (0.0, 0.0, 1.0))
        arm = ["shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint", "wrist_2_joint", "wrist_3_joint"]
        return Case(model=spec.compile(), solver_args=f85_solver_args("gripper/"), hold=arm, keep=[child], **_f85_parts("gripper/"))
    if name == "wxai":
        spec = mujoco.MjSpec.from_file(str(WXAI))
        _camera(spec.body("link_6"), (0.13, 0.0, 0.22), (0.13, 0.0, 0.0), (1.0, 0.0, 0.0))
        return Case(
            model=spec.compile(),
            solver_args=dict(driver_joints=["left_carriage_joint"], closed=[0.0], open=[0.044], coupled_joints=["right_carriage_joint"]),
            fingers=["carriage_left", "carriage_right"],
            tips=[("carriage_left", (0.0605, -0.023, 0.0)), ("carriage_right", (0.0605, 0.023, 0.0))],
            actuator="left_gripper", ctrl_of=lambda d: d, driver="left_carriage_joint",
            hold=[f"joint_{i}" for i in range(6)],
        )
    raise KeyError(name)


CASES = ["2f85", "ur5e+2f85", "wxai"]


def arm_pose(case: Case, data: mujoco.MjData, seed: int = 5) -> None:
    rng = np.random.default_rng(seed)
    m = case.model
    for j in case.hold:
        jid = m.joint(j).id
        lo, hi = m.jnt_range[jid] if m.jnt_limited[jid] else (-np.pi, np.pi)
        data.qpos[m.jnt_qposadr[jid]] = rng.uniform(lo, hi)


def independent_residuals(m: mujoco.MjModel, d: mujoco.MjData) -> tuple[float, float]:
    """(worst connect-anchor distance [m], worst joint-equality error), from poses and qpos only."""
    connect, joint = 0.0, 0.0
    for e in range(m.neq):
        if not m.eq_active0[e]:
            continue
        if m.eq_type[e] == mujoco.mjtEq.mjEQ_CONNECT and m.eq_objtype[e] == mujoco.mjtObj.mjOBJ_BODY:
            b1, b2 = m.eq_obj1id[e], m.eq_obj2id[e]
            p1 = d.xmat[b1].reshape(3, 3) @ m.eq_data[e, 0:3] + d.xpos[b1]
            p2 = d.xmat[b2].reshape(3, 3) @ m.eq_data[e, 3:6] + d.xpos[b2]
            connect = max(connect, float(np.linalg.norm(p1 - p2)))
        elif m.eq_type[e] == mujoco.mjtEq.mjEQ_JOINT:
            j1, j2 = m.eq_obj1id[e], m.eq_obj2id[e]
            q1 = d.qpos[m.jnt_qposadr[j1]] - m.qpos0[m.jnt_qposadr[j1]]
            q2 = d.qpos[m.jnt_qposadr[j2]] - m.qpos0[m.jnt_qposadr[j2]] if j2 >= 0 else 0.0
            c = m.eq_data[e, :5]
            joint = max(joint, abs(q1 - (c[0] + c[1] * q2 + c[2] * q2**2 + c[3] * q2**3 + c[4] * q2**4)))
    return connect, joint


def tip_width(case: Case, d: mujoco.MjData) -> float:
    m = case.model
    pts = [d.xmat[m.body(b).id].reshape(3, 3) @ np.array(p) + d.xpos[m.body(b).id] for b, p in case.tips]
    return float(np.linalg.norm(pts[0] - pts[1]))


@needs_models
@pytest.mark.parametrize("name", CASES)
def test_constraints_hold_at_every_opening(name):
    case = build_case(name)
    m = case.model
    solver = GripperSolver.from_model(m, **case.solver_args)
    d = mujoco.MjData(m)
    arm_pose(case, d)
    openings = np.concatenate([np.linspace(0.0, 1.0, 11), np.random.default_rng(1).random(40)])
    worst_connect, worst_joint = 0.0, 0.0
    for f in openings:
        solver.apply(d, f)
        mujoco.mj_kinematics(m, d)
        c, j = independent_residuals(m, d)
        worst_connect, worst_joint = max(worst_connect, c), max(worst_joint, j)
        assert equality_residuals(m, d.qpos, joints=solver.joints).max() < CONNECT_TOL
    assert worst_connect < CONNECT_TOL, f"connect anchors {worst_connect:.2e} m apart"
    assert worst_joint < JOINT_EQ_TOL, f"joint equality off by {worst_joint:.2e}"
    # The check bites: the drivers alone (the rest left at qpos0) violate the same constraints.
    d.qpos[:] = m.qpos0
    arm_pose(case, d)
    n = solver.n_driver
    d.qpos[solver.qpos_adr[:n]] = solver.qpos(0.5)[:n]
    mujoco.mj_kinematics(m, d)
    assert max(independent_residuals(m, d)) > 1e-3


def _finger_mask(seg: np.ndarray, finger_geoms: np.ndarray) -> np.ndarray:
    ids, kind = seg[..., 0], seg[..., 1]
    is_geom = (kind == int(mujoco.mjtObj.mjOBJ_GEOM)) & (ids >= 0)
    mask = np.zeros(ids.shape, bool)
    mask[is_geom] = finger_geoms[ids[is_geom]]
    return mask


def settle(case: Case, f: float, q_arm: np.ndarray) -> np.ndarray:
    """qpos after the gripper's actuator drives it to opening f and the dynamics settle (no gravity)."""
    m = case.model
    lo, hi = case.solver_args["closed"][0], case.solver_args["open"][0]
    d = mujoco.MjData(m)
    d.qpos[:] = q_arm
    d.ctrl[m.actuator(case.actuator).id] = case.ctrl_of(lo + f * (hi - lo))
    hold = np.array([m.joint(j).qposadr[0] for j in case.hold], dtype=int)
    hold_v = np.array([m.joint(j).dofadr[0] for j in case.hold], dtype=int)
    for step in range(6000):
        mujoco.mj_step(m, d)
        d.qpos[hold], d.qvel[hold_v] = q_arm[hold], 0.0
        if step > 500 and np.abs(d.qvel).max() < 1e-7:
            break
    return d.qpos.copy()


@needs_models
@pytest.mark.parametrize("name", CASES)
def test_rendered_fingers_match_a_settled_simulation(name):
    case = build_case(name)
    m = case.model
    # Free space, and no dry friction: the WidowX AI's carriages have frictionloss, which
    # holds the follower 1.7 mm short of its equality target in a quasi-static settle.
    m.opt.gravity[:] = 0.0
    m.dof_frictionloss[:] = 0.0
    held = [m.joint(j).id for j in case.hold]  # the arm: no actuator forces, held still in settle()
    arm_act = (m.actuator_trntype == int(mujoco.mjtTrn.mjTRN_JOINT)) & np.isin(m.actuator_trnid[:, 0], held)
    m.actuator_gainprm[arm_act] = 0.0
    m.actuator_biasprm[arm_act] = 0.0
    solver = GripperSolver.from_model(m, **case.solver_args)
    finger_bodies = {m.body(b).id for b in case.fingers}
    finger_geoms = np.isin(m.geom_bodyid, list(finger_bodies)) & (m.geom_group <= 2)
    d = mujoco.MjData(m)
    arm_pose(case, d)
    q_arm = d.qpos.copy()
    drv = m.joint(case.driver).qposadr[0]
    lo, hi = case.solver_args["closed"][0], case.solver_args["open"][0]
    states = []  # (settled, solver, naive) qpos per opening
    for f in (0.1, 0.35, 0.6, 0.9):
        q_sim = settle(case, f, q_arm)
        f_sim = float((q_sim[drv] - lo) / (hi - lo))  # the opening the simulation reached
        d.qpos[:] = q_arm
        solver.apply(d, f_sim)
        q_solved = d.qpos.copy()
        d.qpos[:] = q_arm
        n = solver.n_driver
        d.qpos[solver.qpos_adr[:n]] = solver.qpos(f_sim)[:n]
        states.append((f_sim, q_sim, q_solved, d.qpos.copy()))
    renderer = mujoco.Renderer(m, height=SIZE, width=SIZE)
    try:
        renderer.enable_segmentation_rendering()
        results = []
        for f_sim, *qs in states:
            masks, widths = [], []
            for q in qs:
                d.qpos[:] = q
                mujoco.mj_forward(m, d)
                renderer.update_scene(d, camera="test/cam")
                masks.append(_finger_mask(renderer.render(), finger_geoms))
                widths.append(tip_width(case, d))
            results.append((f_sim, masks, widths))
    finally:
        renderer.close()
    naive_bad = 0
    for f_sim, (sim, solved, naive), (w_sim, w_solved, _) in results:
        assert sim.sum() > 200, f"the camera must see the fingers (opening {f_sim:.2f})"
        iou = (sim & solved).sum() / (sim | solved).sum()
        iou_naive = (sim & naive).sum() / (sim | naive).sum()
        assert iou > 0.98, f"opening {f_sim:.2f}: finger IoU solver vs settled simulation {iou:.4f}"
        assert abs(w_sim - w_solved) < 0.5e-3, f"opening {f_sim:.2f}: width {w_solved * 1e3:.2f} mm, simulated {w_sim * 1e3:.2f} mm"
        naive_bad += iou_naive < 0.95
    assert naive_bad >= 2, "the naive state should render differently from the settled one"


@needs_models
@pytest.mark.parametrize("name, closed_mm, open_mm", [("2f85", (0.0, 0.05), (85.0, 86.0)), ("ur5e+2f85", (0.0, 0.05), (85.0, 86.0)), ("wxai", (0.0, 0.5), (87.5, 88.5))])
def test_fingertip_distance_is_monotone_and_spans_closed_to_open(name, closed_mm, open_mm):
    case = build_case(name)
    m = case.model
    solver = GripperSolver.from_model(m, **case.solver_args)
    d = mujoco.MjData(m)
    arm_pose(case, d)
    widths = []
    for f in np.linspace(0.0, 1.0, 41):
        solver.apply(d, f)
        mujoco.mj_kinematics(m, d)
        widths.append(tip_width(case, d) * 1e3)
    assert np.all(np.diff(widths) > 0), np.round(widths, 2)
    assert closed_mm[0] <= widths[0] <= closed_mm[1]
    assert open_mm[0] <= widths[-1] <= open_mm[1]


@needs_models
def test_apply_drivers_keeps_stored_driver_values_and_fills_the_linkage():
    case = build_case("2f85")
    m = case.model
    solver = GripperSolver.from_model(m, **case.solver_args)
    d = mujoco.MjData(m)
    for f in np.random.default_rng(4).random(20):
        q_drv = solver.qpos(f)[: solver.n_driver]
        d.qpos[:] = 0.0
        solver.apply_drivers(d, q_drv)
        np.testing.assert_array_equal(d.qpos[solver.qpos_adr[: solver.n_driver]], q_drv)  # bit for bit
        mujoco.mj_kinematics(m, d)
        assert independent_residuals(m, d)[0] < CONNECT_TOL
        assert solver.fraction(q_drv) == pytest.approx(f, abs=1e-12)


@pytest.mark.skipif(not PANDA.is_file(), reason=f"no Panda at {PANDA}")
def test_uncoupled_grippers_get_the_samplers_linear_values_bit_for_bit():
    m = mujoco.MjModel.from_xml_path(str(PANDA))
    closed, open_ = np.array([0.0, 0.0]), np.array([0.04, 0.04])
    solver = GripperSolver.from_model(m, driver_joints=["finger_joint1", "finger_joint2"], closed=closed, open=open_)
    for f in np.random.default_rng(0).random(100):
        np.testing.assert_array_equal(solver.qpos(f), closed + f * (open_ - closed))


@needs_models
def test_bad_gripper_input():
    m = mujoco.MjModel.from_xml_path(str(F85))
    with pytest.raises(ConfigError, match="driver joint 'nope' is not in the model; valid joints: right_driver_joint"):
        GripperSolver.from_model(m, driver_joints=["nope"], closed=[0.8], open=[0.0])
    with pytest.raises(ConfigError, match="add left_driver_joint to the gripper joints"):
        GripperSolver.from_model(m, driver_joints=["right_driver_joint"], closed=[0.8], open=[0.0])
    with pytest.raises(ConfigError, match="expected 2 closed and open values"):
        GripperSolver.from_model(m, driver_joints=["right_driver_joint", "left_driver_joint"], closed=[0.8], open=[0.0])
    with pytest.raises(ConfigError, match="expected each joint once"):
        GripperSolver.from_model(m, driver_joints=["right_driver_joint", "left_driver_joint"], closed=[0.8, 0.8], open=[0, 0],
                                 coupled_joints=["right_driver_joint"])
