"""Visual-mesh simplification: a rendering-speed lever.

Rendering the Menagerie Panda on a software GL renderer is dominated by its ~136k
visual triangles. These pure functions decimate the *visual* meshes only (meshes used
solely by geoms with contype == 0 and conaffinity == 0) and hand back bytes in the same
format under the same name, so they can replace entries of the MuJoCo assets dict.
Collision meshes are never touched.

Most robots draw meshes that collision geoms use too (one <mesh> for a visual and a
collision geom, or one geom that is drawn and collides). `separate_visual_meshes`
gives the drawn geoms their own copies first, so that `visual_mesh_files` finds them.

Two simplifiers: quadric decimation (fast_simplification), unbounded, the default and
what the shipped Panda's meshes come from; and, with `max_error`, meshoptimizer's
error-bounded simplifier, which keeps CAD meshes' shapes where quadric decimation
stalls (slivers) or collapses parts (a 2F-85 finger pad loses 60 % of its volume).

Pipeline for one mesh (`simplify_mesh`):
  1. parse OBJ (`v`/`f` only; `vn`/`vt` ignored, polygons fan-triangulated, negative
     indices resolved) or STL (binary or ASCII);
  2. merge vertices with identical positions. OBJ exporters split a vertex once per
     normal/uv, so without this every triangle edge looks like an open border to the
     decimator and it tears holes into the surface;
  3. drop degenerate and exactly repeated triangles;
  4. decimate with `fast_simplification` (quadric error metric; PyPI
     `fast-simplification`). Collapses only rewrite vertex indices inside existing
     triangles and reject collapses that would flip a triangle, so the input winding
     (outward orientation) is kept;
  5. write OBJ with only `v`/`f` lines, or binary STL. MuJoCo recomputes the vertex
     normals for an OBJ without `vn` (keeping sharp edges, `smoothnormal="false"`).

Assets-dict keys (checked with mujoco 3.17): MuJoCo's virtual file system matches a
file by its *base name* only. With `<compiler meshdir="assets"/>` and
`<mesh file="link1.obj"/>`, the keys "assets/link1.obj", "link1.obj",
"/abs/path/assets/link1.obj" and even "other/link1.obj" all resolve, for
`MjSpec.from_string(xml, assets=...)`, `MjSpec.from_file(path, assets=...)`,
`MjModel.from_xml_string(xml, assets)` and `MjModel.from_xml_path(path, assets)`; a
dict entry wins over the file on disk. Two keys with the same base name raise
"ValueError: Repeated file name in assets dict". We use the path relative to the model
directory ("assets/link1.obj"), which is what `visual_mesh_files` returns;
`simplify_assets` also accepts a name that matches a key by base name only.

`fast_simplification` keeps its mesh in C++ globals: call it from one thread per
process at a time (processes / Ray actors are fine).
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import pathlib
import re
import struct
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

import mujoco
import numpy as np

from statgen.errors import ModelError

__all__ = [
    "ALGORITHM_VERSION",
    "DRAWN_GROUPS",
    "MIN_FACES",
    "SPLIT_MIN_FACES",
    "VisualSplit",
    "separate_visual_meshes",
    "simplify_assets",
    "simplify_mesh",
    "visual_mesh_files",
]

# Bump when the output of simplify_mesh changes for the same input (invalidates caches).
# 2: the error-bounded simplifier (max_error, meshoptimizer); the default path is unchanged.
ALGORITHM_VERSION = 2
# Meshes are never decimated below this many triangles (tiny parts such as screws and
# LEDs would otherwise collapse to nothing; they cost next to no rendering time).
MIN_FACES = 64
# The geom groups MuJoCo draws by default, and statgen's renderer draws (scene.RENDERED_GROUPS).
DRAWN_GROUPS = (0, 1, 2)
# separate_visual_meshes gives drawn geoms their own copy of a mesh that a colliding geom
# also uses only when the mesh has at least this many triangles: below it the copy saves
# too little rendering time to be worth a second mesh in the model (and the part, often a
# finger pad, keeps its full shape). The Menagerie Panda's one shared mesh, finger_0, has
# 362 triangles, so the Panda is left as it is.
SPLIT_MIN_FACES = 1000
VISUAL_COPY_SUFFIX = "__vis"
_SUPPORTED = (".obj", ".stl")
_STL_HEADER = b"statgen simplified mesh".ljust(80, b" ")


# --------------------------------------------------------------------------- parsing


def _extension(filename: str) -> str:
    ext = pathlib.PurePosixPath(filename.replace("\\", "/")).suffix.lower()
    if ext not in _SUPPORTED:
        raise ModelError(
            f"expected a mesh file name ending in .obj or .stl, got {filename!r}"
        )
    return ext


def _parse_obj(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    vert_lines: list[bytes] = []
    tris: list[tuple[int, int, int]] = []
    for raw in data.splitlines():
        line = raw.strip()
        if line.startswith(b"v ") or line.startswith(b"v\t"):
            vert_lines.append(line)
        elif line.startswith(b"f ") or line.startswith(b"f\t"):
            n = len(vert_lines)
            idx = []
            for tok in line.split()[1:]:
                i = int(tok.split(b"/", 1)[0])
                if i == 0:
                    raise ModelError(f"expected OBJ face indices != 0, got {line!r}")
                idx.append(i - 1 if i > 0 else n + i)
            if len(idx) < 3:
                raise ModelError(f"expected >= 3 vertices per OBJ face, got {line!r}")
            for k in range(1, len(idx) - 1):  # fan triangulation
                tris.append((idx[0], idx[k], idx[k + 1]))
    if not vert_lines or not tris:
        raise ModelError(
            f"expected an OBJ with 'v' and 'f' lines, got {len(vert_lines)} vertices "
            f"and {len(tris)} faces"
        )
    toks = [ln.split()[1:4] for ln in vert_lines]  # ignores optional w / vertex colours
    if any(len(t) < 3 for t in toks):
        raise ModelError("expected 3 coordinates on every OBJ 'v' line, got fewer")
    verts = np.array(toks, dtype=np.float64)
    faces = np.array(tris, dtype=np.int64)
    if faces.min() < 0 or faces.max() >= len(verts):
        raise ModelError(
            f"expected OBJ face indices in [1, {len(verts)}], got "
            f"[{faces.min() + 1}, {faces.max() + 1}]"
        )
    return verts, faces


_ASCII_VERTEX = re.compile(rb"vertex\s+(\S+)\s+(\S+)\s+(\S+)")


def _parse_stl(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    if len(data) >= 84:
        (n,) = struct.unpack_from("<I", data, 80)
        if len(data) == 84 + 50 * n and n > 0:
            rec = np.dtype(
                [("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")]
            )
            tri = np.frombuffer(data, dtype=rec, count=n, offset=84)["v"]
            verts = tri.reshape(-1, 3).astype(np.float64)
            return verts, np.arange(3 * n, dtype=np.int64).reshape(-1, 3)
    if data.lstrip()[:5].lower() == b"solid":
        coords = _ASCII_VERTEX.findall(data)
        if coords and len(coords) % 3 == 0:
            verts = np.array(coords, dtype=np.float64)
            return verts, np.arange(len(verts), dtype=np.int64).reshape(-1, 3)
    raise ModelError(
        f"expected a binary STL (84 + 50*n bytes) or an ASCII STL with 3 vertices per "
        f"facet, got {len(data)} bytes starting {data[:16]!r}"
    )


# --------------------------------------------------------------------- mesh cleanup


def _merge_and_clean(
    verts: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices with identical positions; drop degenerate/repeated triangles."""
    uniq, inverse = np.unique(verts, axis=0, return_inverse=True)
    f = inverse.reshape(-1)[faces]
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 2] != f[:, 0])
    f = f[keep]
    # Exact repeats (same vertices, same winding): rotate so the smallest index leads.
    roll = np.argmin(f, axis=1)
    canon = np.take_along_axis(f, (roll[:, None] + np.arange(3)) % 3, axis=1)
    _, first = np.unique(canon, axis=0, return_index=True)
    f = f[np.sort(first)]
    # Drop vertices no face uses, re-index.
    used, f = np.unique(f, return_inverse=True)
    return uniq[used], f.reshape(-1, 3).astype(np.int64)


def _fin_mask(faces: np.ndarray) -> np.ndarray:
    """True for triangles whose vertex set also occurs with the opposite winding.

    Such pairs are zero-thickness "fins" (folded-over flaps): each of their edges is
    shared by four triangles, which breaks manifoldness and flips the shading locally.
    """
    if len(faces) == 0:
        return np.zeros(0, dtype=bool)
    key = np.sort(faces, axis=1)
    # Parity of the permutation that sorts the triangle = its winding relative to key.
    order = np.argsort(faces, axis=1)
    parity = ((order[:, 0] > order[:, 1]).astype(int) + (order[:, 0] > order[:, 2])
              + (order[:, 1] > order[:, 2])) % 2
    _, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    seen = np.zeros((inv.max() + 1, 2), dtype=bool)
    seen[inv, parity] = True
    return seen[inv, 0] & seen[inv, 1]


def _quadric(
    verts: np.ndarray, faces: np.ndarray, target: int, input_has_fins: bool
) -> tuple[np.ndarray, np.ndarray]:
    """One fast_simplification pass to `target` triangles, cleaned (and fins dropped)."""
    import fast_simplification

    v, f = fast_simplification.simplify(
        verts, faces.astype(np.int32), target_count=target
    )
    v = np.asarray(v, dtype=np.float64)
    f = np.asarray(f, dtype=np.int64).reshape(-1, 3)
    v, f = _merge_and_clean(v, f)
    return _drop_new_fins(v, f, input_has_fins)


def _drop_new_fins(
    v: np.ndarray, f: np.ndarray, input_has_fins: bool
) -> tuple[np.ndarray, np.ndarray]:
    if not input_has_fins:
        keep = ~_fin_mask(f)
        if keep.any():
            v, f = _merge_and_clean(v, f[keep])
    return v, f


def _decimate(
    verts: np.ndarray, faces: np.ndarray, target_reduction: float
) -> tuple[np.ndarray, np.ndarray]:
    n = len(faces)
    target = max(math.ceil((1.0 - target_reduction) * n), min(n, MIN_FACES))
    if target >= n:
        return verts, faces
    input_has_fins = bool(_fin_mask(faces).any())  # then they are meant (double-sided)
    v, f = _quadric(verts, faces, target, input_has_fins)
    if len(f) == 0:  # never emit an empty mesh
        return verts, faces
    return v, f


def _decimate_bounded(
    verts: np.ndarray, faces: np.ndarray, target_reduction: float, max_error: float
) -> tuple[np.ndarray, np.ndarray]:
    """meshoptimizer's simplifier: edge collapses onto existing vertices, in the order of a
    quadric error, stopping at the target triangle count or when the next collapse would
    move the surface by more than `max_error` x the mesh's extent, whichever comes first.
    Topology is kept (open borders stay where they are); no new vertex positions."""
    import meshoptimizer

    n = len(faces)
    target = max(math.ceil((1.0 - target_reduction) * n), min(n, MIN_FACES))
    if target >= n:
        return verts, faces
    indices = faces.astype(np.uint32).ravel()
    out = np.zeros_like(indices)
    count = meshoptimizer.simplify(
        out, indices, np.ascontiguousarray(verts, dtype=np.float32),
        target_index_count=3 * target, target_error=float(max_error),
    )
    v, f = _merge_and_clean(verts, out[:count].reshape(-1, 3).astype(np.int64))
    if len(f) == 0:  # never emit an empty mesh
        return verts, faces
    return v, f


# ---------------------------------------------------------------------------- write


def _write_obj(verts: np.ndarray, faces: np.ndarray) -> bytes:
    vs = "\n".join(f"v {x:.9g} {y:.9g} {z:.9g}" for x, y, z in verts.tolist())
    fs = "\n".join(f"f {a} {b} {c}" for a, b, c in (faces + 1).tolist())
    return f"# statgen simplified mesh\n{vs}\n{fs}\n".encode("ascii")


def _write_stl(verts: np.ndarray, faces: np.ndarray) -> bytes:
    tri = verts[faces].astype(np.float64)
    nrm = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(nrm, axis=1, keepdims=True)
    nrm = np.divide(nrm, length, out=np.zeros_like(nrm), where=length > 0)
    rec = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    out = np.zeros(len(faces), dtype=rec)
    out["normal"] = nrm
    out["v"] = tri
    return _STL_HEADER + struct.pack("<I", len(faces)) + out.tobytes()


# ----------------------------------------------------------------------- public API


def _check_reduction(target_reduction: float) -> float:
    r = float(target_reduction)
    if not (0.0 <= r < 1.0) or math.isnan(r):
        raise ModelError(f"expected target_reduction in [0, 1), got {target_reduction!r}")
    return r


def _check_error(max_error: float) -> float:
    e = float(max_error)
    if not 0.0 < e < 1.0:
        raise ModelError(f"expected max_error in (0, 1) (a fraction of the mesh's extent, e.g. 0.003), got {max_error!r}")
    return e


def simplify_mesh(
    data: bytes, *, filename: str, target_reduction: float, max_error: float | None = None
) -> bytes:
    """Decimate one OBJ/STL mesh; return bytes in the format of `filename`'s extension.

    `target_reduction` is the fraction of triangles to remove (0.85 keeps ~15%), counted
    after merging; no mesh goes below `MIN_FACES` triangles. 0 returns `data` unchanged.
    `max_error` None: quadric decimation with fast_simplification, unbounded (statgen's
    first simplifier; the shipped Panda's meshes). Otherwise meshoptimizer's
    error-bounded simplifier: it stops early rather than move the surface by more than
    max_error x the mesh's extent (0.003 = 0.3 %), and never stalls the way quadric
    decimation does on CAD meshes full of slivers. OBJ output has only `v` and `f`
    lines; STL output is binary.
    """
    ext = _extension(filename)
    r = _check_reduction(target_reduction)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ModelError(f"expected mesh bytes, got {type(data).__name__}")
    data = bytes(data)
    if r == 0.0:
        return data
    verts, faces = _parse_obj(data) if ext == ".obj" else _parse_stl(data)
    if not np.all(np.isfinite(verts)):
        raise ModelError(
            f"expected finite vertex coordinates in {filename!r}, got NaN/inf"
        )
    verts, faces = _merge_and_clean(verts, faces)
    if len(faces) == 0:
        raise ModelError(
            f"expected at least one non-degenerate triangle in {filename!r}, got 0"
        )
    if max_error is None:
        verts, faces = _decimate(verts, faces, r)
    else:
        verts, faces = _decimate_bounded(verts, faces, r, _check_error(max_error))
    return _write_obj(verts, faces) if ext == ".obj" else _write_stl(verts, faces)


def visual_mesh_files(spec: mujoco.MjSpec) -> list[str]:
    """Files of meshes used only by non-colliding geoms (contype == conaffinity == 0).

    Names are `meshdir/file` as written in the model ("assets/link1.obj" for the
    Menagerie Panda), sorted. Meshes used by no geom, or by any geom that can collide,
    are left out. The decision is taken on the compiled model (defaults classes
    applied); if the spec cannot be compiled, the spec's own geom values are used.
    """
    meshes = list(spec.meshes)
    usage: dict[int, list[bool]] = {}  # mesh index -> [geom is visual-only, ...]
    try:
        model = spec.copy().compile()
    except Exception:  # noqa: BLE001 - fall back to the (already defaulted) spec values
        model = None
    if model is not None and model.nmesh == len(meshes):
        mesh_types = (int(mujoco.mjtGeom.mjGEOM_MESH), int(mujoco.mjtGeom.mjGEOM_SDF))
        for g in range(model.ngeom):
            if int(model.geom_type[g]) in mesh_types and model.geom_dataid[g] >= 0:
                visual = model.geom_contype[g] == 0 and model.geom_conaffinity[g] == 0
                usage.setdefault(int(model.geom_dataid[g]), []).append(bool(visual))
    else:
        index = {m.name: i for i, m in enumerate(meshes) if m.name}
        for m_i, m in enumerate(meshes):  # unnamed meshes are named after their file
            index.setdefault(pathlib.PurePosixPath(m.file).stem, m_i)
        for g in spec.geoms:
            if g.type in (mujoco.mjtGeom.mjGEOM_MESH, mujoco.mjtGeom.mjGEOM_SDF):
                if g.meshname in index:
                    visual = g.contype == 0 and g.conaffinity == 0
                    usage.setdefault(index[g.meshname], []).append(bool(visual))
    meshdir = (spec.meshdir or "").rstrip("/")

    def path_of(file: str) -> str:
        return file if os.path.isabs(file) or not meshdir else f"{meshdir}/{file}"

    files: dict[str, bool] = {}
    for i, flags in usage.items():
        if meshes[i].file:
            path = path_of(meshes[i].file)
            # A file shared by a visual and a collision mesh element stays untouched.
            files[path] = files.get(path, True) and all(flags)
    for i, m in enumerate(meshes):  # ... and so does one an unused element also loads
        if i not in usage and m.file and path_of(m.file) in files:
            files[path_of(m.file)] = False
    return sorted(p for p, visual in files.items() if visual and _is_supported(p))


@dataclass(frozen=True)
class VisualSplit:
    """What `separate_visual_meshes` did to a model.

    xml: the MJCF text; the input text itself (same object) when nothing changed.
    assets: the input assets plus one byte-identical copy per copied mesh file.
    copied: the assets keys of those copies (sorted); decimate them, not the originals.
    twinned: how many drawn colliding geoms became collision-only with a drawn twin.
    skipped: why nothing was done although something might have been ("" otherwise).
    """

    xml: str
    assets: dict[str, bytes]
    copied: tuple[str, ...] = ()
    twinned: int = 0
    skipped: str = ""


def _body_content(el: ET.Element) -> tuple[list[tuple[ET.Element, ET.Element]], list[ET.Element]]:
    """(geom, parent) pairs and child bodies of a body-like element, through <frame>s, in order."""
    geoms: list[tuple[ET.Element, ET.Element]] = []
    bodies: list[ET.Element] = []
    for child in el:
        if child.tag == "geom":
            geoms.append((child, el))
        elif child.tag == "frame":
            g, b = _body_content(child)
            geoms += g
            bodies += b
        elif child.tag == "body":
            bodies.append(child)
    return geoms, bodies


def _geoms_in_compiled_order(root: ET.Element) -> list[tuple[ET.Element, ET.Element]]:
    """(geom, parent) in the order MuJoCo compiles them: bodies depth first, each body's geoms in order."""
    out: list[tuple[ET.Element, ET.Element]] = []
    world_bodies: list[ET.Element] = []
    for wb in root.findall("worldbody"):
        g, b = _body_content(wb)
        out += g
        world_bodies += b
    stack = list(reversed(world_bodies))
    while stack:
        body = stack.pop()
        g, b = _body_content(body)
        out += g
        stack += reversed(b)
    return out


def _unique(name: str, taken: set[str]) -> str:
    candidate, k = name, 1
    while candidate in taken:
        k += 1
        candidate = f"{name}{k}"
    taken.add(candidate)
    return candidate


def separate_visual_meshes(
    xml: str, assets: Mapping[str, bytes], *, min_faces: int = SPLIT_MIN_FACES
) -> VisualSplit:
    """Give the drawn geoms their own copies of meshes that collision geoms also use.

    `xml` is one MJCF text with its <include>s inlined; `assets` maps file names to bytes
    (MuJoCo's rule: matched by base name). A geom is *drawn* when its group is in
    DRAWN_GROUPS and *colliding* when contype or conaffinity is non-zero (defaults
    applied: the decision is taken on the compiled model). For every mesh file with at
    least `min_faces` triangles that a colliding geom uses and a drawn geom shows:
      - a copy is added: a `<mesh>` element cloned from the original (class, scale,
        refpos... kept) named `<name>__vis`, reading a copy of the file whose base name
        gets `__vis` (the VFS matches base names, so the copy needs its own);
      - a drawn, non-colliding geom is pointed at the copy;
      - a drawn, colliding geom is moved to group 3 (still colliding, with its mass) and
        gets an unnamed twin right after it: the same element, drawing the copy in the
        original group, with contype = conaffinity = 0 and mass 0.
    Collision geoms keep the original meshes, so collisions and inertias are unchanged,
    and `visual_mesh_files` of the result lists every copy. Only the XML is edited (as
    text, through ElementTree): no number of the model is re-written. When the geoms
    of the XML cannot be matched one to one with the compiled model's (for example
    <replicate> or <attach> elements), nothing is changed and `skipped` says why.
    """
    if min_faces < 0:
        raise ModelError(f"expected min_faces >= 0, got {min_faces}")
    assets = dict(assets)
    spec = mujoco.MjSpec.from_string(xml, assets=assets)
    model = spec.compile()
    mesh_type = int(mujoco.mjtGeom.mjGEOM_MESH)
    drawn = np.isin(model.geom_group, DRAWN_GROUPS)
    colliding = (model.geom_contype != 0) | (model.geom_conaffinity != 0)
    is_mesh = (model.geom_type == mesh_type) & (model.geom_dataid >= 0)

    spec_meshes = list(spec.meshes)
    meshdir = (spec.meshdir or "").rstrip("/")
    # Meshes to copy: big enough, with a file, used by a colliding geom and a drawn one.
    to_copy: list[int] = []
    for m in range(model.nmesh):
        users = is_mesh & (model.geom_dataid == m)
        if not spec_meshes[m].file or int(model.mesh_facenum[m]) < min_faces:
            continue
        if np.any(users & colliding) and np.any(users & drawn):
            to_copy.append(m)
    if not to_copy:
        return VisualSplit(xml=xml, assets=assets)

    root = ET.fromstring(xml)
    geoms = _geoms_in_compiled_order(root)
    mesh_els = [(el, parent) for parent in root.iter("asset") for el in parent if el.tag == "mesh"]
    problem = ""
    if len(geoms) != model.ngeom or len(mesh_els) != model.nmesh:
        problem = f"{len(geoms)} <geom> and {len(mesh_els)} <mesh> elements against {model.ngeom} geoms and {model.nmesh} meshes compiled"
    else:
        for i, (el, _) in enumerate(geoms):
            mesh_attr = el.get("mesh")
            if (el.get("name") and el.get("name") != model.geom(i).name) or (
                mesh_attr and is_mesh[i] and mesh_attr != model.mesh(int(model.geom_dataid[i])).name
            ):
                problem = f"geom {i} of the XML is not geom {i} of the compiled model"
                break
        for m, (el, _) in enumerate(mesh_els):
            file = el.get("file", "")
            name = el.get("name") or pathlib.PurePosixPath(file.replace("\\", "/")).stem
            if name != model.mesh(m).name:
                problem = f"mesh {m} of the XML is not mesh {m} of the compiled model"
                break
    if problem:
        return VisualSplit(xml=xml, assets=assets, skipped=problem)

    taken_mesh_names = {model.mesh(m).name for m in range(model.nmesh)}
    taken_bases = {pathlib.PurePosixPath(k.replace("\\", "/")).name for k in assets}
    copy_name: dict[int, str] = {}
    copied: list[str] = []
    by_file: dict[str, tuple[str, str]] = {}  # original key -> (copy key, copy file attribute)
    for m in to_copy:
        el, parent = mesh_els[m]
        file = spec_meshes[m].file
        key = _resolve_key(assets, file if os.path.isabs(file) or not meshdir else f"{meshdir}/{file}")
        if key not in by_file:
            p = pathlib.PurePosixPath(key.replace("\\", "/"))
            base = _unique(f"{p.stem}{VISUAL_COPY_SUFFIX}{p.suffix}", taken_bases)
            new_key = str(p.with_name(base))
            assets[new_key] = assets[key]
            copied.append(new_key)
            attr = el.get("file", file)
            new_attr = str(pathlib.PurePosixPath(attr.replace("\\", "/")).with_name(base))
            by_file[key] = (new_key, new_attr)
        clone = copy.deepcopy(el)
        clone.set("name", _unique(f"{model.mesh(m).name}{VISUAL_COPY_SUFFIX}", taken_mesh_names))
        clone.set("file", by_file[key][1])
        clone.tail = el.tail
        parent.insert(list(parent).index(el) + 1, clone)
        copy_name[m] = clone.get("name")

    twinned = 0
    for g, (el, parent) in enumerate(geoms):
        m = int(model.geom_dataid[g])
        if not (is_mesh[g] and drawn[g] and m in copy_name):
            continue
        if not colliding[g]:
            el.set("mesh", copy_name[m])
            continue
        twin = copy.deepcopy(el)
        twin.attrib.pop("name", None)
        twin.set("mesh", copy_name[m])
        twin.set("contype", "0")
        twin.set("conaffinity", "0")
        twin.set("group", str(int(model.geom_group[g])))
        twin.set("mass", "0")
        twin.tail = el.tail
        el.set("group", "3")
        parent.insert(list(parent).index(el) + 1, twin)
        twinned += 1
    return VisualSplit(
        xml=ET.tostring(root, encoding="unicode"), assets=assets, copied=tuple(sorted(copied)), twinned=twinned
    )


def _is_supported(path: str) -> bool:
    return pathlib.PurePosixPath(path).suffix.lower() in _SUPPORTED


def _library_tag(*, bounded: bool = False) -> str:
    package, label = ("meshoptimizer", "meshoptimizer") if bounded else ("fast-simplification", "fastsimplification")
    try:
        lib = version(package)
    except PackageNotFoundError:  # pragma: no cover
        lib = "unknown"
    return f"{label}{lib}-a{ALGORITHM_VERSION}-m{MIN_FACES}"


def _resolve_key(assets: dict[str, bytes], name: str) -> str:
    if name in assets:
        return name
    base = pathlib.PurePosixPath(name.replace("\\", "/")).name
    hits = [k for k in assets if pathlib.PurePosixPath(k.replace("\\", "/")).name == base]
    if len(hits) != 1:
        raise ModelError(
            f"expected exactly one assets key matching {name!r} (by path or base name), "
            f"got {len(hits)}: {hits[:5]}"
        )
    return hits[0]


def simplify_assets(
    assets: dict[str, bytes],
    files: list[str],
    *,
    target_reduction: float,
    cache_dir: pathlib.Path | None,
    max_error: float | None = None,
) -> dict[str, bytes]:
    """Return a new assets dict in which each of `files` is simplified.

    `files` entries match keys exactly or by base name (MuJoCo's own rule). Results are
    cached in `cache_dir` (if given) under sha256(input) + reduction (+ max_error) +
    library and algorithm version, written to a temporary file and moved into place
    atomically. `max_error`: see `simplify_mesh`.
    """
    r = _check_reduction(target_reduction)
    bound = "" if max_error is None else f"-e{_check_error(max_error):.6f}"
    out = dict(assets)
    if r == 0.0:
        return out
    tag = _library_tag(bounded=max_error is not None)
    if cache_dir is not None:
        cache_dir = pathlib.Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
    for name in dict.fromkeys(files):
        key = _resolve_key(assets, name)
        ext = _extension(key)
        data = bytes(assets[key])
        cached = None
        if cache_dir is not None:
            digest = hashlib.sha256(data).hexdigest()
            cached = cache_dir / f"{digest}-r{r:.6f}{bound}-{tag}{ext}"
            if cached.is_file():
                out[key] = cached.read_bytes()
                continue
        result = simplify_mesh(data, filename=key, target_reduction=r, max_error=max_error)
        out[key] = result
        if cached is not None:
            fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-", suffix=ext)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(result)
                os.replace(tmp, cached)
            except BaseException:
                pathlib.Path(tmp).unlink(missing_ok=True)
                raise
    return out
