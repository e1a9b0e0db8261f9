"""What randomisation adds to the scene before it is compiled, and where it sits in the compiled model.

At randomize level "none" nothing is added: the MjSpec is exactly the task's (extra geoms would
change the model's extent, hence the clip planes, hence pixels). At "appearance" and "full"
`extend_spec` adds, all invisible to the robot's configurations:

- a background: three walls (boxes with their thin axis along local z, so that a 2D texture
  spans the visible face; contype 0; behind and beside the table as seen from the front camera);
- the floor drawn on a coarser grid (`floor_grid_m`; the task's floor at "none" keeps its own);
- a light pool of N_LIGHTS lights (the task's and the robot's own lights are switched off);
- texture slots: `texture_slots` 2D RGB textures of `texture_size`^2 with one material each (texture
  in the RGB role), filled per shard; and two of MuJoCo's builtin textures (checker, gradient);
- at "full" only: the table compiled at its largest size and height (a layout only shrinks
  it at run time, so every collision bound stays conservative), and a distractor pool: for each
  primitive shape, `distractors` mocap bodies, plus one per user mesh; unused ones are parked
  below the floor, in a geom group that is not drawn (HIDDEN_GROUP) and without collisions.

`index_stage` looks up every id the variation (statgen.sim.looks) needs in the compiled model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mujoco
import numpy as np

from statgen.config import RobotSpec, TaskSpec
from statgen.sim.library import UserFiles

N_LIGHTS = 4  # the light pool; 1 or 2 are on by default (each active light costs ~4% of a frame on llvmpipe)
SHAPES = ("box", "cylinder", "sphere", "capsule", "ellipsoid")
BUILTINS = ("builtin_checker", "builtin_gradient")  # MuJoCo's procedural textures, compiled once
WALL_HALF = (4.0, 1.5, 0.02)  # a wall's half extents: along it, up, thickness [m]
PARK_Z = -10.0  # where unused distractors wait [m]
PRIMITIVE_SLICES, PRIMITIVE_STACKS = 16, 8  # MuJoCo's visual/quality numslices, numstacks at appearance and full
HIDDEN_GROUP = 3  # a geom group MuJoCo does not draw and statgen's rays ignore
TABLE_TOP, TABLE_LEG, FLOOR, PROP = "statgen/table_top", "statgen/table_leg", "statgen/floor", "statgen/prop"
WALLS = ("back", "left", "right")
_RGB = int(mujoco.mjtTextureRole.mjTEXROLE_RGB)
_NROLE = int(mujoco.mjtTextureRole.mjNTEXROLE)
_GEOM = {"box": mujoco.mjtGeom.mjGEOM_BOX, "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER, "sphere": mujoco.mjtGeom.mjGEOM_SPHERE,
         "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE, "ellipsoid": mujoco.mjtGeom.mjGEOM_ELLIPSOID, "mesh": mujoco.mjtGeom.mjGEOM_MESH}


@dataclass(frozen=True)
class Extents:
    """The largest table a layout may draw (what the model is compiled with at level full)."""

    size: tuple[float, float, float]  # full extents [m]
    height: float  # world z of the top [m]


def table_extents(task: TaskSpec, levers: dict[str, Any]) -> Extents:
    sx, sy, sz = task.table_size
    hi = max(1.0, levers["table_scale"][1])
    return Extents((sx * hi, sy * hi, sz), task.table_height + max(0.0, levers["table_height_m"][1]))


def _material(spec: mujoco.MjSpec, name: str, texture: str) -> None:
    names = [""] * _NROLE
    names[_RGB] = texture  # MjSpec fills no role by itself: index 0 (USER) is ignored by the renderer
    spec.add_material(name=name, texuniform=True, texrepeat=[1, 1]).textures = names


def extend_spec(spec: mujoco.MjSpec, *, task: TaskSpec, level: str, levers: dict[str, Any], slots: int, texture_size: int,
                floor_grid_m: float, user: UserFiles | None) -> None:
    """Add the background, light pool, texture slots and (level full) the distractor pool and the largest table."""
    wb = spec.worldbody
    # Primitives (props, distractors) drawn with fewer facets than MuJoCo's 28 x 16: on a CPU renderer
    # each facet is lit per vertex, and a few spheres and capsules cost several % of a frame.
    spec.visual.quality.numslices, spec.visual.quality.numstacks = PRIMITIVE_SLICES, PRIMITIVE_STACKS
    floor = spec.geom(FLOOR)  # randomize.floor_grid_m: the plane's render grid (settings.py says why)
    floor.size = [floor.size[0], floor.size[1], floor_grid_m]
    for w in WALLS:
        wb.add_geom(name=f"statgen/wall_{w}", type=mujoco.mjtGeom.mjGEOM_BOX, size=list(WALL_HALF), pos=[0, 0, -20],
                    rgba=[0.7, 0.7, 0.7, 1], contype=0, conaffinity=0)
    for i in range(N_LIGHTS):
        wb.add_light(name=f"statgen/look_light{i}", pos=[0, 0, 3], dir=[0, 0, -1], diffuse=[0.5, 0.5, 0.5], castshadow=True,
                     cutoff=60.0, exponent=2.0)
    n = texture_size
    grey = np.full((n, n, 3), 128, dtype=np.uint8).tobytes()
    for k in range(slots):
        t = spec.add_texture(name=f"statgen/slot{k}", type=mujoco.mjtTexture.mjTEXTURE_2D, width=n, height=n, nchannel=3)
        t.data = grey
        _material(spec, f"statgen/slot{k}", t.name)
    spec.add_texture(name="statgen/builtin_checker", type=mujoco.mjtTexture.mjTEXTURE_2D, builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
                     width=n, height=n, rgb1=[0.9, 0.9, 0.9], rgb2=[0.35, 0.35, 0.35])
    spec.add_texture(name="statgen/builtin_gradient", type=mujoco.mjtTexture.mjTEXTURE_2D, builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT,
                     width=n, height=n, rgb1=[0.95, 0.95, 0.95], rgb2=[0.3, 0.3, 0.3])
    for b in BUILTINS:
        _material(spec, f"statgen/{b}", f"statgen/{b}")
    if level != "full":
        return
    # The largest table (a layout shrinks it), legs as long as the highest table needs.
    ext = table_extents(task, levers)
    sx, sy, sz = ext.size
    spec.geom(TABLE_TOP).size = [sx / 2, sy / 2, sz / 2]
    leg_h = (ext.height - sz) / 2
    for i, (dx, dy) in enumerate([(1, 1), (1, -1), (-1, 1), (-1, -1)]):
        g = spec.geom(f"{TABLE_LEG}{i}")
        g.size = [0.03, 0.03, leg_h]
        g.pos = [dx * (sx / 2 - 0.05), dy * (sy / 2 - 0.05), -sz - leg_h]
    # The distractor pool: one mocap body per object, compiled at its largest size.
    smax = float(levers["distractor_size_m"][1])
    n = int(levers["distractors"])
    for shape in SHAPES:
        for j in range(n):
            b = wb.add_body(name=f"statgen/distractor_{shape}{j}", mocap=True, pos=[0, 0, PARK_Z])
            b.add_geom(name=f"statgen/distractor_{shape}{j}", type=_GEOM[shape], size=[smax, smax, smax], rgba=[0.6, 0.6, 0.6, 1],
                       contype=0, conaffinity=0, group=HIDDEN_GROUP)
    for j, mesh in enumerate(user.meshes if user and n else ()):
        spec.add_mesh(name=f"statgen/user_mesh{j}", uservert=mesh.vertices.ravel().tolist(), userface=mesh.faces.ravel().tolist())
        b = wb.add_body(name=f"statgen/distractor_mesh{j}", mocap=True, pos=[0, 0, PARK_Z])
        b.add_geom(name=f"statgen/distractor_mesh{j}", type=_GEOM["mesh"], meshname=f"statgen/user_mesh{j}", rgba=[0.6, 0.6, 0.6, 1],
                   contype=0, conaffinity=0, group=HIDDEN_GROUP)


@dataclass(frozen=True)
class Slot:
    """One distractor of the pool."""

    shape: str  # one of SHAPES, or "mesh"
    mesh: str  # a user mesh: its path relative to mesh_dir; "" otherwise
    body: int
    geom: int
    mocap: int
    max_size: np.ndarray  # (3,) geom_size as compiled [m]
    mesh_extent: np.ndarray | None = None  # a mesh: (3,) half extents in x, y and its height [m]


@dataclass(frozen=True)
class Stage:
    """Ids into the compiled model, for the variation."""

    level: str
    floor: int
    table_body: int
    table_top: int
    legs: tuple[int, ...]
    props: tuple[int, ...]
    walls: tuple[int, ...]
    lights: tuple[int, ...]  # the pool
    other_lights: tuple[int, ...]  # the task's and the robot's: off at appearance and full
    textures: tuple[int, ...]  # slot texture ids
    materials: tuple[int, ...]  # slot materials, then the builtins' (a surface's "material" indexes this)
    distractors: tuple[Slot, ...]
    robot_materials: tuple[int, ...]  # materials that only robot geoms use (randomize.robot_colors)
    extents: Extents | None  # the largest table (level full)
    # The model's base body (model.base_body, the robot's root: a layout moves it, and the whole robot with it).
    base_pos0: np.ndarray = field(default_factory=lambda: np.zeros(3))  # base body_pos as compiled (the task's mount)
    base_quat0: np.ndarray = field(default_factory=lambda: np.array([1.0, 0, 0, 0]))
    T_world_parent: np.ndarray = field(default_factory=lambda: np.eye(4))  # the base's parent body (static)
    base_radius: float = 0.0  # the base body's footprint: a circle about its origin [m]
    T_mount_state: np.ndarray = field(default_factory=lambda: np.eye(4))  # the state frame in the base body's frame (static)


def _ids(model: mujoco.MjModel, kind: mujoco.mjtObj, names: list[str]) -> tuple[int, ...]:
    return tuple(mujoco.mj_name2id(model, kind, n) for n in names)


def index_stage(model: mujoco.MjModel, *, task: TaskSpec, robot: RobotSpec, level: str, levers: dict[str, Any], slots: int,
                user: UserFiles | None, base_body: int, state_body: int, robot_geoms: np.ndarray) -> Stage:
    """base_body: the model's base body (the robot's root, what a layout moves); state_body: the state
    frame's body (base_body itself, or a body fixed to it: model.state_frame)."""
    G, B = mujoco.mjtObj.mjOBJ_GEOM, mujoco.mjtObj.mjOBJ_BODY
    pool = _ids(model, mujoco.mjtObj.mjOBJ_LIGHT, [f"statgen/look_light{i}" for i in range(N_LIGHTS)])
    distractors = []
    if level == "full":
        for shape in SHAPES:
            for j in range(int(levers["distractors"])):
                g = mujoco.mj_name2id(model, G, f"statgen/distractor_{shape}{j}")
                b = int(model.geom_bodyid[g])
                distractors.append(Slot(shape, "", b, g, int(model.body_mocapid[b]), model.geom_size[g].copy()))
        for j, mesh in enumerate(user.meshes if user and int(levers["distractors"]) else ()):
            g = mujoco.mj_name2id(model, G, f"statgen/distractor_mesh{j}")
            b = int(model.geom_bodyid[g])
            v = mesh.vertices
            ext = np.array([np.abs(v[:, :2]).max(0)[0], np.abs(v[:, :2]).max(0)[1], v[:, 2].max()])
            distractors.append(Slot("mesh", mesh.path, b, g, int(model.body_mocapid[b]), model.geom_size[g].copy(), ext))
    mats = _ids(model, mujoco.mjtObj.mjOBJ_MATERIAL, [f"statgen/slot{k}" for k in range(slots)] + [f"statgen/{b}" for b in BUILTINS])
    # Materials used by robot geoms only.
    used_by_robot = {int(m) for m in model.geom_matid[robot_geoms] if m >= 0}
    used_elsewhere = {int(m) for m in model.geom_matid[~robot_geoms] if m >= 0}
    d = mujoco.MjData(model)
    mujoco.mj_kinematics(model, d)
    parent = int(model.body_parentid[base_body])
    T_wp = np.eye(4)
    T_wp[:3, :3], T_wp[:3, 3] = d.xmat[parent].reshape(3, 3), d.xpos[parent]
    base_geoms = np.flatnonzero(model.geom_bodyid == base_body)
    T_wb, T_ws = np.eye(4), np.eye(4)
    T_wb[:3, :3], T_wb[:3, 3] = d.xmat[base_body].reshape(3, 3), d.xpos[base_body]
    T_ws[:3, :3], T_ws[:3, 3] = d.xmat[state_body].reshape(3, 3), d.xpos[state_body]
    radius = max((float(np.linalg.norm((d.geom_xpos[g] - d.xpos[base_body])[:2])) + float(model.geom_rbound[g]) for g in base_geoms), default=0.1)
    return Stage(
        level=level, floor=mujoco.mj_name2id(model, G, FLOOR), table_body=mujoco.mj_name2id(model, B, "statgen/table"),
        table_top=mujoco.mj_name2id(model, G, TABLE_TOP), legs=_ids(model, G, [f"{TABLE_LEG}{i}" for i in range(4)]),
        props=_ids(model, G, [f"{PROP}{i}" for i in range(len(task.props))]), walls=_ids(model, G, [f"statgen/wall_{w}" for w in WALLS]),
        lights=pool, other_lights=tuple(i for i in range(model.nlight) if i not in pool),
        textures=_ids(model, mujoco.mjtObj.mjOBJ_TEXTURE, [f"statgen/slot{k}" for k in range(slots)]), materials=mats,
        distractors=tuple(distractors), robot_materials=tuple(sorted(used_by_robot - used_elsewhere)),
        extents=table_extents(task, levers) if level == "full" else None,
        base_pos0=model.body_pos[base_body].copy(), base_quat0=model.body_quat[base_body].copy(), T_world_parent=T_wp, base_radius=radius,
        T_mount_state=np.linalg.inv(T_wb) @ T_ws,
    )


@dataclass(frozen=True)
class LookConfig:
    """What a scene's randomisation needs to know: the level, the levers in force (pipeline, else task,
    else built-in), the texture slots and library, the seed (the library is the seed's), the user's files."""

    level: str = "none"
    levers: dict[str, Any] = field(default_factory=dict)
    slots: int = 8
    texture_size: int = 128  # a texture slot's side [px]
    floor_grid_m: float = 0.4  # the floor plane's size[2] [m]
    library: int = 128
    robot_colors: bool = False
    seed: int = 0
    user: UserFiles | None = None

    @classmethod
    def of(cls, config: Any, task: TaskSpec, user: UserFiles | None = None) -> LookConfig:
        """From a GenerateConfig (its `randomize` group and seed) and the task's [randomize] table."""
        r = config.randomize
        return cls(level=r.level, levers=r.resolve(task.levers), slots=r.texture_slots, texture_size=r.texture_size,
                   floor_grid_m=r.floor_grid_m, library=r.texture_library,
                   robot_colors=r.robot_colors, seed=config.seed, user=user)
