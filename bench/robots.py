"""Ten robots: visual faces before and after decimation, render speed, and robot-mask IoU.

Usage:  MUJOCO_GL=egl MENAGERIE_ROOT=../shared/assets/menagerie python bench/robots.py \
            [--robots so101,wxai] [--poses 20] [--rounds 3] [--reduction ROBOT=R[:E] ...]
            [--sweep 0.85:0.002,0.9:0.003,0.95:0.005]

R is the target reduction, E the error bound of meshoptimizer's simplifier (a fraction
of each mesh's extent; "none": unbounded quadric decimation, the Panda's).

For each robot the model is resolved from ../shared/assets (an arm plus, for ur5e, gen3,
iiwa7 and sawyer, the Robotiq 2F-85 from another folder), decimated with the robot's
settings (REDUCTIONS below; `statgen.sim.assets.simplify_visual_meshes`), and mounted
in a tabletop-like scene (tasks/tabletop.toml: floor, table, two lights, the front
camera). The same random poses (arm joints uniform in their ranges, gripper opening
uniform, coupled gripper joints from `statgen.sim.grippers.GripperSolver`) are
rendered with the full and with the decimated meshes:

  faces       visual (drawn, groups 0-2) mesh triangles of the robot, full -> decimated
  fps         frames per CPU-second of the decimated robot in the front camera, 224x224,
              statgen's render settings (no shadows, reflections or multisampling):
              update_scene + render + readback, best pass. The process's CPU time
              (time.process_time, llvmpipe pinned to one thread with LP_NUM_THREADS=1)
              rather than wall time, because the shared machine's load drifts; on an idle
              machine the two agree
  Panda fps   the Panda's (decimated as shipped), timed in passes alternating with the robot's
  x Panda     fps / Panda fps
  IoU front   robot-mask IoU, decimated vs full meshes, front camera (mean and worst pose)
  IoU close   the same from a free camera framing the robot (its reach fills the view)

Only one mujoco.Renderer is alive at a time (two at once under EGL render noise).

Measured (x86_64, 2 shared cores, llvmpipe, mujoco 3.17; 20 poses, 3 rounds; fps drift
about 20 % between passes: the Panda against itself read 0.79):

| robot | reduction : max error | visual faces (full -> decimated) | fps | Panda fps | x Panda | IoU front (mean / min) | IoU close (mean / min) |
|---|---|---|---|---|---|---|---|
| franka | 0.85 : none | 134,888 -> 21,546 | 201 | 253 | 0.79 | 0.9968 / 0.9935 | 0.9923 / 0.9886 |
| jaco | 0.90 : 0.003 | 13,000 -> 5,756 | 403 | 263 | 1.53 | 0.9957 / 0.9913 | 0.9954 / 0.9848 |
| so101 | 0.95 : 0.005 | 398,884 -> 23,582 | 257 | 256 | 1.00 | 0.9957 / 0.9887 | 0.9962 / 0.9931 |
| ur5e | 0.90 : 0.003 | 193,113 -> 27,291 | 188 | 211 | 0.89 | 0.9967 / 0.9942 | 0.9973 / 0.9925 |
| vx300s | 0.90 : 0.003 | 30,284 -> 7,014 | 473 | 256 | 1.85 | 0.9986 / 0.9957 | 0.9985 / 0.9957 |
| wxai | 0.90 : 0.003 | 40,824 -> 10,134 | 405 | 263 | 1.54 | 0.9942 / 0.9880 | 0.9931 / 0.9877 |
| xarm7 | 0.90 : 0.003 | 85,931 -> 20,291 | 282 | 242 | 1.17 | 0.9972 / 0.9949 | 0.9951 / 0.9898 |
| gen3 | 0.90 : 0.003 | 158,278 -> 28,375 | 203 | 230 | 0.88 | 0.9958 / 0.9922 | 0.9965 / 0.9891 |
| iiwa7 | 0.90 : 0.003 | 260,464 -> 29,109 | 225 | 225 | 1.00 | 0.9975 / 0.9945 | 0.9979 / 0.9949 |
| sawyer | 0.90 : 0.003 | 266,425 -> 34,962 | 192 | 261 | 0.74 | 0.9976 / 0.9960 | 0.9975 / 0.9940 |
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import pathlib
import sys
import time
import tomllib
from dataclasses import dataclass, field

os.environ.setdefault("LP_NUM_THREADS", "1")  # before mujoco creates a GL context
os.environ.setdefault("MUJOCO_GL", "egl")

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from statgen.core.geometry import R_to_quat_wxyz, euler_xyz_to_R, look_at_R, quat_wxyz_to_R  # noqa: E402
from statgen.sim.assets import (  # noqa: E402
    ResolvedModel,
    _closure,
    attach_resolved,
    resolve_model_file,
    simplify_visual_meshes,
)
from statgen.sim.compose import attach_gripper  # noqa: E402
from statgen.sim.grippers import GripperSolver  # noqa: E402

SHARED = REPO.parent / "shared/assets"
MENAGERIE = pathlib.Path(os.environ.get("MENAGERIE_ROOT") or SHARED / "menagerie")
PI = math.pi
YAW90 = R_to_quat_wxyz(euler_xyz_to_R(np.array([0.0, 0.0, PI / 2]))).tolist()

# (target_reduction, max_error) per robot: the fraction of visual triangles removed, and
# the bound on the surface error, as a fraction of each mesh's extent (None: statgen's
# first simplifier, unbounded quadric decimation). Chosen from a sweep of 0.85:0.002,
# 0.9:0.003 and 0.95:0.005 (robot-mask IoU >= 0.99 and at least half the Panda's speed):
# 0.9:0.003 for every robot but the SO-101, whose 399k triangles need 0.95:0.005. The
# Panda keeps 0.85 unbounded: its images are pinned by the golden run.
REDUCTIONS: dict[str, tuple[float, float | None]] = {
    "franka": (0.85, None), "jaco": (0.9, 0.003), "so101": (0.95, 0.005), "ur5e": (0.9, 0.003), "vx300s": (0.9, 0.003),
    "wxai": (0.9, 0.003), "xarm7": (0.9, 0.003), "gen3": (0.9, 0.003), "iiwa7": (0.9, 0.003), "sawyer": (0.9, 0.003),
}

# The 2F-85's pads touch at driver 0.779 (its joint limit, 0.8, crosses them by 2.5 mm).
F85 = dict(
    driver_joints=["gripper/right_driver_joint", "gripper/left_driver_joint"], closed=[0.779, 0.779], open=[0.0, 0.0],
    held={"gripper/right_coupler_joint": 0.0, "gripper/left_coupler_joint": 0.0},
    coupled_joints=["gripper/right_spring_link_joint", "gripper/right_follower_joint",
                    "gripper/left_spring_link_joint", "gripper/left_follower_joint"],
)


@dataclass(frozen=True)
class Robot:
    """What the bench needs of a robot (the robot TOMLs will carry the same after the wiring)."""

    name: str
    model: pathlib.Path  # the arm's MJCF
    base_body: str
    arm_joints: tuple[str, ...]
    gripper: dict  # GripperSolver.from_model keyword arguments
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # for unlimited joints
    attach: pathlib.Path | None = None  # a gripper/hand MJCF attached at scene build
    mount: dict = field(default_factory=dict)  # compose.attach_gripper keyword arguments


def _dm_kinova() -> pathlib.Path:
    import dm_control

    return pathlib.Path(dm_control.__file__).parent / "third_party/kinova"


def robots() -> dict[str, Robot]:
    m, f85 = MENAGERIE, MENAGERIE / "robotiq_2f85/2f85.xml"
    mount_f85 = dict(gripper_body="base_mount", prefix="gripper/")
    vx = "vx300s_left/"
    xarm_grip = [f"gripper_{s}_{k}_joint" for s in ("left", "right") for k in ("driver", "finger", "inner_knuckle")]
    return {r.name: r for r in [
        Robot("franka", m / "franka_emika_panda/panda.xml", "link0", tuple(f"joint{i}" for i in range(1, 8)),
              dict(driver_joints=["finger_joint1", "finger_joint2"], closed=[0.0, 0.0], open=[0.04, 0.04])),
        Robot("jaco", _dm_kinova() / "jaco_arm.xml", "b_base", tuple(f"joint_{i}" for i in range(1, 7)),
              dict(driver_joints=["hand/finger_1", "hand/finger_2", "hand/finger_3"], closed=[1.35] * 3, open=[0.15] * 3),
              ranges={f"joint_{i}": (-PI, PI) for i in (1, 4, 5, 6)}, attach=_dm_kinova() / "jaco_hand.xml",
              mount=dict(gripper_body="hand", prefix="hand/", parent_site="wristsite")),
        Robot("so101", SHARED / "so101/so101_new_calib.xml", "base",
              ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll"),
              dict(driver_joints=["gripper"], closed=[-0.07], open=[1.74533])),
        Robot("ur5e", m / "universal_robots_ur5e/ur5e.xml", "base",
              ("shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint", "wrist_2_joint", "wrist_3_joint"),
              F85, ranges={j: (-PI, PI) for j in ("shoulder_pan_joint", "shoulder_lift_joint", "wrist_1_joint", "wrist_2_joint", "wrist_3_joint")},
              attach=f85, mount=dict(parent_site="attachment_site", **mount_f85)),
        Robot("vx300s", m / "trossen_vx300s/vx300s.xml", "vx300s_left",
              tuple(vx + j for j in ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")),
              dict(driver_joints=[vx + "left_finger", vx + "right_finger"], closed=[0.0224, -0.0224], open=[0.057, -0.057])),
        Robot("wxai", m / "trossen_wxai/wxai_follower.xml", "base_link", tuple(f"joint_{i}" for i in range(6)),
              dict(driver_joints=["left_carriage_joint"], closed=[0.0], open=[0.044], coupled_joints=["right_carriage_joint"])),
        Robot("xarm7", m / "ufactory_xarm7/xarm7.xml", "base", tuple(f"joint{i}" for i in range(1, 8)),
              dict(driver_joints=xarm_grip, closed=[0.85] * 6, open=[0.0] * 6),
              ranges={f"joint{i}": (-PI, PI) for i in (1, 3, 5, 7)}),
        Robot("gen3", m / "kinova_gen3/gen3.xml", "base", tuple(f"Actuator{i}" for i in range(1, 8)), F85,
              ranges={f"Actuator{i}": (-PI, PI) for i in (1, 3, 5, 7)},
              attach=f85, mount=dict(parent_body="right_hand", quat_wxyz=YAW90, **mount_f85)),
        Robot("iiwa7", m / "kuka_iiwa_7/iiwa7.xml", "base", tuple(f"joint_{i}" for i in range(1, 8)), F85,
              attach=f85, mount=dict(parent_body="right_hand", **mount_f85)),
        Robot("sawyer", m / "rethink_robotics_sawyer/sawyer.xml", "base", tuple(f"right_j{i}" for i in range(7)), F85,
              attach=f85, mount=dict(parent_body="right_hand", **mount_f85)),
    ]}


def resolve(robot: Robot) -> ResolvedModel:
    """The robot's files in one ResolvedModel (the gripper's folder merged in)."""
    arm = resolve_model_file(robot.model, robot=robot.name)
    if robot.attach is None:
        return arm
    if robot.attach.parent == robot.model.parent:  # the same folder (jaco): one closure
        assets = {**arm.assets, **_closure(robot.attach, robot.attach.parent)}
        return dataclasses.replace(arm, assets=assets, attach_files=(robot.attach.name,))
    grip = resolve_model_file(robot.attach, robot=robot.attach.parent.name)
    return attach_resolved(arm, grip, namespace=robot.attach.parent.name)


# ------------------------------------------------------------------------------- scene


def _T(pos, quat) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = quat_wxyz_to_R(np.asarray(quat, float) / np.linalg.norm(quat))
    T[:3, 3] = pos
    return T


def build(robot: Robot, resolved: ResolvedModel, task: dict) -> tuple[mujoco.MjModel, list]:
    """The robot on a table (tabletop.toml's layout and front camera); (model, children to keep alive)."""
    spec = mujoco.MjSpec.from_string(resolved.text(resolved.main_file), assets=resolved.assets)
    children = []
    for key in resolved.attach_files:
        child = mujoco.MjSpec.from_string(resolved.text(key), assets=resolved.assets)
        attach_gripper(spec, child, **robot.mount)
        children.append(child)
    t, r = task["table"], task["robot"]
    yaw = math.radians(r["yaw_deg"])
    T_mount = _T([r["pos"][0], r["pos"][1], t["height"] + r["pos"][2]], [math.cos(yaw / 2), 0, 0, math.sin(yaw / 2)])
    base = spec.body(robot.base_body)
    T_frame = np.eye(4) if base.frame is None else _T(base.frame.pos, base.frame.quat)  # a <frame> around the base
    T_new = np.linalg.inv(T_frame) @ T_mount @ T_frame @ _T(base.pos, base.quat)
    base.pos, base.quat = T_new[:3, 3], R_to_quat_wxyz(T_new[:3, :3])
    wb = spec.worldbody
    wb.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[4, 4, 0.1], rgba=task["floor_rgba"])
    sx, sy, sz = t["size"]
    table = wb.add_body(name="bench/table", pos=[t["center"][0], t["center"][1], t["height"]])
    table.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=[sx / 2, sy / 2, sz / 2], pos=[0, 0, -sz / 2], rgba=t["rgba"])
    for i, light in enumerate(task["lights"]):
        wb.add_light(pos=light["pos"], dir=light["dir"], diffuse=[0.6, 0.6, 0.6], castshadow=True)
    c = task["cameras"]["front"]
    R = look_at_R(eye=np.array(c["pos"]), target=np.array(c["target"]), up=np.array([0.0, 0.0, 1.0]))
    wb.add_camera(name="front", pos=c["pos"], quat=list(R_to_quat_wxyz(R)), fovy=c["fovy_deg"])
    spec.visual.global_.offwidth = spec.visual.global_.offheight = 640
    spec.visual.quality.offsamples = 0
    return spec.compile(), children


def robot_geoms(model: mujoco.MjModel, base_body: str) -> np.ndarray:
    """bool (ngeom,): geoms in the base body's subtree."""
    inside = np.zeros(model.nbody, bool)
    inside[model.body(base_body).id] = True
    for b in range(1, model.nbody):
        inside[b] |= inside[model.body_parentid[b]]
    return inside[model.geom_bodyid]


def drawn_faces(model: mujoco.MjModel, geoms: np.ndarray) -> int:
    sel = geoms & (model.geom_type == int(mujoco.mjtGeom.mjGEOM_MESH)) & (model.geom_group <= 2) & (model.geom_dataid >= 0)
    return int(model.mesh_facenum[model.geom_dataid[sel]].sum())


def poses(model: mujoco.MjModel, robot: Robot, n: int, seed: int) -> np.ndarray:
    """(n, nq) random configurations: arm uniform in its ranges, gripper from its solver."""
    rng = np.random.default_rng(seed)
    solver = GripperSolver.from_model(model, **robot.gripper)
    data = mujoco.MjData(model)
    out = []
    for _ in range(n):
        data.qpos[:] = model.qpos0
        for j in robot.arm_joints:
            jid = model.joint(j).id
            lo, hi = robot.ranges.get(j, model.jnt_range[jid])
            data.qpos[model.jnt_qposadr[jid]] = rng.uniform(lo, hi)
        solver.apply(data, rng.uniform())
        out.append(data.qpos.copy())
    return np.array(out)


def _draw(renderer, model, data, q, cam):
    data.qpos[:] = q
    mujoco.mj_kinematics(model, data)
    mujoco.mj_camlight(model, data)
    renderer.update_scene(data, camera=cam)
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
    return renderer.render()


def masks(model: mujoco.MjModel, qs: np.ndarray, geoms: np.ndarray, size: int, cams: list) -> list[np.ndarray]:
    """Robot masks (n, H, W) per camera, from segmentation renders."""
    data = mujoco.MjData(model)
    renderer = mujoco.Renderer(model, height=size, width=size)
    out = []
    try:
        renderer.enable_segmentation_rendering()
        for cam in cams:
            seg = np.stack([_draw(renderer, model, data, q, cam) for q in qs])
            ids, kind = seg[..., 0], seg[..., 1]
            is_geom = (kind == int(mujoco.mjtObj.mjOBJ_GEOM)) & (ids >= 0)
            mask = np.zeros(ids.shape, bool)
            mask[is_geom] = geoms[ids[is_geom]]
            out.append(mask)
    finally:
        renderer.close()
    return out


def frames_per_s(model: mujoco.MjModel, qs: np.ndarray, size: int, passes: int = 1) -> float:
    """Front camera RGB frames/s over the poses (best of `passes`, after one warm-up pass)."""
    data = mujoco.MjData(model)
    renderer = mujoco.Renderer(model, height=size, width=size)
    best = 0.0
    try:
        for q in qs:
            _draw(renderer, model, data, q, "front")
        for _ in range(passes):
            t0 = time.process_time()
            for q in qs:
                _draw(renderer, model, data, q, "front")
            best = max(best, len(qs) / (time.process_time() - t0))
    finally:
        renderer.close()
    return best


def speed_vs(model, qs, ref_model, ref_qs, size: int, rounds: int = 3) -> tuple[float, float]:
    """(fps, reference fps), best of `rounds` alternating passes: the machine's load drifts."""
    fps, ref = 0.0, 0.0
    for _ in range(rounds):
        fps = max(fps, frames_per_s(model, qs, size))
        ref = max(ref, frames_per_s(ref_model, ref_qs, size))
    return fps, ref


def close_camera(model: mujoco.MjModel, qs: np.ndarray, base_body: str, geoms: np.ndarray) -> mujoco.MjvCamera:
    """A free camera that frames the robot over the poses (its reach sets the distance)."""
    data = mujoco.MjData(model)
    b = model.body(base_body).id
    bodies = np.unique(model.geom_bodyid[geoms])
    reach = 0.0
    for q in qs:
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        reach = max(reach, float(np.linalg.norm(data.xpos[bodies] - data.xpos[b], axis=1).max()))
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.lookat[:] = data.xpos[b] + np.array([0.0, 0.0, 0.4 * reach])
    cam.distance, cam.azimuth, cam.elevation = 2.6 * reach, 135.0, -25.0
    return cam


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    inter, union = (a & b).sum(axis=(1, 2)), (a | b).sum(axis=(1, 2))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--robots", default=",".join(REDUCTIONS))
    ap.add_argument("--poses", type=int, default=20)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=3, help="alternating robot/Panda timing passes")
    ap.add_argument("--reduction", action="append", default=[], metavar="ROBOT=R[:C]", help="override a robot's reduction (and max_error)")
    ap.add_argument("--sweep", default="", help="comma-separated R[:C] settings to try for every robot, instead of REDUCTIONS")
    args = ap.parse_args()

    def setting(text: str) -> tuple[float, float | None]:
        r, _, c = text.partition(":")
        return float(r), (float(c) if c and c != "none" else None)

    reductions = dict(REDUCTIONS)
    for item in args.reduction:
        k, v = item.split("=")
        reductions[k] = setting(v)
    task = tomllib.loads((REPO / "tasks/tabletop.toml").read_text())
    table = robots()
    names = args.robots.split(",")
    print(f"MUJOCO_GL={os.environ.get('MUJOCO_GL', '')}  mujoco {mujoco.__version__}  {args.size}x{args.size}  "
          f"{args.poses} poses  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| robot | reduction : max error | visual faces (full -> decimated) | fps | Panda fps | x Panda "
          "| IoU front (mean / min) | IoU close (mean / min) |")
    print("|" + "---|" * 8)
    panda = table["franka"]
    r0, c0 = REDUCTIONS["franka"]
    p_model, _keep = build(panda, simplify_visual_meshes(resolve(panda), target_reduction=r0, max_error=c0), task)
    p_qs = poses(p_model, panda, args.poses, args.seed)
    for name in names:
        robot = table[name]
        full = resolve(robot)
        m_full, keep_full = build(robot, full, task)
        qs = poses(m_full, robot, args.poses, args.seed)
        g_full = robot_geoms(m_full, robot.base_body)
        cam = close_camera(m_full, qs, robot.base_body, g_full)
        front_f, close_f = masks(m_full, qs, g_full, args.size, ["front", cam])
        for r, c in ([setting(x) for x in args.sweep.split(",")] if args.sweep else [reductions[name]]):
            simple = simplify_visual_meshes(full, target_reduction=r, max_error=c)
            m_simple, keep_simple = build(robot, simple, task)
            g_simple = robot_geoms(m_simple, robot.base_body)
            front_s, close_s = masks(m_simple, qs, g_simple, args.size, ["front", cam])
            fps, ref = speed_vs(m_simple, qs, p_model, p_qs, args.size, rounds=args.rounds)
            i_front, i_close = iou(front_f, front_s), iou(close_f, close_s)
            print(f"| {name} | {r:.2f} : {c if c is not None else 'none'} | {drawn_faces(m_full, g_full):,} -> {drawn_faces(m_simple, g_simple):,} "
                  f"| {fps:.0f} | {ref:.0f} | {fps / ref:.2f} | {i_front.mean():.4f} / {i_front.min():.4f} "
                  f"| {i_close.mean():.4f} / {i_close.min():.4f} |", flush=True)


if __name__ == "__main__":
    main()
