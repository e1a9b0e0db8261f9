"""`statgen robots init MODEL_FILE [--gripper FOLDER_OR_FILE] --out my_arm.toml`: a draft robot TOML.

It inspects the model (an MJCF or a URDF, with a gripper MJCF attached at the arm's flange when
`--gripper` is given) and writes a TOML that `statgen generate --robot my_arm.toml` takes as it is:

- the arm chain: from the base (the first body under the world) down to the hand, the hinge and
  slide joints that are not the gripper's (a branch into fingers, or a name such as finger, jaw,
  knuckle, carriage, ends it);
- joint ranges: the model's limits; an unlimited joint, or one of more than a turn, gets [-pi, pi];
- the gripper: drivers are the joints its actuators move (a joint, or a fixed tendon's joints); the
  other joints in a loop closed by an equality are solved, except those that a settled simulation
  leaves on a joint limit (the 2F-85's couplers), which are held there;
- the fingers: the two bodies whose distance changes most with the opening, touching when closed;
  closed is where they touch (the model's limit may push them through each other), open the other
  end; the fingertips are their nearest points nearly closed;
- the TCP: midway between the fingertips at half opening, on the fingers' common parent;
- a wrist camera beside the gripper, looking at the TCP; a workspace box and ROSA ranges from the
  1st and 99th percentiles of the TCP over collision-free random configurations (plus a margin).

What it guessed comes back as a list of lines for a person to check. Nothing is written unless the
draft builds a scene. Units: m and rad.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import tomllib
from pathlib import Path

import mujoco
import numpy as np

from statgen.config import load_task
from statgen.config.robot import robot_from_toml
from statgen.errors import ConfigError, StatgenError
from statgen.sim.assets import attach_resolved, resolve_model_file
from statgen.sim.compose import attach_gripper
from statgen.sim.grippers import GripperSolver

FK_SAMPLES = 2000  # random configurations for the workspace percentiles
MIN_FREE = 100  # collision-free ones needed
PERCENTILES = (1.0, 99.0)
WORKSPACE_MARGIN_M = 0.05
NEAR_CLOSED = 0.1  # the opening at which the fingertips are taken (nearest points of the two fingers)
SETTLE_STEPS = 1500
AT_LIMIT = 0.02  # rad or m: a joint this close to a limit after settling is held there
PANDA_REACH_M = 0.8  # the task's cameras are framed for a Panda-size reach
GRIPPER_PREFIX = "gripper/"
GRIPPER_NAMES = re.compile(r"grip|finger|jaw|knuckle|carriage|claw|pad|driver|follower|coupler|spring", re.I)
ROSA_ANGLES = [[-3.1416, 3.1416], [-1.5708, 1.5708], [-3.1416, 3.1416]]
HINGE_SLIDE = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))


def _err(msg: str) -> ConfigError:
    return ConfigError(f"robots init: {msg}")


def _check_inputs(model_file: str, gripper: str | None, out: str) -> tuple[Path, Path | None, Path]:
    p = Path(model_file)
    if not p.is_file():
        raise _err(f"model file {model_file} does not exist; pass an MJCF (.xml) or URDF (.urdf) file")
    if p.suffix.lower() not in (".xml", ".urdf"):
        raise _err(f"model file {model_file}: expected an MJCF (.xml) or URDF (.urdf) file, got {p.suffix or 'no suffix'}")
    g = None
    if gripper is not None:
        g = Path(gripper)
        if g.is_dir():
            xmls = sorted(x for x in g.glob("*.xml") if not x.name.startswith("scene"))
            if len(xmls) != 1:
                raise _err(f"--gripper {gripper}: expected one gripper MJCF in the folder, found {len(xmls)} ({', '.join(x.name for x in xmls) or 'none'}); pass the file")
            g = xmls[0]
        elif not g.is_file():
            raise _err(f"--gripper {gripper} does not exist; pass a gripper's MJCF file or its folder")
        elif g.suffix.lower() != ".xml":
            raise _err(f"--gripper {gripper}: expected an MJCF (.xml) file, got {g.suffix or 'no suffix'}")
    o = Path(out)
    if o.suffix != ".toml":
        raise _err(f"--out {out}: expected a .toml file name (e.g. my_arm.toml)")
    if o.exists():
        raise _err(f"--out {out} already exists; choose another name or remove it")
    if not o.parent.resolve().is_dir():
        raise _err(f"--out {out}: the folder {o.parent} does not exist; create it first")
    return p.resolve(), None if g is None else g.resolve(), o.resolve()


# --------------------------------------------------------------------------- the model's structure


def _children(m: mujoco.MjModel) -> dict[int, list[int]]:
    ch: dict[int, list[int]] = {b: [] for b in range(m.nbody)}
    for b in range(1, m.nbody):
        ch[int(m.body_parentid[b])].append(b)
    return ch


def _subtree(ch: dict[int, list[int]], b: int) -> list[int]:
    out, todo = [], [b]
    while todo:
        x = todo.pop()
        out.append(x)
        todo += ch[x]
    return sorted(out)


def _joints_of(m: mujoco.MjModel, b: int) -> list[int]:
    return [j for j in range(m.njnt) if m.jnt_bodyid[j] == b]


def _name(m: mujoco.MjModel, obj: mujoco.mjtObj, i: int) -> str:
    return mujoco.mj_id2name(m, obj, i) or ""


def _base(m: mujoco.MjModel, ch: dict[int, list[int]]) -> int:
    roots = [b for b in ch[0] if any(m.body_jntnum[x] for x in _subtree(ch, b))]
    if not roots:
        raise _err("the model has no joints below the world; expected an arm")
    return max(roots, key=lambda b: sum(int(m.body_jntnum[x]) for x in _subtree(ch, b)))


def _arm_chain(m: mujoco.MjModel, ch: dict[int, list[int]], base: int, gripper_joints: set[int]) -> tuple[list[int], int]:
    """(arm joints from the base, the hand body: where the chain ends)."""
    arm, b = [], base
    while True:
        for j in _joints_of(m, b):
            if j in gripper_joints or GRIPPER_NAMES.search(_name(m, mujoco.mjtObj.mjOBJ_JOINT, j)):
                return arm, int(m.body_parentid[b]) if arm and b != base else b
            if int(m.jnt_type[j]) not in HINGE_SLIDE:
                raise _err(f"joint {_name(m, mujoco.mjtObj.mjOBJ_JOINT, j)!r} is a {mujoco.mjtJoint(m.jnt_type[j]).name[6:].lower()} joint; "
                           "statgen's arms have hinge and slide joints only")
            arm.append(j)
        nxt = [c for c in ch[b] if any(m.body_jntnum[x] for x in _subtree(ch, c))]
        if len(nxt) != 1:
            return arm, b
        b = nxt[0]


def _flange(m: mujoco.MjModel, ch: dict[int, list[int]], hand: int) -> tuple[str | None, str | None]:
    """Where a gripper goes: a site named like attachment on the hand's last bodies, else the deepest body."""
    deepest = hand
    while ch[deepest]:
        deepest = max(ch[deepest], key=lambda c: len(_subtree(ch, c)))
    for s in range(m.nsite):
        if m.site_bodyid[s] in _subtree(ch, hand) and re.search(r"attach", _name(m, mujoco.mjtObj.mjOBJ_SITE, s), re.I):
            return None, _name(m, mujoco.mjtObj.mjOBJ_SITE, s)
    return _name(m, mujoco.mjtObj.mjOBJ_BODY, deepest), None


def _actuated(m: mujoco.MjModel, joints: set[int]) -> list[int]:
    """Joints of `joints` that an actuator moves: directly, or through a fixed tendon."""
    out: list[int] = []
    for a in range(m.nu):
        t, i = int(m.actuator_trntype[a]), int(m.actuator_trnid[a, 0])
        if t == int(mujoco.mjtTrn.mjTRN_JOINT) and i in joints:
            cand = [i]
        elif t == int(mujoco.mjtTrn.mjTRN_TENDON):
            adr, num = m.tendon_adr[i], m.tendon_num[i]
            cand = [int(m.wrap_objid[w]) for w in range(adr, adr + num) if int(m.wrap_type[w]) == int(mujoco.mjtWrap.mjWRAP_JOINT)]
            cand = [j for j in cand if j in joints]
        else:
            cand = []
        out += [j for j in cand if j not in out]
    return out


def _ancestors(m: mujoco.MjModel, b: int) -> list[int]:
    out = [b]
    while b:
        b = int(m.body_parentid[b])
        out.append(b)
    return out


def _constrained(m: mujoco.MjModel, joints: set[int]) -> tuple[set[int], bool]:
    """Joints of `joints` that an equality ties to another (a joint equality, or on the loop a
    connect/weld closes); and whether any loop is closed by a connect or weld."""
    out, loops = set(), False
    for e in range(m.neq):
        t = int(m.eq_type[e])
        if t == int(mujoco.mjtEq.mjEQ_JOINT):
            out |= {int(m.eq_obj1id[e]), int(m.eq_obj2id[e])} & joints
        elif t in (int(mujoco.mjtEq.mjEQ_CONNECT), int(mujoco.mjtEq.mjEQ_WELD)) and int(m.eq_objtype[e]) == int(mujoco.mjtObj.mjOBJ_BODY):
            a1, a2 = _ancestors(m, int(m.eq_obj1id[e])), _ancestors(m, int(m.eq_obj2id[e]))
            on_loop = set(a1) ^ set(a2)
            loop_joints = {j for j in joints if m.jnt_bodyid[j] in on_loop}
            loops |= bool(loop_joints)
            out |= loop_joints
    return out, loops


def _settled_at_limits(m: mujoco.MjModel, joints: list[int]) -> dict[int, float]:
    """Joints of `joints` that a simulation (gravity off, every actuator at mid control) leaves at a limit."""
    g0 = m.opt.gravity.copy()
    m.opt.gravity[:] = 0.0
    try:
        d = mujoco.MjData(m)
        for a in range(m.nu):
            lo, hi = m.actuator_ctrlrange[a] if m.actuator_ctrllimited[a] else (0.0, 0.0)
            d.ctrl[a] = (lo + hi) / 2
        for _ in range(SETTLE_STEPS):
            mujoco.mj_step(m, d)
    finally:
        m.opt.gravity[:] = g0
    held = {}
    for j in joints:
        if not m.jnt_limited[j]:
            continue
        q = float(d.qpos[m.jnt_qposadr[j]])
        for lim in m.jnt_range[j]:
            if abs(q - lim) < AT_LIMIT:
                held[j] = float(lim)
    return held


def _finger_geoms(m: mujoco.MjModel, b: int) -> list[int]:
    """A body's geoms for finger distances: its colliding primitives (pads), else its colliding geoms, else all.
    Distances between meshes use their convex hulls, which overlap for concave fingers."""
    own = [g for g in range(m.ngeom) if m.geom_bodyid[g] == b]
    coll = [g for g in own if m.geom_contype[g] or m.geom_conaffinity[g]]
    prim = [g for g in coll if int(m.geom_type[g]) != int(mujoco.mjtGeom.mjGEOM_MESH)]
    return prim or coll or own


def _driver_groups(m: mujoco.MjModel, drivers: list[int]) -> list[list[int]]:
    """Indices into `drivers` that move together: one actuator's tendon, or a joint equality between them."""
    parent = list(range(len(drivers)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    pos = {j: i for i, j in enumerate(drivers)}
    for a in range(m.nu):
        if int(m.actuator_trntype[a]) == int(mujoco.mjtTrn.mjTRN_TENDON):
            t = int(m.actuator_trnid[a, 0])
            js = [pos[int(m.wrap_objid[w])] for w in range(m.tendon_adr[t], m.tendon_adr[t] + m.tendon_num[t]) if int(m.wrap_objid[w]) in pos]
            for i in js[1:]:
                parent[find(i)] = find(js[0])
    for e in range(m.neq):
        if int(m.eq_type[e]) == int(mujoco.mjtEq.mjEQ_JOINT) and int(m.eq_obj1id[e]) in pos and int(m.eq_obj2id[e]) in pos:
            parent[find(pos[int(m.eq_obj1id[e])])] = find(pos[int(m.eq_obj2id[e])])
    out: dict[int, list[int]] = {}
    for i in range(len(drivers)):
        out.setdefault(find(i), []).append(i)
    return list(out.values())


def _far_vertex(m: mujoco.MjModel, d: mujoco.MjData, b: int, hand: int) -> np.ndarray:
    """The mesh vertex of body b's geoms farthest from the hand body's origin, in b's frame [m]."""
    out = []
    for g in range(m.ngeom):
        if m.geom_bodyid[g] == b and int(m.geom_type[g]) == int(mujoco.mjtGeom.mjGEOM_MESH):
            i = m.geom_dataid[g]
            v = m.mesh_vert[m.mesh_vertadr[i]: m.mesh_vertadr[i] + m.mesh_vertnum[i]]
            out.append(v @ d.geom_xmat[g].reshape(3, 3).T + d.geom_xpos[g])
    if not out:
        return np.zeros(3)
    v = np.concatenate(out)
    p = v[int(np.argmax(np.linalg.norm(v - d.xpos[hand], axis=1)))]
    return d.xmat[b].reshape(3, 3).T @ (p - d.xpos[b])


def _min_distance(m: mujoco.MjModel, d: mujoco.MjData, geoms1: list[int], geoms2: list[int]) -> tuple[float, np.ndarray]:
    """(signed distance [m], fromto (6,)) of the nearest pair of geoms."""
    best, ft, fromto = math.inf, np.zeros(6), np.zeros(6)
    for g1 in geoms1:
        for g2 in geoms2:
            dist = mujoco.mj_geomDistance(m, d, g1, g2, 1.0, fromto)
            if dist < best:
                best, ft = dist, fromto.copy()
    return best, ft


# --------------------------------------------------------------------------- TOML text


def _f(x: float) -> str:
    v = round(float(x), 5)
    return repr(0.0 if v == 0 else v)


def _vec(v) -> str:
    return "[" + ", ".join(_f(x) for x in v) + "]"


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _strs(v) -> str:
    return "[" + ", ".join(_q(s) for s in v) + "]"


# --------------------------------------------------------------------------- init


def init_robot(model_file: str, *, out: str, gripper: str | None = None, name: str | None = None, seed: int = 0) -> list[str]:
    """Write a draft robot TOML to `out`; returns the lines a person should check."""
    arm_path, grip_path, out_path = _check_inputs(model_file, gripper, out)
    name = name or re.sub(r"[^A-Za-z0-9_-]+", "_", out_path.stem)
    checks: list[str] = []

    # the model as statgen loads it (URDF converted, every file it needs), the gripper attached
    arm = resolve_model_file(arm_path, robot=name)
    from statgen.sim.scene import _spec_from, compile_scene

    spec = _spec_from(arm, arm.main_file)
    m0 = compile_scene(spec, name)
    ch0 = _children(m0)
    base = _base(m0, ch0)
    base_name = _name(m0, mujoco.mjtObj.mjOBJ_BODY, base)
    if len([b for b in ch0[0] if m0.body_jntnum[b] or ch0[b]]) > 1:
        checks.append(f"model.base_body = {base_name!r}: the world holds several bodies; the one with the most joints below it was taken")
    arm_j, hand = _arm_chain(m0, ch0, base, set())
    if not arm_j:
        raise _err(f"no hinge or slide joint on the chain from {base_name!r}; expected an arm")
    children: list[mujoco.MjSpec] = []
    grip_table = ""
    resolved = arm
    if grip_path is not None:
        gres = resolve_model_file(grip_path, robot=name)
        gspec = _spec_from(gres, gres.main_file)
        gm = compile_scene(gspec, name)
        gch = _children(gm)
        groot = _name(gm, mujoco.mjtObj.mjOBJ_BODY, _base(gm, gch) if gm.njnt else gch[0][0])
        resolved = attach_resolved(arm, gres, namespace=grip_path.parent.name or "gripper")
        spec = _spec_from(resolved, resolved.main_file)
        child = _spec_from(resolved, resolved.attach_files[0])
        parent_body, parent_site = _flange(m0, ch0, hand)
        attach_gripper(spec, child, gripper_body=groot, prefix=GRIPPER_PREFIX, parent_body=parent_body, parent_site=parent_site)
        children.append(child)
        where = f"site {parent_site!r}" if parent_site else f"body {parent_body!r}"
        checks.append(f"model.gripper: {grip_path.name}'s body {groot!r} attached at the arm's {where} with no offset; check its axis "
                      "points out of the flange and set pos/quat if not")
        grip_table = (f'\n[model.gripper]\nsource = "file"\nname = {_q(_rel(grip_path.parent, out_path))}\nfile = {_q(grip_path.name)}\n'
                      f'body = {_q(groot)}\nprefix = {_q(GRIPPER_PREFIX)}\n' + (f"parent_site = {_q(parent_site)}\n" if parent_site else f"parent_body = {_q(parent_body)}\n")
                      + 'license = "unknown"\n')
        m = compile_scene(spec, name)
        ch = _children(m)
        base = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, base_name)
        prefixed = {j for j in range(m.njnt) if _name(m, mujoco.mjtObj.mjOBJ_JOINT, j).startswith(GRIPPER_PREFIX)}
        arm_j, hand = _arm_chain(m, ch, base, prefixed)
    else:
        m, ch = m0, ch0
    J = mujoco.mjtObj.mjOBJ_JOINT
    B = mujoco.mjtObj.mjOBJ_BODY
    arm_names = [_name(m, J, j) for j in arm_j]

    # arm ranges
    ranges = {}
    for j in arm_j:
        lo, hi = m.jnt_range[j]
        if not m.jnt_limited[j] or hi - lo > 2 * math.pi + 1e-6:
            ranges[_name(m, J, j)] = (-math.pi, math.pi)
    if ranges:
        checks.append(f"arm.ranges: {', '.join(ranges)} unlimited or more than a turn in the model: sampled over [-pi, pi]")

    gripper_lines, tcp_line, wrist = _gripper_draft(m, ch, hand, arm_j, attached=grip_path is not None, checks=checks)

    # A base with collision geoms: MuJoCo never filters its contacts with the first links (their parent is
    # welded to the world), so collide_links excludes those pairs, as for a moving parent.
    static = [b for b in _subtree(ch, base) if m.body_weldid[b] == m.body_weldid[base]]
    collide = any((m.geom_contype[g] or m.geom_conaffinity[g]) and m.geom_bodyid[g] in static for g in range(m.ngeom))
    if collide:
        checks.append("model.collide_links = true: the base has collision geoms (the first links are excluded against it, and every "
                      "collision geom of the robot may touch every other)")

    # the draft without the workspace, to sample FK in statgen's own scene
    head = (f"# Draft made by `statgen robots init {arm_path.name}" + (f" --gripper {grip_path.name}" if grip_path else "") + "`: the command listed what to check; see also the lines marked CHECK.\n"
            f"name = {_q(name)}\ndescription = {_q(f'{name} (statgen robots init from {arm_path.name})')}\n\n"
            f'[model]\nsource = "file"\nname = {_q(_rel(arm_path.parent, out_path))}\nfile = {_q(arm_path.name)}\n'
            f'base_body = {_q(base_name)}\nlicense = "unknown"            # CHECK: the model\'s license\n'
            f"provenance = {_q(str(arm_path))}\n" + ("collide_links = true\n" if collide else "") + grip_table + "\n" + tcp_line + "\n"
            f"[arm]\njoints = {_strs(arm_names)}\n")
    if ranges:
        head += "\n[arm.ranges]\n" + "".join(f"{_q(k)} = {_vec(v)}\n" for k, v in ranges.items())
    if gripper_lines:
        head += "\n" + "\n".join(gripper_lines) + "\n"
    if wrist:
        head += "\n" + wrist
    box = _workspace(head, out_path, seed=seed)
    lo_b, hi_b, kept, reach = box
    checks.append(f"workspace and rosa.ranges: TCP p1/p99 of {kept} collision-free of {FK_SAMPLES} random configurations, plus {WORKSPACE_MARGIN_M * 100:.0f} cm, z from 0 (the base's mounting surface)")
    checks.append("model.license and model.gripper.license: unknown; fill them in")
    text = head + (f"\n# TCP p1/p99 (plus {WORKSPACE_MARGIN_M} m) over {kept} collision-free random configurations\n"
                   f"[workspace]\nmin = {_vec(lo_b)}\nmax = {_vec(hi_b)}\n\n"
                   "# ROSA token ranges: x y z [m], roll pitch yaw [rad], gripper (0 closed, 1 open).\n"
                   f"[rosa]\nranges = [{', '.join(_vec(r) for r in [*zip(lo_b, hi_b), *ROSA_ANGLES, [0, 1]])}]\n")
    scale = min(max(reach / PANDA_REACH_M, 0.1), 4.0)
    if abs(scale - 1.0) > 0.15:
        text += f"\n# The task's cameras framed for a {reach:.2f} m reach (the Panda's is about {PANDA_REACH_M} m).\n[framing]\nscale = {_f(round(scale, 2))}\n"
    _build(text, out_path)  # the final draft builds a scene, or nothing is written
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, out_path)
    return checks


def _gripper_draft(m: mujoco.MjModel, ch: dict[int, list[int]], hand: int, arm_j: list[int], *, attached: bool,
                   checks: list[str]) -> tuple[list[str], str, str]:
    """([gripper] and [gripper.coupling] lines, the [tcp] table, the [wrist_camera] table) of the hand's subtree;
    appends what a person must check to `checks`."""
    J, B = mujoco.mjtObj.mjOBJ_JOINT, mujoco.mjtObj.mjOBJ_BODY
    hand_bodies = _subtree(ch, hand)
    g_joints = [j for b in hand_bodies for j in _joints_of(m, b) if j not in arm_j and int(m.jnt_type[j]) in HINGE_SLIDE]
    gripper_lines: list[str] = []
    tcp_line = f'[tcp]\nbody = {_q(_name(m, B, hand))}\npos = [0.0, 0.0, 0.0]\n'
    wrist = ""
    if not g_joints:
        checks.append(f"no gripper joints: the TCP is the origin of {_name(m, B, hand)!r}; set tcp.pos to the tool's point")
    else:
        gset = set(g_joints)
        drivers = _actuated(m, gset)
        tied, loops = _constrained(m, gset)
        if not drivers:
            drivers = [j for j in g_joints if j not in tied] or g_joints
            checks.append(f"gripper.joints: no actuator moves the gripper; drivers taken: {', '.join(_name(m, J, j) for j in drivers)}")
        rest = [j for j in g_joints if j not in drivers and j in tied]
        held = _settled_at_limits(m, rest) if loops else {}
        coupled = [j for j in rest if j not in held]
        if held:
            checks.append("gripper.coupling.held: " + ", ".join(f"{_name(m, J, j)} = {v:g}" for j, v in held.items())
                          + " (where a settled simulation leaves them): check against the gripper's documentation")
        ends = []
        for j in drivers:
            if m.jnt_limited[j]:
                ends.append(tuple(float(x) for x in m.jnt_range[j]))
            else:
                ends.append((0.0, math.pi / 4))
                checks.append(f"gripper: driver {_name(m, J, j)} is unlimited in the model: guessed 0..pi/4; set closed and open")
        lo, hi = np.array([e[0] for e in ends]), np.array([e[1] for e in ends])

        def solver(closed, opened):
            return GripperSolver.from_model(m, driver_joints=[_name(m, J, j) for j in drivers], closed=closed, open=opened,
                                            coupled_joints=[_name(m, J, j) for j in coupled], held={_name(m, J, j): v for j, v in held.items()})

        d = mujoco.MjData(m)

        def pose(s, f):
            d.qpos[:] = m.qpos0
            s.apply(d, f)
            mujoco.mj_kinematics(m, d)

        geoms = {b: _finger_geoms(m, b) for b in hand_bodies}
        cand = [(a, b) for i, a in enumerate(hand_bodies) for b in hand_bodies[i + 1:] if geoms[a] and geoms[b] and m.body_weldid[a] != m.body_weldid[b]]
        if not cand:
            raise _err("the gripper has no two moving bodies with geoms; expected fingers")
        # which end of each driver's range closes: independent drivers (the ViperX's two slides) may run opposite ways
        groups = _driver_groups(m, drivers)
        best = None
        for flips in itertools.product((False, True), repeat=min(len(groups), 4)):
            lo_t, hi_t = lo.copy(), hi.copy()
            for grp, flip in zip(groups, flips):
                if flip:
                    lo_t[grp], hi_t[grp] = hi[grp], lo[grp]
            try:
                s = solver(lo_t, hi_t)
            except ConfigError:
                continue
            pose(s, 0.0)
            d_lo = {p: _min_distance(m, d, geoms[p[0]], geoms[p[1]])[0] for p in cand}
            pose(s, 1.0)
            d_hi = {p: _min_distance(m, d, geoms[p[0]], geoms[p[1]])[0] for p in cand}
            change = {p: abs(d_hi[p] - d_lo[p]) for p in cand}
            top = max(change.values())
            if best is None or top > best[0] + 1e-4:
                pair = min((p for p in cand if change[p] >= 0.8 * top), key=lambda p: min(d_lo[p], d_hi[p]))
                best = (top, lo_t, hi_t, pair, d_lo[pair], d_hi[pair])
            if not any(flips[1:]) and len(groups) == 1:
                break
        if best is None:
            raise _err("the gripper's equality constraints cannot be met by its drivers; write [gripper.coupling] by hand")
        _, lo, hi, fingers, dl, dh = best
        if dh < dl:
            lo, hi = hi, lo  # the range's upper end closes the gripper
        s = solver(lo, hi)
        fa, fb = fingers

        def gap(f):
            pose(s, f)
            return _min_distance(m, d, geoms[fa], geoms[fb])[0]

        fs = np.linspace(0.0, 1.0, 51)
        neg = [i for i, f in enumerate(fs[:-1]) if gap(f) < 0]
        hulls = not (neg and max(neg) >= len(fs) - 3)
        far_tips = None
        if not hulls:
            # concave meshes whose convex hulls overlap at every opening (a URDF's jaws): each finger's tip is its mesh
            # vertex farthest from the hand's origin, and closed is where the two tips come closest
            pose(s, 0.5)
            far_tips = [_far_vertex(m, d, b, hand) for b in (fa, fb)]

            def tip_gap(f):
                pose(s, f)
                return float(np.linalg.norm(np.subtract(*(d.xmat[b].reshape(3, 3) @ p + d.xpos[b] for b, p in zip((fa, fb), far_tips)))))

            k = int(np.argmin([tip_gap(f) for f in fs]))
            lo = lo + fs[k] * (hi - lo)
            s = solver(lo, hi)
            checks.append(f"gripper: the fingers' convex hulls overlap at every opening (concave meshes); fingertips are their points farthest "
                          f"from the hand, closed = {', '.join(_f(x) for x in lo)} where those come closest: check closed, open and the fingertips")
        elif neg:  # the limit pushes the fingers into (or through) each other: closed is where they last touch
            a, b = fs[max(neg)], fs[max(neg) + 1]
            for _ in range(40):
                mid = (a + b) / 2
                a, b = (mid, b) if gap(mid) < 0 else (a, mid)
            lo = lo + b * (hi - lo)
            checks.append(f"gripper.closed: where the fingers touch ({', '.join(_f(x) for x in lo)}), inside the model's limit, which crosses them")
            s = solver(lo, hi)
        pose(s, NEAR_CLOSED)
        if far_tips is not None:
            tips = far_tips
        else:
            ft = _min_distance(m, d, geoms[fa], geoms[fb])[1]
            tips = []
            for body, p in ((fa, ft[:3]), (fb, ft[3:])):
                R = d.xmat[body].reshape(3, 3)
                tips.append(R.T @ (p - d.xpos[body]))
        pose(s, 1.0)
        w_open = float(np.linalg.norm((d.xmat[fa].reshape(3, 3) @ tips[0] + d.xpos[fa]) - (d.xmat[fb].reshape(3, 3) @ tips[1] + d.xpos[fb])))
        # the TCP: the fingertips' midpoint at half opening, on the deepest common parent of the fingers
        common = next(x for x in _ancestors(m, fa) if x in _ancestors(m, fb))
        while m.body_jntnum[common] and common != hand and common in hand_bodies:  # a body that moves with the gripper
            common = int(m.body_parentid[common])
        pose(s, 0.5)
        pa = d.xmat[fa].reshape(3, 3) @ tips[0] + d.xpos[fa]
        pb = d.xmat[fb].reshape(3, 3) @ tips[1] + d.xpos[fb]
        Rc = d.xmat[common].reshape(3, 3)
        tcp = Rc.T @ ((pa + pb) / 2 - d.xpos[common])
        sep = Rc.T @ (pa - pb)
        how = "points farthest from the hand" if far_tips is not None else "nearest points nearly closed"
        checks.append(f"gripper.fingertips: {how} of {_name(m, B, fa)!r} and {_name(m, B, fb)!r}; "
                      f"{w_open * 1e3:.1f} mm apart open: check them against the pads")
        checks.append(f"tcp: midway between the fingertips at half opening, on {_name(m, B, common)!r}; check it in a preview (statgen preview)")
        bodies = hand_bodies if not attached else [b for b in range(m.nbody) if _name(m, B, b).startswith(GRIPPER_PREFIX)]
        tcp_line = f"[tcp]\nbody = {_q(_name(m, B, common))}\npos = {_vec(tcp)}\n"
        gripper_lines = [
            "[gripper]",
            f"joints = {_strs(_name(m, J, j) for j in drivers)}",
            f"closed = {_vec(lo)}",
            f"open = {_vec(hi)}",
            f"bodies = {_strs(_name(m, B, b) for b in bodies)}",
            f"fingertips = [{{ body = {_q(_name(m, B, fa))}, pos = {_vec(tips[0])} }},",
            f"              {{ body = {_q(_name(m, B, fb))}, pos = {_vec(tips[1])} }}]",
        ]
        if held or coupled:
            gripper_lines += ["", "[gripper.coupling]"]
            if held:
                gripper_lines.append("held = { " + ", ".join(f"{_q(_name(m, J, j))} = {_f(v)}" for j, v in held.items()) + " }")
            if coupled:
                gripper_lines.append(f"coupled = {_strs(_name(m, J, j) for j in coupled)}")
        # the wrist camera: beside the gripper, across the fingers' opening, looking at the TCP
        L = float(np.linalg.norm(tcp)) or 0.1
        a = tcp / L if np.linalg.norm(tcp) > 1e-6 else np.array([0.0, 0.0, 1.0])
        o = np.cross(a, sep)
        if np.linalg.norm(o) < 1e-9:
            o = np.cross(a, [1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.cross(a, [0.0, 1.0, 0.0])
        o /= np.linalg.norm(o)
        L = max(L, 0.08)
        wrist = (f"[wrist_camera]\nbody = {_q(_name(m, B, common))}\npos = {_vec(tcp - 0.7 * L * a + 0.6 * L * o)}\n"
                 f"target = {_vec(tcp)}\nup = {_vec(o)}\n")
        checks.append("wrist_camera: beside the gripper, looking at the TCP; check a preview with --cameras front,wrist")

    return gripper_lines, tcp_line, wrist


def _rel(folder: Path, out_path: Path) -> str:
    return os.path.relpath(folder, out_path.parent)


def _build(text: str, out_path: Path):
    from statgen.config import RenderSettings
    from statgen.sim.assets import resolve_model
    from statgen.sim.scene import build_scene

    try:
        robot = robot_from_toml(tomllib.loads(text), out_path)
        return build_scene(robot=robot, task=load_task("tabletop"), resolved=resolve_model(robot), cameras=("front",), render=RenderSettings())
    except StatgenError as e:
        raise _err(f"the draft does not build a scene ({' '.join(str(e).split())}); the model may need a hand-written TOML (see robots/*.toml)") from None


def _workspace(head: str, out_path: Path, *, seed: int) -> tuple[np.ndarray, np.ndarray, int, float]:
    """(box min, box max, collision-free configurations, horizontal reach [m]) from FK in statgen's scene."""
    from statgen.sim.feasibility import in_collision
    from statgen.sim.scene import set_configuration

    provisional = head + "\n[workspace]\nmin = [-9.0, -9.0, -9.0]\nmax = [9.0, 9.0, 9.0]\n\n[rosa]\nranges = [[-9, 9], [-9, 9], [-9, 9], [-3.1416, 3.1416], [-1.5708, 1.5708], [-3.1416, 3.1416], [0, 1]]\n"
    scene = _build(provisional, out_path)
    ix = scene.index
    d = mujoco.MjData(scene.model)
    rng = np.random.default_rng(seed)
    pts = []
    for _ in range(FK_SAMPLES):
        set_configuration(scene, d, q_arm=rng.uniform(ix.arm_ranges[:, 0], ix.arm_ranges[:, 1]), open_fraction=float(rng.uniform()), cameras=False)
        if in_collision(scene, d):
            continue
        R = d.xmat[ix.base_body].reshape(3, 3)
        pts.append(R.T @ (d.site_xpos[ix.tcp_site] - d.xpos[ix.base_body]))
    if len(pts) < MIN_FREE:
        raise _err(f"only {len(pts)} of {FK_SAMPLES} random configurations are free of collisions; check the base body and the joint ranges")
    P = np.array(pts)
    lo, hi = np.percentile(P, PERCENTILES[0], axis=0), np.percentile(P, PERCENTILES[1], axis=0)
    reach = float(np.percentile(np.linalg.norm(P[:, :2], axis=1), PERCENTILES[1]))
    lo, hi = lo - WORKSPACE_MARGIN_M, hi + WORKSPACE_MARGIN_M
    lo[2] = max(lo[2], 0.0)  # not below the surface the base stands on (beyond the table's edge the TCP can reach lower)
    return lo, hi, len(pts), reach
