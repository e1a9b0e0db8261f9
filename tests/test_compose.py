"""Arm + gripper from two folders (statgen.sim.compose, assets.attach_resolved).

Truth comes from elsewhere: the mount pose is checked against the flange's pose from the
compiled arm alone and the gripper body's pose in the gripper model alone; warnings are
caught at MuJoCo's C level (mju_user_warning), in Python and on the process's stdout/stderr.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import mujoco
import numpy as np
import pytest

from statgen.core.geometry import R_to_quat_wxyz, euler_xyz_to_R, quat_wxyz_to_R
from statgen.errors import ConfigError
from statgen.sim.assets import attach_resolved, resolve_model_file
from statgen.sim.compose import attach_gripper

MENAGERIE = Path(os.environ.get("MENAGERIE_ROOT", Path(__file__).resolve().parents[2] / "shared/assets/menagerie"))
F85 = MENAGERIE / "robotiq_2f85" / "2f85.xml"
needs_models = pytest.mark.skipif(not F85.is_file(), reason=f"no Robotiq 2F-85 at {F85}")

YAW90 = R_to_quat_wxyz(euler_xyz_to_R(np.array([0.0, 0.0, np.pi / 2]))).tolist()
# robot -> (arm folder, arm file, mount keyword arguments): the research's mounts (ROBOTS.md, cross-cutting 2)
ARMS = {
    "ur5e": ("universal_robots_ur5e", "ur5e.xml", dict(parent_site="attachment_site")),
    "gen3": ("kinova_gen3", "gen3.xml", dict(parent_body="right_hand", quat_wxyz=YAW90)),
    "iiwa7": ("kuka_iiwa_7", "iiwa7.xml", dict(parent_body="right_hand")),
    "sawyer": ("rethink_robotics_sawyer", "sawyer.xml", dict(parent_body="right_hand")),
}


def _T(R: np.ndarray, p: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, p
    return T


class _Warnings:
    """Every warning MuJoCo or Python emits inside the block (fd-level output via capfd)."""

    def __enter__(self):
        self.mj: list[str] = []
        mujoco.set_mju_user_warning(self.mj.append)
        self._py = warnings.catch_warnings(record=True)
        self.py = self._py.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._py.__exit__(*exc)
        mujoco.set_mju_user_warning(None)


def compose(robot: str, *, offset_pos=(0.0, 0.0, 0.0), offset_quat=(1.0, 0.0, 0.0, 0.0)):
    folder, file, mount = ARMS[robot]
    arm = resolve_model_file(MENAGERIE / folder / file, robot=robot)
    grip = resolve_model_file(F85, robot="robotiq_2f85")
    both = attach_resolved(arm, grip, namespace="robotiq_2f85")
    spec = mujoco.MjSpec.from_string(both.text(both.main_file), assets=both.assets)
    child = mujoco.MjSpec.from_string(both.text(both.attach_files[-1]), assets=both.assets)
    kw = dict(mount)
    if any(offset_pos) or tuple(offset_quat) != (1.0, 0.0, 0.0, 0.0):
        base_q = np.array(kw.get("quat_wxyz", (1.0, 0.0, 0.0, 0.0)))
        q = np.zeros(4)
        mujoco.mju_mulQuat(q, base_q, np.asarray(offset_quat, float))
        kw["quat_wxyz"], kw["pos"] = q.tolist(), offset_pos
    attach_gripper(spec, child, gripper_body="base_mount", prefix="gripper/", **kw)
    return spec, child, both, kw


@needs_models
@pytest.mark.parametrize("robot", sorted(ARMS))
def test_arm_plus_2f85_compiles_without_warnings_and_sits_on_the_flange(robot, capfd):
    offset_pos, offset_quat = (0.001, -0.002, 0.003), R_to_quat_wxyz(euler_xyz_to_R(np.array([0.1, -0.2, 0.3])))
    capfd.readouterr()
    with _Warnings() as w:
        spec, child, both, kw = compose(robot, offset_pos=offset_pos, offset_quat=offset_quat)
        model = spec.compile()
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        for _ in range(3):
            mujoco.mj_step(model, data)
    out = capfd.readouterr()
    assert not w.mj and not w.py, f"warnings: {w.mj} {[str(x.message) for x in w.py]}"
    assert "WARNING" not in out.out + out.err, out.out + out.err
    assert not any(data.warning[i].number for i in range(len(data.warning)))
    assert model.opt.impratio == 10.0  # the 2F-85's value, adopted
    assert model.neq >= 3 and model.ntendon >= 1  # the linkage came along, prefixed

    # Independent route: the flange pose from the arm alone, the gripper body's pose from the gripper alone.
    folder, file, _ = ARMS[robot]
    arm_only = mujoco.MjModel.from_xml_path(str(MENAGERIE / folder / file))
    grip_only = mujoco.MjModel.from_xml_path(str(F85))
    d_arm, d_grip = mujoco.MjData(arm_only), mujoco.MjData(grip_only)
    rng = np.random.default_rng(3)
    q_arm = np.array([rng.uniform(*arm_only.jnt_range[j]) if arm_only.jnt_limited[j] else rng.uniform(-3, 3) for j in range(arm_only.njnt)])
    d_arm.qpos[:] = q_arm
    mujoco.mj_kinematics(arm_only, d_arm)
    mujoco.mj_kinematics(grip_only, d_grip)
    if "parent_site" in kw:
        s = arm_only.site(kw["parent_site"]).id
        T_flange = _T(d_arm.site_xmat[s].reshape(3, 3), d_arm.site_xpos[s])
    else:
        b = arm_only.body(kw["parent_body"]).id
        T_flange = _T(d_arm.xmat[b].reshape(3, 3), d_arm.xpos[b])
    T_offset = _T(quat_wxyz_to_R(np.array(kw["quat_wxyz"]) / np.linalg.norm(kw["quat_wxyz"])), np.array(kw.get("pos", (0, 0, 0)), float))
    gb = grip_only.body("base_mount").id
    T_in_gripper = _T(d_grip.xmat[gb].reshape(3, 3), d_grip.xpos[gb])
    want = T_flange @ T_offset @ T_in_gripper

    for j in range(arm_only.njnt):  # the same arm joints, by name, in the composed model
        data.qpos[model.joint(arm_only.joint(j).name).qposadr[0]] = q_arm[j]
    mujoco.mj_kinematics(model, data)
    b = model.body("gripper/base_mount").id
    got = _T(data.xmat[b].reshape(3, 3), data.xpos[b])
    np.testing.assert_allclose(got[:3, 3], want[:3, 3], atol=1e-9)
    np.testing.assert_allclose(got[:3, :3], want[:3, :3], atol=1e-9)
    s = model.site("gripper/mount").id  # the mount marker sits at flange * offset
    np.testing.assert_allclose(data.site_xpos[s], (T_flange @ T_offset)[:3, 3], atol=1e-9)


@needs_models
def test_attach_resolved_renames_clashing_base_names():
    arm = resolve_model_file(MENAGERIE / "universal_robots_ur5e" / "ur5e.xml", robot="ur5e")
    grip = resolve_model_file(F85, robot="robotiq_2f85")
    # Make a clash: the arm gets a file with the base name of a 2F-85 mesh (bytes of another mesh).
    clash_key = "assets/base.stl"
    assert not any(k.endswith("/base.stl") for k in arm.assets)
    arm = type(arm)(**{**arm.__dict__, "assets": {**arm.assets, clash_key: grip.assets["assets/coupler.stl"]}})
    both = attach_resolved(arm, grip, namespace="robotiq_2f85")
    bases = [k.rsplit("/", 1)[-1] for k in both.assets]
    assert len(bases) == len(set(bases)), "base names must be unique (MuJoCo's VFS)"
    assert "robotiq_2f85/assets/robotiq_2f85__base.stl" in both.assets
    assert both.assets["robotiq_2f85/assets/robotiq_2f85__base.stl"] == grip.assets["assets/base.stl"]
    # The gripper, compiled from the merged dict, reads its own base.stl, not the arm's file.
    child = mujoco.MjModel.from_xml_string(both.text(both.attach_files[-1]), both.assets)
    alone = mujoco.MjModel.from_xml_path(str(F85))
    m = child.mesh("base").id
    np.testing.assert_array_equal(child.mesh_vert[child.mesh_vertadr[m]:child.mesh_vertadr[m] + child.mesh_vertnum[m]],
                                  alone.mesh_vert[alone.mesh_vertadr[m]:alone.mesh_vertadr[m] + alone.mesh_vertnum[m]])
    assert both.model_sha256 != arm.model_sha256


@needs_models
def test_attach_gripper_bad_input():
    arm = mujoco.MjSpec.from_file(str(MENAGERIE / "universal_robots_ur5e" / "ur5e.xml"))
    grip = mujoco.MjSpec.from_file(str(F85))
    with pytest.raises(ConfigError, match="expected exactly one of parent_body and parent_site"):
        attach_gripper(arm, grip, gripper_body="base_mount", prefix="g/")
    with pytest.raises(ConfigError, match="parent_site 'nope' is not in the arm model; valid sites: attachment_site"):
        attach_gripper(arm, grip, gripper_body="base_mount", prefix="g/", parent_site="nope")
    with pytest.raises(ConfigError, match="body 'nope' is not in the gripper model"):
        attach_gripper(arm, grip, gripper_body="nope", prefix="g/", parent_body="wrist_3_link")
    with pytest.raises(ConfigError, match=r"expected a non-zero quaternion"):
        attach_gripper(arm, grip, gripper_body="base_mount", prefix="g/", parent_body="wrist_3_link", quat_wxyz=(0, 0, 0, 0))
