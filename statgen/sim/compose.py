"""An arm plus a gripper from another model: attach one MjSpec to another (MjSpec level).

`attach_gripper` mounts a gripper body (e.g. the Robotiq 2F-85's `base_mount`) on an
arm's flange: at a body or a site of the arm, with a position and rotation offset, under
a name prefix. It adds a site at the mount (the arm need not have one) and settles the
`<option>` values the two models disagree on before attaching, so the compile raises no
"Attach conflict" warning.

The files of both models travel in one assets dict: `statgen.sim.assets.attach_resolved`
merges two `ResolvedModel`s and renames the gripper's files whose base names clash
(MuJoCo's virtual file system matches files by base name).

Conventions: lengths in metres, quaternions wxyz; the offset (pos, quat) is the pose of
the mount frame in the parent frame (the body's, or the site's), and the gripper body
keeps its own pos/quat from its file, now relative to the mount frame.
"""

from __future__ import annotations

from collections.abc import Sequence

import mujoco
import numpy as np

from statgen.errors import ConfigError

__all__ = ["attach_gripper", "settle_option_conflicts"]

# <option> fields that MuJoCo compares when attaching (the ones a child's value can differ in).
_OPTION_FIELDS = (
    "timestep", "impratio", "tolerance", "ls_tolerance", "noslip_tolerance", "ccd_tolerance", "sleep_tolerance",
    "density", "viscosity", "o_margin", "iterations", "ls_iterations", "noslip_iterations", "ccd_iterations",
    "sdf_iterations", "sdf_initpoints", "integrator", "cone", "jacobian", "solver", "disableflags", "enableflags",
    "disableactuator", "gravity", "wind", "magnetic", "o_solref", "o_solimp", "o_friction",
)


def _names(seq) -> str:
    names = [x.name for x in seq if x.name]
    return ", ".join(names[:40]) + (" ..." if len(names) > 40 else "")


def settle_option_conflicts(parent: mujoco.MjSpec, child: mujoco.MjSpec) -> list[str]:
    """Make `child`'s <option> agree with `parent`'s, so that attaching raises no conflict warning.

    Where the parent has MuJoCo's default and the child another value (the 2F-85's
    impratio = 10), the parent adopts the child's value: the gripper's model was tuned
    with it, and MuJoCo's own 'merge' policy does the same. Where both differ from the
    default, the parent's value is kept. Returns one line per field changed in the parent.
    Both specs are modified in place.
    """
    default = mujoco.MjSpec().option
    adopted = []
    for field in _OPTION_FIELDS:
        if not hasattr(default, field):
            continue
        p, c, d = (np.asarray(getattr(o, field)) for o in (parent.option, child.option, default))
        if np.array_equal(p, c):
            continue
        if np.array_equal(p, d):
            setattr(parent.option, field, getattr(child.option, field))
            adopted.append(f"option.{field}: {p.tolist()} -> {c.tolist()} (from the gripper)")
        else:
            setattr(child.option, field, getattr(parent.option, field))
    return adopted


def _quat(q: Sequence[float], what: str) -> list[float]:
    q = np.asarray(q, dtype=float)
    if q.shape != (4,) or not np.all(np.isfinite(q)) or not np.linalg.norm(q) > 1e-9:
        raise ConfigError(f"{what}: expected a non-zero quaternion [w, x, y, z], got {np.asarray(q).tolist()}")
    return (q / np.linalg.norm(q)).tolist()


def attach_gripper(
    arm: mujoco.MjSpec,
    gripper: mujoco.MjSpec,
    *,
    gripper_body: str,
    prefix: str,
    parent_body: str | None = None,
    parent_site: str | None = None,
    pos: Sequence[float] = (0.0, 0.0, 0.0),
    quat_wxyz: Sequence[float] = (1.0, 0.0, 0.0, 0.0),
    mount_site: str | None = None,
) -> mujoco.MjsBody:
    """Attach `gripper`'s body `gripper_body` (and its subtree) to `arm`, in place.

    The mount frame is `parent_body`'s frame, or `parent_site`'s (exactly one of the two),
    moved by the offset `pos` [m] and `quat_wxyz`. A site named `mount_site` (default
    `<prefix>mount`, group 5, not drawn) marks it. Every name the gripper brings gets
    `prefix` (e.g. "gripper/"), including its equalities, tendons and actuators, which
    MuJoCo's attach carries along with the contact excludes and default classes.

    Returns the attached body (in `arm`). `gripper` must stay alive until `arm` is
    compiled (MuJoCo references its meshes until then). Both specs are modified.
    The compile needs one assets dict with both models' files (`assets.attach_resolved`).
    """
    if (parent_body is None) == (parent_site is None):
        raise ConfigError(f"gripper mount: expected exactly one of parent_body and parent_site, got body={parent_body!r}, site={parent_site!r}")
    p = np.asarray(pos, dtype=float)
    if p.shape != (3,) or not np.all(np.isfinite(p)):
        raise ConfigError(f"gripper mount: expected pos [x, y, z] in metres, got {np.asarray(pos).tolist()}")
    q = _quat(quat_wxyz, "gripper mount quat")
    child_body = gripper.body(gripper_body)
    if child_body is None:
        raise ConfigError(f"gripper: body {gripper_body!r} is not in the gripper model; valid bodies: {_names(gripper.bodies)}")
    site_frame = None
    if parent_site is not None:
        site = arm.site(parent_site)
        if site is None:
            raise ConfigError(f"gripper mount: parent_site {parent_site!r} is not in the arm model; valid sites: {_names(arm.sites)}")
        body = site.parent
        site_frame = body.add_frame(pos=list(site.pos), quat=list(site.quat))
        site_frame.alt = site.alt  # the site's orientation as written (euler, axisangle, ...)
        if site.frame is not None:
            site_frame.set_frame(site.frame)
    else:
        body = arm.body(parent_body)
        if body is None:
            raise ConfigError(f"gripper mount: parent_body {parent_body!r} is not in the arm model; valid bodies: {_names(arm.bodies)}")
    mount = body.add_frame(pos=p.tolist(), quat=q)
    if site_frame is not None:
        mount.set_frame(site_frame)
    name = mount_site if mount_site is not None else f"{prefix}mount"
    if arm.site(name) is not None:
        raise ConfigError(f"gripper mount: a site named {name!r} is already in the arm model; choose another prefix or mount_site")
    marker = body.add_site(name=name, group=5, size=[0.005, 0.0, 0.0])
    marker.set_frame(mount)
    settle_option_conflicts(arm, gripper)
    try:
        return mount.attach_body(child_body, prefix, "")
    except Exception as e:  # noqa: BLE001 - MuJoCo raises ValueError with a multi-line text
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"gripper: cannot attach body {gripper_body!r} with prefix {prefix!r}: {msg}") from None
