"""Tests for statgen.sim.meshes (visual-mesh simplification)."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # must precede the first `import mujoco`

import math  # noqa: E402
import pathlib  # noqa: E402
import re  # noqa: E402
import struct  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from statgen.sim import meshes  # noqa: E402
from statgen.sim.meshes import (  # noqa: E402
    simplify_assets,
    simplify_mesh,
    visual_mesh_files,
)

# ------------------------------------------------------------------ analytic meshes


def icosphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere, outward (counter-clockwise seen from outside) winding."""
    t = (1 + 5**0.5) / 2
    v = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t),
         (0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    f = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9),
         (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2),
         (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10),
         (8, 6, 7), (9, 8, 1)]
    verts = [np.array(p, float) / np.linalg.norm(p) for p in v]
    faces = list(f)
    for _ in range(subdivisions):
        cache: dict[tuple[int, int], int] = {}

        def mid(a: int, b: int) -> int:
            key = (min(a, b), max(a, b))
            if key not in cache:
                m = verts[a] + verts[b]
                verts.append(m / np.linalg.norm(m))
                cache[key] = len(verts) - 1
            return cache[key]

        new = []
        for a, b, c in faces:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            new += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new
    return np.array(verts), np.array(faces)


def split_obj(verts: np.ndarray, faces: np.ndarray) -> bytes:
    """OBJ as exporters write it: every face corner gets its own v/vn/vt."""
    lines = ["# split-vertex test mesh", "mtllib none.mtl", "o sphere", "usemtl m"]
    k = 0
    for tri in faces:
        n = np.cross(verts[tri[1]] - verts[tri[0]], verts[tri[2]] - verts[tri[0]])
        n /= np.linalg.norm(n)
        for i in tri:
            lines.append("v {:.8f} {:.8f} {:.8f}".format(*verts[i]))
            lines.append("vn {:.6f} {:.6f} {:.6f}".format(*n))
            lines.append("vt 0.5 0.5")
        lines.append(f"f {k + 1}/{k + 1}/{k + 1} {k + 2}/{k + 2}/{k + 2} {k + 3}/{k + 3}/{k + 3}")
        k += 3
    return ("\n".join(lines) + "\n").encode()


def binary_stl(verts: np.ndarray, faces: np.ndarray) -> bytes:
    out = bytearray(b"\0" * 80 + struct.pack("<I", len(faces)))
    for tri in faces:
        out += struct.pack("<3f", 0, 0, 0)
        for i in tri:
            out += struct.pack("<3f", *verts[i])
        out += b"\0\0"
    return bytes(out)


def ascii_stl(verts: np.ndarray, faces: np.ndarray) -> bytes:
    lines = ["solid test"]
    for tri in faces:
        lines += ["  facet normal 0 0 0", "    outer loop"]
        lines += ["      vertex {:.7e} {:.7e} {:.7e}".format(*verts[i]) for i in tri]
        lines += ["    endloop", "  endfacet"]
    return ("\n".join(lines + ["endsolid test"]) + "\n").encode()


# ------------------------------------------------------- independent readers/checks


def read_obj(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    text = data.decode()
    assert not re.search(r"^(vn|vt|mtllib|usemtl|o|g) ", text, re.M), "only v/f lines"
    v = [list(map(float, ln.split()[1:])) for ln in text.splitlines() if ln.startswith("v ")]
    f = [[int(t) - 1 for t in ln.split()[1:]] for ln in text.splitlines() if ln.startswith("f ")]
    assert all(len(x) == 3 for x in v) and all(len(x) == 3 for x in f)
    return np.array(v), np.array(f)


def read_binary_stl(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    (n,) = struct.unpack_from("<I", data, 80)
    assert len(data) == 84 + 50 * n, "binary STL size"
    assert not data[:5].lower() == b"solid", "binary header must not look like ASCII"
    rec = np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    tri = np.frombuffer(data, rec, count=n, offset=84)
    pts = tri["v"].reshape(-1, 3).astype(float)
    uniq, inv = np.unique(pts, axis=0, return_inverse=True)
    faces = inv.reshape(-1, 3)
    # stored normals must agree with the winding
    geo = np.cross(pts[1::3] - pts[0::3], pts[2::3] - pts[0::3])
    assert np.all(np.einsum("ij,ij->i", geo, tri["n"]) >= 0)
    return uniq, faces


def assert_closed_and_outward(verts: np.ndarray, faces: np.ndarray, volume: float,
                              rtol: float) -> None:
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    _, undirected = np.unique(np.sort(edges, axis=1), axis=0, return_counts=True)
    assert np.all(undirected == 2), f"edge use counts {np.bincount(undirected)}"
    _, directed = np.unique(edges, axis=0, return_counts=True)
    assert np.all(directed == 1), "inconsistent orientation (a directed edge repeats)"
    signed = np.einsum("ij,ij->i", verts[faces[:, 0]],
                       np.cross(verts[faces[:, 1]], verts[faces[:, 2]])).sum() / 6
    assert signed > 0, "faces point inwards"
    assert signed == pytest.approx(volume, rel=rtol)


SPHERE_VOLUME = 4 / 3 * math.pi


# -------------------------------------------------------------------- unit tests


def test_obj_split_vertices_round_trip_closed_and_outward():
    v, f = icosphere(4)  # 5120 faces, 15360 split corners in the OBJ
    out = simplify_mesh(split_obj(v, f), filename="sphere.obj", target_reduction=0.9)
    ov, of = read_obj(out)
    assert len(of) <= math.ceil(0.1 * len(f)) + 2
    assert len(of) >= 0.5 * 0.1 * len(f)
    assert len(ov) < len(of)  # merged: a closed mesh has ~F/2 vertices
    assert_closed_and_outward(ov, of, SPHERE_VOLUME, rtol=0.05)
    assert np.allclose(np.linalg.norm(ov, axis=1), 1.0, atol=0.05)


def test_obj_polygons_negative_indices_and_small_mesh_kept():
    cube = b"""v 0 0 0
v 1 0 0
v 1 1 0
v 0 1 0
v 0 0 1
v 1 0 1
v 1 1 1
v 0 1 1
vn 0 0 1
f 1//1 4//1 3//1 2//1
f 5 6 7 8
f -8 -7 -3 -4
f 2 3 7 6
f 3 4 8 7
f 4 1 5 8
"""
    out = simplify_mesh(cube, filename="Cube.OBJ", target_reduction=0.5)
    v, f = read_obj(out)
    assert len(v) == 8 and len(f) == 12  # below MIN_FACES: triangulated, not decimated
    assert_closed_and_outward(v, f, 1.0, rtol=1e-9)


@pytest.mark.parametrize("writer", [binary_stl, ascii_stl])
def test_stl_round_trip(writer):
    v, f = icosphere(3)  # 1280 faces
    out = simplify_mesh(writer(v, f), filename="assets/sphere.stl", target_reduction=0.75)
    ov, of = read_binary_stl(out)
    assert 0.5 * 320 <= len(of) <= 322
    assert_closed_and_outward(ov, of, SPHERE_VOLUME, rtol=0.05)


def test_zero_reduction_is_identity():
    data = split_obj(*icosphere(1))
    assert simplify_mesh(data, filename="a.obj", target_reduction=0.0) == data


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(filename="mesh.ply", target_reduction=0.5),
         r"expected .*\.obj or \.stl, got 'mesh.ply'"),
        (dict(filename="mesh", target_reduction=0.5), r"expected .*, got 'mesh'"),
        (dict(filename="a.obj", target_reduction=1.0),
         r"expected target_reduction in \[0, 1\), got 1.0"),
        (dict(filename="a.obj", target_reduction=-0.1), r"expected target_reduction .*got -0.1"),
        (dict(filename="a.obj", target_reduction=float("nan")), r"expected target_reduction"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simplify_mesh(split_obj(*icosphere(1)), **kwargs)


def test_bad_mesh_bytes():
    with pytest.raises(ValueError, match="expected an OBJ with 'v' and 'f' lines"):
        simplify_mesh(b"# nothing\n", filename="a.obj", target_reduction=0.5)
    with pytest.raises(ValueError, match="expected OBJ face indices"):
        simplify_mesh(b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n", filename="a.obj",
                      target_reduction=0.5)
    with pytest.raises(ValueError, match="expected a binary STL"):
        simplify_mesh(b"garbage" * 20, filename="a.stl", target_reduction=0.5)


def test_simplify_assets_cache(tmp_path, monkeypatch):
    sphere = split_obj(*icosphere(3))
    other = b"untouched bytes"
    assets = {"assets/sphere.obj": sphere, "assets/other.stl": other}
    before = dict(assets)
    first = simplify_assets(assets, ["assets/sphere.obj"], target_reduction=0.8,
                            cache_dir=tmp_path / "cache")
    assert assets == before, "input dict must not be modified"
    assert first["assets/other.stl"] is other
    assert first["assets/sphere.obj"] != sphere
    cached = list((tmp_path / "cache").iterdir())
    assert len(cached) == 1 and not cached[0].name.startswith(".tmp")
    assert cached[0].suffix == ".obj"

    def boom(*a, **k):
        raise AssertionError("cache miss: simplify_mesh was called")

    monkeypatch.setattr(meshes, "simplify_mesh", boom)
    # a base-name reference resolves to the same key (MuJoCo's own matching rule)
    second = simplify_assets(assets, ["sphere.obj"], target_reduction=0.8,
                             cache_dir=tmp_path / "cache")
    assert second == first
    with pytest.raises(AssertionError, match="cache miss"):  # other reduction: new key
        simplify_assets(assets, ["assets/sphere.obj"], target_reduction=0.5,
                        cache_dir=tmp_path / "cache")
    with pytest.raises(ValueError, match="expected exactly one assets key"):
        simplify_assets(assets, ["missing.obj"], target_reduction=0.8, cache_dir=None)


# -------------------------------------------------------------------- Panda tests


def _menagerie_root() -> pathlib.Path:
    env = os.environ.get("MENAGERIE_ROOT")
    if env:
        return pathlib.Path(env)
    return pathlib.Path(__file__).resolve().parents[2] / "shared/assets/menagerie"


PANDA = _menagerie_root() / "franka_emika_panda"
needs_panda = pytest.mark.skipif(
    not (PANDA / "panda.xml").is_file(), reason=f"Menagerie Panda not found at {PANDA}"
)


def _panda() -> tuple[str, dict[str, bytes]]:
    xml = (PANDA / "panda.xml").read_text()
    assets = {p.relative_to(PANDA).as_posix(): p.read_bytes()
              for p in (PANDA / "assets").iterdir() if p.is_file()}
    return xml, assets


@needs_panda
def test_visual_mesh_files_panda_excludes_collision_meshes():
    xml, assets = _panda()
    spec = mujoco.MjSpec.from_string(xml, assets=assets)
    files = visual_mesh_files(spec)
    model = mujoco.MjModel.from_xml_string(xml, assets)
    collision = set()  # files of meshes any colliding geom uses, from the compiled model
    for g in range(model.ngeom):
        if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH and (
            model.geom_contype[g] or model.geom_conaffinity[g]
        ):
            collision.add(spec.meshes[model.geom_dataid[g]].file)
    assert collision, "the Panda has collision meshes"
    assert len(files) >= 40
    assert all(f.startswith("assets/") and f.endswith(".obj") for f in files)
    assert all(f in assets for f in files), "names must be assets-dict keys"
    assert not {pathlib.PurePosixPath(f).name for f in files} & collision
    assert "assets/link1.obj" in files
    assert "assets/finger_0.obj" not in files  # also used by the finger collision geoms
    assert not any("collision" in f or f.endswith(".stl") for f in files)


@needs_panda
def test_visual_mesh_files_without_assets_uses_spec_values(tmp_path, monkeypatch):
    xml, assets = _panda()
    expected = visual_mesh_files(mujoco.MjSpec.from_string(xml, assets=assets))
    monkeypatch.chdir(tmp_path)  # mesh files unreachable: the spec cannot compile
    spec = mujoco.MjSpec.from_string(xml)
    with pytest.raises(Exception):
        spec.copy().compile()
    assert visual_mesh_files(spec) == expected


def _render_masks(model: mujoco.MjModel, poses: np.ndarray, size: int) -> np.ndarray:
    data = mujoco.MjData(model)
    cam = mujoco.MjvCamera()
    cam.lookat[:] = (0.0, 0.0, 0.4)
    cam.distance, cam.azimuth, cam.elevation = 1.6, 135.0, -20.0
    try:
        renderer = mujoco.Renderer(model, height=size, width=size)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no offscreen GL context (MUJOCO_GL={os.environ.get('MUJOCO_GL')}): {exc}")
    try:  # only one Renderer alive at a time in a process
        renderer.enable_segmentation_rendering()
        masks = []
        for q in poses:
            data.qpos[:] = q
            mujoco.mj_kinematics(model, data)
            renderer.update_scene(data, camera=cam)
            seg = renderer.render()
            masks.append(seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM))
    finally:
        renderer.close()
    return np.stack(masks)


@needs_panda
def test_panda_fidelity_guard(tmp_path):
    xml, assets = _panda()
    files = visual_mesh_files(mujoco.MjSpec.from_string(xml, assets=assets))
    simple = simplify_assets(assets, files, target_reduction=0.85, cache_dir=tmp_path)
    full_model = mujoco.MjModel.from_xml_string(xml, assets)
    simple_model = mujoco.MjModel.from_xml_string(xml, simple)
    for name in assets:  # collision meshes are byte-identical
        if name not in files:
            assert simple[name] is assets[name]

    def visual_faces(m):
        return sum(int(m.mesh_facenum[m.geom_dataid[g]]) for g in range(m.ngeom)
                   if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH
                   and m.geom_contype[g] == 0 and m.geom_conaffinity[g] == 0)

    assert visual_faces(simple_model) < 0.2 * visual_faces(full_model)

    rng = np.random.default_rng(7)
    poses = np.tile(full_model.qpos0, (5, 1))
    for j in range(full_model.njnt):
        lo, hi = full_model.jnt_range[j]
        poses[:, full_model.jnt_qposadr[j]] = rng.uniform(lo, hi, size=5)
    full = _render_masks(full_model, poses, 160)
    simp = _render_masks(simple_model, poses, 160)
    assert full.sum(axis=(1, 2)).min() > 500, "camera must see the arm"
    iou = (full & simp).sum(axis=(1, 2)) / (full | simp).sum(axis=(1, 2))
    assert iou.min() >= 0.97, f"robot-mask IoU per pose {np.round(iou, 4)}"


# ------------------------------------------- drawn geoms' own meshes, any robot

SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared/assets"
SPLIT_MODELS = {
    "so101": SHARED / "so101/so101_new_calib.xml",  # visual and collision geoms share meshes
    "vx300s": _menagerie_root() / "trossen_vx300s/vx300s.xml",  # geoms that are drawn and collide
    "xarm7": _menagerie_root() / "ufactory_xarm7/xarm7.xml",
    "2f85": _menagerie_root() / "robotiq_2f85/2f85.xml",
}


def _colliding(m: mujoco.MjModel) -> list[tuple]:
    """Everything about the colliding geoms that collisions depend on, in order."""
    out = []
    for g in np.flatnonzero((m.geom_contype != 0) | (m.geom_conaffinity != 0)):
        mesh = ()
        if m.geom_dataid[g] >= 0 and m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH:
            k = m.geom_dataid[g]
            mesh = tuple(np.round(m.mesh_vert[m.mesh_vertadr[k]:m.mesh_vertadr[k] + m.mesh_vertnum[k]], 12).ravel())
        out.append((int(m.geom_bodyid[g]), int(m.geom_type[g]), tuple(m.geom_size[g]), tuple(m.geom_pos[g]), tuple(m.geom_quat[g]),
                    int(m.geom_contype[g]), int(m.geom_conaffinity[g]), int(m.geom_condim[g]), tuple(m.geom_friction[g]), mesh))
    return out


def _rgb(model: mujoco.MjModel, poses: np.ndarray) -> np.ndarray:
    data = mujoco.MjData(model)
    cam = mujoco.MjvCamera()
    cam.lookat[:], cam.distance, cam.azimuth, cam.elevation = (0.0, 0.0, 0.2), 1.0, 120.0, -25.0
    r = mujoco.Renderer(model, height=128, width=128)
    try:
        out = []
        for q in poses:
            data.qpos[:] = q
            mujoco.mj_kinematics(model, data)
            r.update_scene(data, camera=cam)
            out.append(r.render().copy())
    finally:
        r.close()
    return np.stack(out)


@pytest.mark.parametrize("name", sorted(SPLIT_MODELS))
def test_separate_visual_meshes_keeps_collisions_masses_and_pixels(name):
    from statgen.sim.assets import resolve_model_file
    from statgen.sim.meshes import SPLIT_MIN_FACES, separate_visual_meshes

    path = SPLIT_MODELS[name]
    if not path.is_file():
        pytest.skip(f"no {path}")
    r = resolve_model_file(path, robot=name)
    xml = r.text(r.main_file)
    split = separate_visual_meshes(xml, r.assets)
    assert split.copied and not split.skipped
    m0 = mujoco.MjModel.from_xml_string(xml, r.assets)
    m1 = mujoco.MjModel.from_xml_string(split.xml, split.assets)
    for field in ("body_mass", "body_inertia", "body_pos", "body_quat", "body_ipos", "jnt_pos", "jnt_axis", "jnt_range"):
        np.testing.assert_array_equal(getattr(m0, field), getattr(m1, field), err_msg=field)
    assert _colliding(m0) == _colliding(m1), "collision geoms must be exactly the same"
    mesh = int(mujoco.mjtGeom.mjGEOM_MESH)
    drawn = (m1.geom_group <= 2) & (m1.geom_type == mesh)
    colliding = (m1.geom_contype != 0) | (m1.geom_conaffinity != 0)
    collision_meshes = set(m1.geom_dataid[colliding & (m1.geom_type == mesh)].tolist())
    for g in np.flatnonzero(drawn):
        if m1.mesh_facenum[m1.geom_dataid[g]] >= SPLIT_MIN_FACES:
            assert not colliding[g] and m1.geom_dataid[g] not in collision_meshes
    files = visual_mesh_files(mujoco.MjSpec.from_string(split.xml, assets=split.assets))
    assert set(split.copied) <= set(files)
    for key in split.copied:
        assert split.assets[key] is split.assets[key.replace("__vis", "")] or split.assets[key] == split.assets[key.replace("__vis", "")]
    rng = np.random.default_rng(2)
    poses = np.tile(m0.qpos0, (3, 1))
    for j in range(m0.njnt):
        if m0.jnt_limited[j]:
            poses[:, m0.jnt_qposadr[j]] = rng.uniform(*m0.jnt_range[j], size=3)
    a, b = _rgb(m0, poses), _rgb(m1, poses)
    assert (a.sum(axis=-1) > 0).mean() > 0.01, "the camera must see the robot"
    assert np.array_equal(a, b), f"renders differ in {(np.abs(a.astype(int) - b).sum(-1) > 0).sum()} pixels"


@needs_panda
def test_separate_visual_meshes_leaves_the_panda_as_it_is():
    from statgen.sim.meshes import separate_visual_meshes

    xml, assets = _panda()
    split = separate_visual_meshes(xml, assets)
    assert split.xml is xml and split.copied == () and split.twinned == 0  # its one shared mesh has 362 triangles


def _volume(v: np.ndarray, f: np.ndarray) -> float:
    return float(np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6)


@pytest.mark.parametrize("path, reduction, reaches", [
    (SHARED / "so101/assets/wrist_roll_follower_so101_v1.stl", 0.9, True),  # quadric decimation stalls at 3.3x its target
    (_menagerie_root() / "robotiq_2f85/assets/pad.stl", 0.85, True),  # quadric decimation loses 60 % of its volume
    (_menagerie_root() / "trossen_wxai/assets/link_6.stl", 0.85, False),  # the error bound stops it first
])
def test_error_bounded_simplification_keeps_the_shape(path, reduction, reaches):
    if not path.is_file():
        pytest.skip(f"no {path}")
    data = path.read_bytes()
    v0, f0 = read_binary_stl(_as_binary(data))
    bounded = read_binary_stl(simplify_mesh(data, filename=path.name, target_reduction=reduction, max_error=0.003))
    quadric = read_binary_stl(simplify_mesh(data, filename=path.name, target_reduction=reduction))
    diag = float(np.linalg.norm(np.ptp(v0, axis=0)))
    vol0 = _volume(v0, f0)
    assert abs(_volume(*bounded) / vol0 - 1) < 0.02
    assert np.abs(np.concatenate([bounded[0].min(0) - v0.min(0), bounded[0].max(0) - v0.max(0)])).max() < 0.005 * diag
    target = max(1.25 * (1 - reduction) * len(f0), 2 * meshes.MIN_FACES)
    assert (len(bounded[1]) <= target) == reaches
    assert len(bounded[1]) < 0.5 * len(f0)
    worse = abs(_volume(*quadric) / vol0 - 1) > 0.05 or len(quadric[1]) > 2 * (1 - reduction) * len(f0)
    assert worse, "this mesh is one the unbounded quadric decimation handles badly"


def _as_binary(data: bytes) -> bytes:
    v, f = meshes._parse_stl(data)
    v, f = meshes._merge_and_clean(v, f)
    return meshes._write_stl(v, f)


def test_max_error_is_part_of_the_cache_key(tmp_path):
    sphere = split_obj(*icosphere(3))
    a = simplify_assets({"s.obj": sphere}, ["s.obj"], target_reduction=0.8, cache_dir=tmp_path)
    b = simplify_assets({"s.obj": sphere}, ["s.obj"], target_reduction=0.8, cache_dir=tmp_path, max_error=0.01)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and any("-e0.010000-meshoptimizer" in n for n in names)
    ov, of = read_obj(b["s.obj"])
    assert_closed_and_outward(ov, of, SPHERE_VOLUME, rtol=0.05)
    assert a["s.obj"] != b["s.obj"]
    with pytest.raises(ValueError, match=r"expected max_error in \(0, 1\)"):
        simplify_mesh(sphere, filename="s.obj", target_reduction=0.5, max_error=0.0)
