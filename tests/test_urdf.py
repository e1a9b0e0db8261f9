"""URDF models (statgen.sim.assets.urdf_to_mjcf / resolve_urdf), on LeRobot's SO-101.

Independent truth: the SO-101's own MJCF (so101_new_calib.xml), compiled by MuJoCo from
its own file, gives the forward kinematics the URDF route must reproduce.
"""

from __future__ import annotations

import os
import shutil
import struct
import warnings
from pathlib import Path

import mujoco
import numpy as np
import pytest

from statgen.errors import ConfigError
from statgen.sim.assets import URDF_COLLISION_GROUP, resolve_urdf, simplify_visual_meshes, urdf_to_mjcf
from statgen.sim.meshes import visual_mesh_files

SO101 = Path(__file__).resolve().parents[2] / "shared/assets/so101"
URDF = SO101 / "so101_new_calib.urdf"
MJCF = SO101 / "so101_new_calib.xml"
needs_so101 = pytest.mark.skipif(not URDF.is_file(), reason=f"no SO-101 URDF at {URDF}")
# MJCF body -> URDF link (the URDF's links carry a _link suffix; joint names are the same)
BODIES = {"base": "base_link", "shoulder": "shoulder_link", "upper_arm": "upper_arm_link", "lower_arm": "lower_arm_link",
          "wrist": "wrist_link", "gripper": "gripper_link", "moving_jaw_so101_v1": "moving_jaw_so101_v1_link"}


def _compile_quietly(xml: str, assets: dict[str, bytes]) -> tuple[mujoco.MjModel, list[str]]:
    caught: list[str] = []
    mujoco.set_mju_user_warning(caught.append)
    try:
        with warnings.catch_warnings(record=True) as py:
            warnings.simplefilter("always")
            model = mujoco.MjSpec.from_string(xml, assets=assets).compile()
            data = mujoco.MjData(model)
            mujoco.mj_forward(model, data)
        caught += [str(w.message) for w in py]
        caught += [f"data.warning[{i}]" for i in range(len(data.warning)) if data.warning[i].number]
    finally:
        mujoco.set_mju_user_warning(None)
    return model, caught


@needs_so101
def test_so101_urdf_loads_clean_keeps_visuals_and_hides_collisions(capfd):
    capfd.readouterr()
    r = resolve_urdf(URDF, robot="so101")
    model, caught = _compile_quietly(r.text(r.main_file), r.assets)
    out = capfd.readouterr()
    assert not caught and "WARNING" not in out.out + out.err, (caught, out)
    visual = (model.geom_contype == 0) & (model.geom_conaffinity == 0)
    assert visual.sum() == 17 and (~visual).sum() == 17  # the URDF's 17 <visual> and 17 <collision>
    assert np.all(model.geom_group[~visual] == URDF_COLLISION_GROUP)
    assert np.all(model.geom_group[visual] <= 2)
    names = {model.body(b).name for b in range(model.nbody)}
    assert {"base_link", "gripper_frame_link"} <= names, "fixed links stay bodies (fusestatic off)"
    assert r.assets[URDF.name] == URDF.read_bytes()  # the source is part of model_sha256


@needs_so101
def test_so101_urdf_forward_kinematics_agrees_with_its_mjcf():
    r = resolve_urdf(URDF, robot="so101")
    mu = mujoco.MjModel.from_xml_string(r.text(r.main_file), r.assets)
    mj = mujoco.MjModel.from_xml_path(str(MJCF))
    du, dj = mujoco.MjData(mu), mujoco.MjData(mj)
    rng = np.random.default_rng(0)
    worst_p, worst_R = 0.0, 0.0
    for _ in range(200):
        for j in range(mj.njnt):
            q = rng.uniform(*mj.jnt_range[j])
            dj.qpos[mj.jnt_qposadr[j]] = q
            du.qpos[mu.joint(mj.joint(j).name).qposadr[0]] = q
        mujoco.mj_kinematics(mj, dj)
        mujoco.mj_kinematics(mu, du)
        for a, b in BODIES.items():
            ia, ib = mj.body(a).id, mu.body(b).id
            worst_p = max(worst_p, float(np.linalg.norm(dj.xpos[ia] - du.xpos[ib])))
            worst_R = max(worst_R, float(np.abs(dj.xmat[ia] - du.xmat[ib]).max()))
    assert worst_p < 1e-5, f"body positions differ by {worst_p * 1e3:.4f} mm"  # research: 0.004 mm (rpy rounded to 1.5708)
    assert worst_R < 1e-4, f"rotations differ by {worst_R:.1e}"


@needs_so101
def test_package_urls_resolve_against_the_package_root(tmp_path):
    pkg = tmp_path / "ws" / "so101_description" / "meshes"
    shutil.copytree(SO101 / "assets", pkg)
    text = URDF.read_text().replace('filename="assets/', 'filename="package://so101_description/meshes/')
    assert "package://" in text
    urdf = tmp_path / "elsewhere" / "so101.urdf"
    urdf.parent.mkdir()
    urdf.write_text(text)
    xml, assets = urdf_to_mjcf(urdf, package_root=tmp_path / "ws", robot="so101")
    assert all(k.startswith("so101_description/meshes/") for k in assets)
    plain_xml, plain_assets = urdf_to_mjcf(URDF, robot="so101")
    a, b = mujoco.MjModel.from_xml_string(xml, assets), mujoco.MjModel.from_xml_string(plain_xml, plain_assets)
    np.testing.assert_array_equal(a.mesh_vert, b.mesh_vert)
    with pytest.raises(ConfigError, match=r"reads package://so101_description/meshes/.*expected a package root"):
        urdf_to_mjcf(urdf, robot="so101")
    with pytest.raises(ConfigError, match=r"not found at .*fix the path or the package root"):
        urdf_to_mjcf(urdf, package_root=tmp_path / "nowhere", robot="so101")


def test_clashing_base_names_get_their_folders_joined_in(tmp_path):
    """Two different meshes named box.stl in two folders: MuJoCo's VFS would confuse them."""

    def box(sx: float) -> bytes:  # a binary STL (MuJoCo reads no ASCII STL)
        v = np.array([[0, 0, 0], [sx, 0, 0], [sx, 1, 0], [0, 1, 0], [0, 0, 1], [sx, 0, 1], [sx, 1, 1], [0, 1, 1]], float) * 0.1
        f = [(0, 2, 1), (0, 3, 2), (4, 5, 6), (4, 6, 7), (0, 1, 5), (0, 5, 4), (1, 2, 6), (1, 6, 5), (2, 3, 7), (2, 7, 6), (3, 0, 4), (3, 4, 7)]
        out = bytearray(b"\0" * 80 + struct.pack("<I", len(f)))
        for t in f:
            out += struct.pack("<3f", 0, 0, 0) + b"".join(struct.pack("<3f", *v[i]) for i in t) + b"\0\0"
        return bytes(out)

    for sub, sx in (("visual", 1.0), ("collision", 2.0)):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "box.stl").write_bytes(box(sx))
    (tmp_path / "r.urdf").write_text("""<robot name="r">
  <link name="base"><inertial><mass value="1"/><inertia ixx="1" iyy="1" izz="1" ixy="0" ixz="0" iyz="0"/></inertial>
    <visual><geometry><mesh filename="visual/box.stl"/></geometry></visual>
    <collision><geometry><mesh filename="collision/box.stl"/></geometry></collision></link>
</robot>""")
    xml, assets = urdf_to_mjcf(tmp_path / "r.urdf", robot="r")
    assert sorted(assets) == ["collision__box.stl", "visual__box.stl"]
    m = mujoco.MjModel.from_xml_string(xml, assets)
    extents = sorted(float(np.ptp(m.mesh_vert[m.mesh_vertadr[i]:m.mesh_vertadr[i] + m.mesh_vertnum[i]], axis=0).max()) for i in range(m.nmesh))
    assert extents == pytest.approx([0.1, 0.2])  # two meshes, each from its own file


@needs_so101
def test_urdf_visual_meshes_are_found_and_decimated_collisions_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("STATGEN_CACHE_DIR", str(tmp_path / "cache"))
    r = resolve_urdf(URDF, robot="so101")
    assert visual_mesh_files(mujoco.MjSpec.from_string(r.text(r.main_file), assets=r.assets)) == []  # all shared
    s = simplify_visual_meshes(r, target_reduction=0.85, max_error=0.003)
    files = visual_mesh_files(mujoco.MjSpec.from_string(s.text(s.main_file), assets=s.assets))
    assert len(files) == 13 and all("__vis" in f for f in files)
    full = mujoco.MjModel.from_xml_string(r.text(r.main_file), r.assets)
    simple = mujoco.MjModel.from_xml_string(s.text(s.main_file), s.assets)
    for m in (full, simple):
        assert int(((m.geom_contype != 0) | (m.geom_conaffinity != 0)).sum()) == 17
    for key, data in r.assets.items():  # every original file (collision meshes included) is untouched
        assert s.assets[key] == data or key == s.main_file

    def drawn(m):
        sel = (m.geom_group <= 2) & (m.geom_dataid >= 0)
        return int(m.mesh_facenum[m.geom_dataid[sel]].sum())

    assert drawn(simple) < 0.3 * drawn(full)
    assert os.environ["STATGEN_CACHE_DIR"] == str(tmp_path / "cache")
