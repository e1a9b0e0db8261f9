"""Build the MjModel for (robot, task): the robot mounted on a table, props, lights, cameras; and put it in a
configuration (set_qpos: joints written, coupled gripper joints solved, FK run).

The robot part (build_robot): the arm's model with its attached hand (model.attach, same folder)
or gripper (model.gripper, another folder: compose.attach_gripper); the base mounted on the
table top, the model's enclosing <frame>s included (T_world_model = T_mount: the frame the model
file is written in is placed at the task's robot pose); the state frame (model.state_frame, a
body fixed to the base when it is not the base itself); the TCP site; and, with
model.collide_links, every collision geom of the robot able to touch every other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import mujoco
import numpy as np

from statgen.config import RenderSettings, RobotSpec, TaskSpec
from statgen.core.camera import R_MJCAM_CVCAM
from statgen.core.geometry import R_to_quat_wxyz, look_at_R, quat_wxyz_to_R
from statgen.errors import ConfigError, GeometryError
from statgen.sim.assets import ResolvedModel
from statgen.sim.compose import attach_gripper
from statgen.sim.grippers import GripperSolver
from statgen.sim.stage import LookConfig, Stage, extend_spec, index_stage

TCP_SITE = "statgen/tcp"
BASE_FRAME_BODY = "statgen/base_frame"  # the state frame, when model.state_frame is not the base body's own
TABLE_BODY = "statgen/table"
# The geom groups MuJoCo renders by default (0, 1, 2); also what occludes a ray.
RENDERED_GROUPS = np.array([1, 1, 1, 0, 0, 0], dtype=np.uint8)

SEG_BACKGROUND, SEG_ROBOT, SEG_GRIPPER = 0, 1, 2


@dataclass(frozen=True)
class SceneIndex:
    """Ids and addresses into one compiled model, looked up once."""

    arm_qpos: np.ndarray  # (n_arm,) qpos addresses
    root_body: int  # the robot's base body: the robot is its subtree
    arm_ranges: np.ndarray  # (n_arm, 2) sampling ranges [rad or m]
    gripper_qpos: np.ndarray  # (n_grip,)
    gripper_closed: np.ndarray  # (n_grip,)
    gripper_open: np.ndarray  # (n_grip,)
    joint_names: tuple[str, ...]  # arm then gripper joints, the order of state.qpos
    tcp_site: int
    base_body: int  # the state frame's body: the base body, or BASE_FRAME_BODY fixed to it
    fingertip_bodies: tuple[int, ...]  # two body ids; () for an arm without a gripper
    fingertip_pos: np.ndarray  # (2, 3) [m] in those bodies' frames; (0, 3) without a gripper
    camera_ids: dict[str, int]
    robot_geoms: np.ndarray  # bool (ngeom,): geoms of the robot (base body's subtree)
    gripper_geoms: np.ndarray  # bool (ngeom,): geoms of the gripper bodies
    gripper_bodies: np.ndarray  # (k,) body ids
    gripper: GripperSolver | None = None  # the gripper's held and coupled joints; None: drivers only (or no gripper)


def _names(seq) -> str:
    names = [x.name for x in seq if x.name]
    return ", ".join(names[:40]) + (" ..." if len(names) > 40 else "")


def _spec_from(resolved: ResolvedModel, key: str) -> mujoco.MjSpec:
    try:
        return mujoco.MjSpec.from_string(resolved.text(key), assets=resolved.assets)
    except Exception as e:  # noqa: BLE001 - MuJoCo raises ValueError with a multi-line text
        raise ConfigError(f"robot {resolved.robot}: MuJoCo cannot parse {key}: {str(e).strip().splitlines()[-1]}") from None


def mount_pose(task: TaskSpec) -> np.ndarray:
    """T_world_mount (4x4): where the task puts the robot model's own frame (the frame its file is
    written in): on the table top at (x, y, height + dz), yawed about world z. [m]"""
    yaw = np.deg2rad(task.robot_yaw_deg)
    T = np.eye(4)
    T[:3, :3] = quat_wxyz_to_R(np.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]))
    T[:3, 3] = [task.robot_pos[0], task.robot_pos[1], task.table_height + task.robot_pos[2]]
    return T


def framed_task(task: TaskSpec, robot: RobotSpec) -> TaskSpec:
    """The task with its world-fixed cameras framed for the robot (RobotSpec.framing): each camera's
    position and target moved toward the robot's mount point by framing.scale. Scale 1 returns the
    task itself, unchanged (the Panda's framing)."""
    s = robot.framing.scale
    if s == 1.0:
        return task
    m = mount_pose(task)[:3, 3]

    def toward(p):
        return tuple(float(x) for x in m + s * (np.asarray(p, dtype=float) - m))

    cams = tuple(c if c.on_wrist else dataclasses.replace(c, pos=toward(c.pos), target=toward(c.target)) for c in task.cameras)
    return dataclasses.replace(task, cameras=cams)


def _local_T(spec: mujoco.MjSpec, el) -> np.ndarray:
    """A body's or frame's own pose in its parent frame (4x4), however its orientation is written."""
    if el.alt.type == mujoco.mjtOrientation.mjORIENTATION_QUAT:
        q = np.asarray(el.quat, dtype=float)
    else:
        q = np.asarray(mujoco.MjSpec.resolve_orientation(spec.compiler.degree, spec.compiler.eulerseq, el.alt), dtype=float)
    T = np.eye(4)
    T[:3, :3] = quat_wxyz_to_R(q / np.linalg.norm(q))
    T[:3, 3] = el.pos
    return T


def _mount_base(spec: mujoco.MjSpec, base: mujoco.MjsBody, robot: RobotSpec, task: TaskSpec) -> None:
    """Put the model's frame at the task's mount pose: T_world_base' = T_mount · T_world_base (as in the file).

    The base body's pose is relative to any <frame>s around it (T_F), so its new own pose is
    T_F⁻¹ · T_mount · T_F · T_body. Without frames and with a quaternion orientation this is the
    first mounting code, operation for operation (the golden run's numbers)."""
    if base.parent is None or base.parent.name != "world":
        raise ConfigError(f"robot {robot.name}: model.base_body {robot.model.base_body!r} must be a top-level body (a child of the world), "
                          f"got a child of {base.parent.name if base.parent is not None else None!r}")
    T_mount = mount_pose(task)
    R_mount, p_mount = T_mount[:3, :3], T_mount[:3, 3]
    if base.frame is None and base.alt.type == mujoco.mjtOrientation.mjORIENTATION_QUAT:
        base.pos = p_mount + R_mount @ np.asarray(base.pos)
        base.quat = R_to_quat_wxyz(R_mount @ quat_wxyz_to_R(np.asarray(base.quat)))
        return
    T_F = np.eye(4)
    f = base.frame
    while f is not None:  # innermost first: T_F = T_outer · ... · T_inner
        T_F = _local_T(spec, f) @ T_F
        f = f.frame
    T_new = np.linalg.inv(T_F) @ T_mount @ T_F @ _local_T(spec, base)
    base.pos = T_new[:3, 3]
    base.quat = R_to_quat_wxyz(T_new[:3, :3])
    base.alt.type = mujoco.mjtOrientation.mjORIENTATION_QUAT


def _collide_links(spec: mujoco.MjSpec, base: mujoco.MjsBody) -> None:
    """model.collide_links: every collision geom of the robot (contype or conaffinity set) gets bit 1 in
    both, so any two links can touch. MuJoCo skips parent-child pairs, but not for bodies welded to the
    world: the first moving links are excluded here against the base's static bodies, as they would
    be against a moving parent (they overlap at their joints by construction)."""
    for geom in base.find_all(mujoco.mjtObj.mjOBJ_GEOM):
        if geom.contype or geom.conaffinity:
            geom.contype, geom.conaffinity = geom.contype | 1, geom.conaffinity | 1
    static, todo = [], [base]
    while todo:  # the base and the bodies welded to it (no joint on the way)
        b = todo.pop()
        static.append(b)
        todo += [c for c in b.bodies if not c.joints]
    first = [c for s in static for c in s.bodies if c.joints]
    for child in first:
        for s in static:
            spec.add_exclude(bodyname1=s.name, bodyname2=child.name)


def build_robot(*, robot: RobotSpec, task: TaskSpec, resolved: ResolvedModel) -> tuple[mujoco.MjSpec, list[mujoco.MjSpec]]:
    """The robot part of the scene: the arm with its hand or gripper attached, mounted on the table top,
    its state frame, TCP site and collision bits (and the child specs, which must outlive it until compiled)."""
    spec = _spec_from(resolved, resolved.main_file)
    children = []
    for att, key in zip(robot.model.attach, resolved.attach_files):
        child = _spec_from(resolved, key)
        site, body = spec.site(att.site), child.body(att.body)
        if site is None:
            raise ConfigError(f"robot {robot.name}: model.attach site {att.site!r} not in {resolved.main_file}; valid sites: {_names(spec.sites)}")
        if body is None:
            raise ConfigError(f"robot {robot.name}: model.attach body {att.body!r} not in {key}; valid bodies: {_names(child.bodies)}")
        site.attach_body(body, att.prefix, "")
        children.append(child)
    g = robot.model.gripper
    if g is not None:
        child = _spec_from(resolved, resolved.attach_files[len(robot.model.attach)])
        try:
            attach_gripper(spec, child, gripper_body=g.body, prefix=g.prefix, parent_body=g.parent_body, parent_site=g.parent_site,
                           pos=g.mount.pos, quat_wxyz=g.mount.quat)
        except ConfigError as e:
            raise ConfigError(f"robot {robot.name}: {e}") from None
        children.append(child)

    def body(name: str, what: str) -> mujoco.MjsBody:
        b = spec.body(name)
        if b is None:
            raise ConfigError(f"robot {robot.name}: {what} body {name!r} is not in the model; valid bodies: {_names(spec.bodies)}")
        return b

    # Mount the robot base on the table top.
    base = body(robot.model.base_body, "model.base_body")
    _mount_base(spec, base, robot, task)
    sf = robot.model.state_frame
    if not sf.is_identity:
        base.add_body(name=BASE_FRAME_BODY, pos=list(sf.pos), quat=list(sf.quat))
    if robot.model.collide_links:
        _collide_links(spec, base)

    # The TCP.
    if robot.tcp.site is None:
        body(robot.tcp.body, "tcp").add_site(name=TCP_SITE, pos=list(robot.tcp.pos), size=[0.005, 0, 0], group=5)
    elif spec.site(robot.tcp.site) is None:
        raise ConfigError(f"robot {robot.name}: tcp.site {robot.tcp.site!r} is not in the model; valid sites: {_names(spec.sites)}")
    for name in (*robot.gripper_bodies, *(f.body for f in robot.fingertips)):
        body(name, "gripper")
    if robot.wrist_camera is not None:
        body(robot.wrist_camera.body, "wrist_camera")
    return spec, children


def build_spec(
    *, robot: RobotSpec, task: TaskSpec, resolved: ResolvedModel, cameras: tuple[str, ...], render: RenderSettings
) -> tuple[mujoco.MjSpec, list[mujoco.MjSpec]]:
    """The scene as an MjSpec (and the attached child specs, which must outlive it until compiled).
    The task's world cameras are framed for the robot (framed_task)."""
    task = framed_task(task, robot)
    spec, children = build_robot(robot=robot, task=task, resolved=resolved)

    def body(name: str, what: str) -> mujoco.MjsBody:
        b = spec.body(name)
        if b is None:
            raise ConfigError(f"robot {robot.name}: {what} body {name!r} is not in the model; valid bodies: {_names(spec.bodies)}")
        return b

    # Scene: floor, table, props, lights.
    wb = spec.worldbody
    wb.add_geom(name="statgen/floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[4, 4, 0.1], rgba=list(task.floor_rgba))
    sx, sy, sz = task.table_size
    table = wb.add_body(name=TABLE_BODY, pos=[task.table_center_xy[0], task.table_center_xy[1], task.table_height])
    table.add_geom(name="statgen/table_top", type=mujoco.mjtGeom.mjGEOM_BOX, size=[sx / 2, sy / 2, sz / 2], pos=[0, 0, -sz / 2], rgba=list(task.table_rgba))
    leg_h = (task.table_height - sz) / 2
    for i, (dx, dy) in enumerate([(1, 1), (1, -1), (-1, 1), (-1, -1)]):
        table.add_geom(name=f"statgen/table_leg{i}", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.03, 0.03, leg_h],
                       pos=[dx * (sx / 2 - 0.05), dy * (sy / 2 - 0.05), -sz - leg_h], rgba=list(task.table_rgba))
    spec.add_exclude(bodyname1=robot.model.base_body, bodyname2=TABLE_BODY)
    shape = {"box": mujoco.mjtGeom.mjGEOM_BOX, "sphere": mujoco.mjtGeom.mjGEOM_SPHERE, "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER}
    for i, p in enumerate(task.props):
        table.add_geom(name=f"statgen/prop{i}", type=shape[p.shape], size=list(p.size),
                       pos=[p.pos[0] - task.table_center_xy[0], p.pos[1] - task.table_center_xy[1], p.pos[2]], rgba=list(p.rgba))
    for i, (pos, d) in enumerate(task.lights):
        wb.add_light(name=f"statgen/light{i}", pos=list(pos), dir=list(d), diffuse=[0.6, 0.6, 0.6], castshadow=True)

    # Cameras.
    def look_at(eye, target, up=(0.0, 0.0, 1.0), *, what: str) -> np.ndarray:
        try:
            return look_at_R(eye=np.array(eye), target=np.array(target), up=np.array(up))
        except GeometryError as e:
            raise ConfigError(f"{what}: {e}; move pos or target") from None

    for name in cameras:
        c = task.camera(name)
        if c.on_wrist:
            if robot.wrist_camera is None:
                raise ConfigError(f"robot {robot.name} has no [wrist_camera] in {robot.source_path}; drop 'wrist' from cameras or add one")
            w = robot.wrist_camera
            R = look_at(w.pos, w.target, w.up, what=f"robot {robot.name}: wrist_camera")
            body(w.body, "wrist_camera").add_camera(name=name, pos=list(w.pos), quat=list(R_to_quat_wxyz(R)), fovy=c.fovy_deg)
        elif c.calibrated:  # on the state frame's body (it moves with a layout's base pose), with the given K
            T = np.array(c.T_base_cam)  # in the base frame of the labels: the state frame (model.state_frame), not the model's base body
            on = spec.body(BASE_FRAME_BODY)
            if on is None:  # no model.state_frame: the base body's own frame is the state frame
                on = body(robot.model.base_body, "model.base_body")
            cam = on.add_camera(name=name, pos=list(T[:3, 3]), quat=list(R_to_quat_wxyz(T[:3, :3] @ R_MJCAM_CVCAM)))
            set_calibrated(cam, K=np.array(c.K), width=c.width, height=c.height)
        else:
            R = look_at(c.pos, c.target, what=f"task {task.name}: cameras.{name}")
            wb.add_camera(name=name, pos=list(c.pos), quat=list(R_to_quat_wxyz(R)), fovy=c.fovy_deg)

    sizes = {(task.camera(n).width, task.camera(n).height) for n in cameras}
    if len(sizes) != 1:
        raise ConfigError(f"task {task.name}: the enabled cameras {list(cameras)} must share one image size (one renderer per worker), got {sorted(sizes)}")
    (w_px, h_px), = sizes
    spec.visual.global_.offwidth = max(w_px, 16)
    spec.visual.global_.offheight = max(h_px, 16)
    spec.visual.quality.offsamples = render.multisample
    return spec, children


def set_calibrated(cam: mujoco.MjsCamera, *, K: np.ndarray, width: int, height: int) -> None:
    """Give a camera OpenCV intrinsics K (3, 3) for a width x height image (DESIGN.md: MuJoCo's principal
    offset is the negative of OpenCV's offset from ((W-1)/2, (H-1)/2))."""
    cam.sensor_size = [width / 1000.0, height / 1000.0]  # any positive size: pixel values are converted with it
    cam.resolution = [width, height]
    cam.focal_pixel = [float(K[0, 0]), float(K[1, 1])]
    cam.principal_pixel = [-(float(K[0, 2]) - (width - 1) / 2), -(float(K[1, 2]) - (height - 1) / 2)]


def write_intrinsics(model: mujoco.MjModel, cam_id: int, K: np.ndarray, *, width: int, height: int) -> None:
    """Set a calibrated camera's K at run time (cam_intrinsic, in its sensor's length units); the render follows."""
    rho = np.array([width, height], dtype=float) / model.cam_sensorsize[cam_id]  # pixels per length unit
    model.cam_intrinsic[cam_id] = [K[0, 0] / rho[0], K[1, 1] / rho[1], -(K[0, 2] - (width - 1) / 2) / rho[0], -(K[1, 2] - (height - 1) / 2) / rho[1]]


def compile_scene(spec: mujoco.MjSpec, robot_name: str) -> mujoco.MjModel:
    try:
        return spec.compile()
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"robot {robot_name}: the scene does not compile: {str(e).strip().splitlines()[-1]}") from None


def index_scene(model: mujoco.MjModel, *, robot: RobotSpec, cameras: tuple[str, ...]) -> SceneIndex:
    """Look up every id the sampler needs, and check the robot TOML against the model."""

    def jid(name: str, what: str) -> int:
        i = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if i < 0:
            valid = ", ".join(model.joint(k).name for k in range(model.njnt))
            raise ConfigError(f"robot {robot.name}: {what} joint {name!r} is not in the model; valid joints: {valid}")
        if int(model.jnt_type[i]) not in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            raise ConfigError(f"robot {robot.name}: joint {name!r} must be a hinge or slide joint")
        return i

    def bid(name: str) -> int:
        return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)

    overrides = dict(robot.arm_ranges)
    arm_ids = [jid(j, "arm") for j in robot.arm_joints]
    ranges = []
    for j, i in zip(robot.arm_joints, arm_ids):
        if j in overrides:
            ranges.append(overrides[j])
        elif model.jnt_limited[i]:
            ranges.append(tuple(model.jnt_range[i]))
        else:
            raise ConfigError(f"robot {robot.name}: joint {j!r} has no limits in the model; give it a sampling range under [arm.ranges] in {robot.source_path}")
    ranges = np.array(ranges, dtype=float)
    if np.any(ranges[:, 0] >= ranges[:, 1]):
        bad = robot.arm_joints[int(np.argmax(ranges[:, 0] >= ranges[:, 1]))]
        raise ConfigError(f"robot {robot.name}: joint {bad!r} has an empty sampling range; expected low < high")
    grip_ids = [jid(j, "gripper") for j in robot.gripper_joints]
    if model.body_weldid[bid(robot.model.base_body)] != 0:
        raise ConfigError(f"robot {robot.name}: base body {robot.model.base_body!r} moves (a joint connects it to the world); name a body fixed to the world")
    tcp_name = robot.tcp.site or TCP_SITE
    tcp = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, tcp_name)
    root = bid(robot.model.base_body)
    state_frame = bid(BASE_FRAME_BODY)
    base = state_frame if state_frame >= 0 else root

    # The robot is the base body's subtree.
    in_robot = np.zeros(model.nbody, dtype=bool)
    in_robot[root] = True
    for b in range(root + 1, model.nbody):  # bodies are stored parents first
        in_robot[b] = in_robot[model.body_parentid[b]]
    grip_bodies = np.array([bid(b) for b in robot.gripper_bodies], dtype=int)
    robot_geoms = in_robot[model.geom_bodyid]
    gripper_geoms = np.isin(model.geom_bodyid, grip_bodies)
    cam_ids = {c: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, c) for c in cameras}
    return SceneIndex(
        arm_qpos=model.jnt_qposadr[arm_ids].copy(), root_body=root, arm_ranges=ranges, gripper=gripper_solver(model, robot=robot),
        gripper_qpos=model.jnt_qposadr[grip_ids].copy(), gripper_closed=np.array(robot.gripper_closed), gripper_open=np.array(robot.gripper_open),
        joint_names=(*robot.arm_joints, *robot.gripper_joints), tcp_site=tcp, base_body=base,
        fingertip_bodies=tuple(bid(f.body) for f in robot.fingertips),
        fingertip_pos=np.array([f.pos for f in robot.fingertips], dtype=float).reshape(-1, 3),
        camera_ids=cam_ids, robot_geoms=robot_geoms, gripper_geoms=gripper_geoms, gripper_bodies=grip_bodies,
    )


def gripper_solver(model: mujoco.MjModel, *, robot: RobotSpec) -> GripperSolver | None:
    """The solver that sets the gripper's held and coupled joints from its drivers; None when the
    drivers are all there is (then set_qpos writes them alone, as statgen always did).

    A gripper without [gripper.coupling] is still checked: its listed joints must leave every
    equality constraint that involves them satisfied (e.g. both carriages of a joint-coupled pair)."""
    if not robot.has_gripper:
        return None
    c = robot.coupling
    try:
        solver = GripperSolver.from_model(model, driver_joints=robot.gripper_joints, closed=robot.gripper_closed, open=robot.gripper_open,
                                          coupled_joints=c.coupled, held=dict(c.held))
    except ConfigError as e:
        raise ConfigError(f"robot {robot.name}: {e}") from None
    return solver if (c.coupled or c.held) else None


@dataclass
class Scene:
    """A compiled scene and its index. Not shared between processes: each worker builds its own.

    look: the randomisation it was built for; stage: what that added (None at level none).
    intrinsics: the K of each calibrated camera as it is set now (the labels' K, exactly as given or
    as a variation wrote it; a camera with a field of view has none here and its K follows cam_fovy)."""

    model: mujoco.MjModel
    index: SceneIndex
    robot: RobotSpec
    task: TaskSpec
    cameras: tuple[str, ...]
    look: LookConfig = field(default_factory=LookConfig)
    stage: Stage | None = None
    intrinsics: dict[str, np.ndarray] = field(default_factory=dict)


def set_configuration(scene: Scene, data: mujoco.MjData, *, q_arm: np.ndarray, open_fraction: float, cameras: bool = True) -> np.ndarray:
    """Write the arm joints [rad or m] and the gripper opening [0..1] into qpos, then run FK. Returns
    the qpos written (arm joints, then gripper joints: the order of state.qpos).

    cameras=False skips the camera/light poses (mj_camlight), for tests that need only bodies.
    """
    ix = scene.index
    q_gripper = ix.gripper_closed + open_fraction * (ix.gripper_open - ix.gripper_closed)
    qpos = np.concatenate([q_arm, q_gripper])
    set_qpos(scene, data, qpos=qpos, cameras=cameras)
    return qpos


def set_qpos(scene: Scene, data: mujoco.MjData, *, qpos: np.ndarray, cameras: bool = True) -> None:
    """Write state.qpos (arm joints, then gripper driver joints; shape (n_arm + n_grip,)) and run FK.

    A coupled gripper's held and coupled joints are set from the drivers (GripperSolver.apply_drivers:
    the drivers exactly as given, the rest consistent with the model's equality constraints)."""
    ix = scene.index
    n_arm = len(ix.arm_qpos)
    data.qpos[ix.arm_qpos] = qpos[:n_arm]
    if ix.gripper is None:
        data.qpos[ix.gripper_qpos] = qpos[n_arm:]
    else:
        ix.gripper.apply_drivers(data, qpos[n_arm:])
    mujoco.mj_kinematics(scene.model, data)
    if cameras:
        mujoco.mj_camlight(scene.model, data)


def build_scene(
    *, robot: RobotSpec, task: TaskSpec, resolved: ResolvedModel, cameras: tuple[str, ...], render: RenderSettings,
    look: LookConfig | None = None,
) -> Scene:
    """The compiled scene. look: the randomisation it is built for (None: level none, the task as it is)."""
    look = look or LookConfig()
    spec, _children = build_spec(robot=robot, task=task, resolved=resolved, cameras=cameras, render=render)
    task = framed_task(task, robot)  # the cameras as built (the looks jitter around them)
    if look.level != "none":
        # The model's statistics (extent, centre) set the clip planes and the headlight: keep the task's
        # scene's, or the walls and the parked distractors far away would push the near plane out
        # past the wrist camera's gripper.
        plain = compile_scene(spec, robot.name)
        spec.stat.extent, spec.stat.center = float(plain.stat.extent), [float(x) for x in plain.stat.center]
        spec.stat.meansize = float(plain.stat.meansize)
        extend_spec(spec, task=task, level=look.level, levers=look.levers, slots=look.slots, texture_size=look.texture_size,
                    floor_grid_m=look.floor_grid_m, user=look.user)
    model = compile_scene(spec, robot.name)
    index = index_scene(model, robot=robot, cameras=cameras)
    stage = None
    if look.level != "none":
        stage = index_stage(model, task=task, robot=robot, level=look.level, levers=look.levers, slots=look.slots, user=look.user,
                            base_body=index.root_body, state_body=index.base_body, robot_geoms=index.robot_geoms)
    intrinsics = {n: np.array(task.camera(n).K, dtype=float) for n in cameras if task.camera(n).calibrated}
    return Scene(model=model, index=index, robot=robot, task=task, cameras=cameras, look=look, stage=stage, intrinsics=intrinsics)
