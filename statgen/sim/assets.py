"""Find a robot's MJCF and asset files, and pack them as (text, bytes) for the workers.

Resolution order for Menagerie robots (DESIGN.md): ``--assets DIR`` > ``STATGEN_ASSETS``
> ``MENAGERIE_ROOT`` > the ``mujoco-menagerie`` cache (downloading on first use).
Robots that dm_control bundles (jaco) are read from the installed dm_control package.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from statgen.config import RobotSpec
from statgen.errors import ConfigError, ModelError


@dataclass(frozen=True)
class ResolvedModel:
    """A robot's model, self-contained: what the driver ships to the workers.

    `assets` maps paths relative to the model folder (as the MJCF names them, e.g.
    "assets/link0.stl") to their bytes; the XML texts are in it too.
    """

    robot: str
    source: str  # e.g. "menagerie:franka_emika_panda (/path/to/dir)"
    main_file: str  # key of the main MJCF in `assets`
    attach_files: tuple[str, ...]  # keys of the attached MJCFs, same order as RobotSpec.model.attach
    assets: dict[str, bytes]
    license: str
    simplified_from: str = ""  # model_sha256 of the original files when visual meshes were simplified

    @property
    def model_sha256(self) -> str:
        """sha256 over every file the model loads, in sorted path order (path and bytes).

        For a model with simplified visual meshes, this is the original files' hash.
        """
        return self.simplified_from or self.assets_sha256

    @property
    def assets_sha256(self) -> str:
        """sha256 of the files as they are now (after any simplification): what is rendered."""
        h = hashlib.sha256()
        for k in sorted(self.assets):
            h.update(k.encode() + b"\0")
            h.update(hashlib.sha256(self.assets[k]).digest())
        return h.hexdigest()

    def text(self, key: str) -> str:
        """The MJCF at `key` with every <include> inlined (MjSpec.from_string does not follow them)."""
        return expand_includes(key, self.assets)


def expand_includes(key: str, assets: dict[str, bytes]) -> str:
    """Inline <include file=...> elements, which MuJoCo resolves relative to the model folder."""
    root = ET.fromstring(assets[key])
    _inline(root, assets, seen={key})
    return ET.tostring(root, encoding="unicode")


def _inline(parent: ET.Element, assets: dict[str, bytes], seen: set[str]) -> None:
    for i, child in enumerate(list(parent)):
        if child.tag == "include":
            inc = child.get("file", "")
            if inc in seen or inc not in assets:
                raise ModelError(f"cannot include {inc!r}: {'a cycle' if inc in seen else 'not among the model files'}")
            sub = ET.fromstring(assets[inc])
            _inline(sub, assets, seen | {inc})
            parent.remove(child)
            for j, el in enumerate(list(sub)):
                parent.insert(i + j, el)
        else:
            _inline(child, assets, seen)


def cache_dir() -> Path:
    """statgen's cache: $STATGEN_CACHE_DIR, else $XDG_CACHE_HOME/statgen, else ~/.cache/statgen."""
    if os.environ.get("STATGEN_CACHE_DIR"):
        return Path(os.environ["STATGEN_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "statgen"


def simplify_visual_meshes(
    resolved: ResolvedModel, *, target_reduction: float, max_error: float | None = None, split_min_faces: int | None = None
) -> ResolvedModel:
    """The same model with its drawn meshes decimated (collision meshes untouched), cached on disk.

    `target_reduction` is the fraction of triangles removed; 0 returns `resolved` as is.

    max_error None (statgen's first simplifier, what the shipped Panda and Jaco use): the
    meshes used only by non-colliding geoms (`meshes.visual_mesh_files`) are decimated by
    quadric edge collapse, unbounded. The MJCF texts are not touched.

    max_error set (any robot): each MJCF (the main file and the attached ones) first goes
    through `meshes.separate_visual_meshes`: drawn geoms get their own copies of the meshes
    that collision geoms also use (those with at least `split_min_faces` triangles,
    default meshes.SPLIT_MIN_FACES), and a geom that is both drawn and colliding gets a
    drawn twin; the edited MJCF replaces its entry in `assets` (an <include>d file is then
    inlined). Then every visual-only mesh is simplified by meshoptimizer, which stops
    before any surface moves by more than max_error x its mesh's extent
    (`meshes.simplify_mesh`).
    """
    if target_reduction <= 0:
        return resolved
    import mujoco

    from statgen.sim.meshes import SPLIT_MIN_FACES, separate_visual_meshes, simplify_assets, visual_mesh_files

    min_faces = SPLIT_MIN_FACES if split_min_faces is None else split_min_faces
    assets = dict(resolved.assets)
    files: list[str] = []
    try:
        for key in (resolved.main_file, *resolved.attach_files):
            text = expand_includes(key, assets)
            if max_error is not None:
                split = separate_visual_meshes(text, assets, min_faces=min_faces)
                if split.xml is not text:
                    assets = split.assets
                    assets[key] = split.xml.encode()
                    text = split.xml
            files += visual_mesh_files(mujoco.MjSpec.from_string(text, assets=assets))
        assets = simplify_assets(assets, files, target_reduction=target_reduction, cache_dir=cache_dir() / "meshes", max_error=max_error)
    except (ModelError, ValueError, ET.ParseError) as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise ConfigError(f"robot {resolved.robot}: cannot read its model to simplify the meshes ({msg}); fix the MJCF or set render.visual_reduction = 0") from None
    return dataclasses.replace(resolved, assets=assets, simplified_from=resolved.model_sha256)


def simplify_for(resolved: ResolvedModel, render: Any) -> ResolvedModel:
    """`simplify_visual_meshes` with a run's render settings (a RenderSettings after
    config.resolve_render): visual_reduction, and visual_max_error (None or 0: no bound)."""
    max_error = render.visual_max_error or None
    return simplify_visual_meshes(resolved, target_reduction=render.visual_reduction, max_error=max_error)


# Attributes that name a file MuJoCo reads through its virtual file system.
_FILE_ATTRS = ("file", "fileback", "filedown", "filefront", "fileleft", "fileright", "fileup")


def _base(key: str) -> str:
    return key.replace("\\", "/").rsplit("/", 1)[-1]


def _rename_file_refs(xml: str, renames: dict[str, str]) -> str:
    """`xml` with every file reference whose base name is a key of `renames` pointed at the new base name."""
    root = ET.fromstring(xml)
    for el in root.iter():
        for attr in _FILE_ATTRS:
            ref = el.get(attr)
            if ref and _base(ref) in renames:
                if attr == "file" and el.tag in ("mesh", "hfield", "skin", "texture") and not el.get("name"):
                    el.set("name", _base(ref).rsplit(".", 1)[0])  # MuJoCo names these after the file
                head = ref.replace("\\", "/").rsplit("/", 1)
                el.set(attr, f"{head[0]}/{renames[_base(ref)]}" if len(head) == 2 else renames[_base(ref)])
    return ET.tostring(root, encoding="unicode")


def attach_resolved(arm: ResolvedModel, gripper: ResolvedModel, *, namespace: str) -> ResolvedModel:
    """One model holding the arm's files and the gripper's, for `compose.attach_gripper` at scene build.

    The gripper's files are keyed `<namespace>/<key>` (e.g. "robotiq_2f85/assets/base.stl").
    MuJoCo's virtual file system matches files by base name, so a gripper file whose base
    name is already taken by the arm's gets the base name `<namespace>__<name>`, and the
    gripper's MJCF texts (includes inlined) are rewritten to read it. The result's
    `attach_files` are the arm's, then the gripper's main MJCF, then its own attached
    files; `source` and `license` join both with " + ". model_sha256 covers both.
    """
    ns = namespace.strip("/")
    if not ns or any(c in ns for c in '\\:*?"<>|') or ns in (".", ".."):
        raise ConfigError(f"gripper namespace: expected a plain folder name like 'robotiq_2f85', got {namespace!r}")
    taken = {_base(k) for k in arm.assets}
    renames: dict[str, str] = {}
    for key in sorted(gripper.assets):
        base = _base(key)
        if base in taken:
            new, k = f"{ns.replace('/', '_')}__{base}", 1
            while new in taken:
                k += 1
                new = f"{ns.replace('/', '_')}{k}__{base}"
            renames[base] = new
            base = new
        taken.add(base)
    xml_keys = (gripper.main_file, *gripper.attach_files)

    def new_key(key: str) -> str:
        head = key.replace("\\", "/").rsplit("/", 1)
        base = renames.get(_base(key), _base(key))
        return f"{ns}/{head[0]}/{base}" if len(head) == 2 else f"{ns}/{base}"

    assets = dict(arm.assets)
    for key, data in gripper.assets.items():
        if key in xml_keys:
            text = gripper.text(key)
            data = (_rename_file_refs(text, renames) if renames else text).encode()
        assets[new_key(key)] = data
    return ResolvedModel(
        robot=arm.robot,
        source=f"{arm.source} + {gripper.source}",
        main_file=arm.main_file,
        attach_files=(*arm.attach_files, *(new_key(k) for k in xml_keys)),
        assets=assets,
        license=arm.license if gripper.license in ("", arm.license) else f"{arm.license} + {gripper.license}",
    )


def resolve_model_file(path: str | Path, *, robot: str, source: str = "", license: str = "") -> ResolvedModel:
    """A ResolvedModel for one MJCF file and every file it loads (keys relative to its folder).

    A `.urdf` goes through `urdf_to_mjcf` first (with no package root: use that function
    for `package://` paths). `source` defaults to "file:<path>".
    """
    p = Path(path).resolve()
    if not p.is_file():
        raise ConfigError(f"robot {robot}: model file {p} does not exist; expected an MJCF or URDF file")
    if p.suffix.lower() == ".urdf":
        return resolve_urdf(p, robot=robot, source=source, license=license)
    try:
        assets = _closure(p, p.parent)
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"robot {robot}: cannot collect the files {p.name} needs in {p.parent}: {e}") from None
    return ResolvedModel(robot=robot, source=source or f"file:{p}", main_file=p.name, attach_files=(), assets=assets, license=license)


# How URDF geoms end up after MuJoCo's URDF import (mujoco 3.17, discardvisual="false"):
# visual geoms get contype = conaffinity = 0 and group 1, collision geoms contype 1 and
# group 0, so both are drawn. urdf_to_mjcf moves the collision geoms to this group.
URDF_COLLISION_GROUP = 3
URDF_MESH_SUFFIXES = (".stl", ".obj")


def _urdf_mesh_path(ref: str, *, urdf_dir: Path, package_root: Path | None, robot: str) -> tuple[Path, str]:
    """(file on disk, assets key) for a URDF mesh filename."""
    if ref.startswith("package://"):
        rest = ref[len("package://"):]
        package, _, inner = rest.partition("/")
        if package_root is None:
            raise ConfigError(f"robot {robot}: the URDF reads {ref}; expected a package root to resolve package://{package}/, got none")
        return Path(package_root) / package / inner, rest
    if ref.startswith("file://"):
        path = Path(ref[len("file://"):])
    else:
        path = Path(ref) if Path(ref).is_absolute() else urdf_dir / ref
    try:
        key = path.resolve().relative_to(urdf_dir.resolve()).as_posix()
    except ValueError:
        key = path.name
    return path, key


def urdf_to_mjcf(path: str | Path, *, package_root: str | Path | None = None, robot: str = "") -> tuple[str, dict[str, bytes]]:
    """Compile a URDF with MuJoCo and return (MJCF text, assets dict of its mesh bytes).

    - Mesh filenames: `package://NAME/REST` resolves to `<package_root>/NAME/REST`;
      `file://` and absolute paths as they are; other paths relative to the URDF's
      folder. Each mesh is keyed by its path relative to the URDF's folder (or
      `NAME/REST`, or its base name); base names that clash get the parent folders
      joined in (`visual__link1.stl`), since MuJoCo matches files by base name.
    - The visual geoms are kept (`discardvisual="false"`, which must be in the text:
      it acts while parsing) and the fixed links are not fused into their parents
      (`fusestatic="false"`), so the base link stays a body to mount.
    - Collision geoms (the non-zero contype/conaffinity ones) move to group
      URDF_COLLISION_GROUP, so only the visual geoms are drawn, and
      `meshes.separate_visual_meshes` later gives them their own mesh copies.
    The MJCF is `MjSpec.to_xml()` of the result, so numbers carry the precision MuJoCo
    writes (about 7 significant digits).
    """
    import mujoco

    p = Path(path)
    name = robot or p.stem
    if not p.is_file():
        raise ConfigError(f"robot {name}: URDF {p} does not exist; expected a .urdf file")
    try:
        root = ET.fromstring(p.read_bytes())
    except ET.ParseError as e:
        raise ConfigError(f"robot {name}: cannot parse {p}: {e}") from None
    if root.tag != "robot":
        raise ConfigError(f"robot {name}: expected a URDF with a <robot> root element in {p}, got <{root.tag}>")
    found: dict[str, tuple[Path, str]] = {}  # filename attribute -> (path, key)
    for mesh in root.iter("mesh"):
        ref = mesh.get("filename", "")
        if ref and ref not in found:
            found[ref] = _urdf_mesh_path(ref, urdf_dir=p.parent, package_root=Path(package_root) if package_root else None, robot=name)
    # Base names must be unique (MuJoCo's VFS); clashing ones get their folders joined in.
    by_base: dict[str, set[Path]] = {}
    for path_, key in found.values():
        by_base.setdefault(_base(key), set()).add(path_.resolve())
    assets: dict[str, bytes] = {}
    for ref, (path_, key) in found.items():
        if path_.suffix.lower() not in URDF_MESH_SUFFIXES:
            raise ConfigError(f"robot {name}: mesh {ref}: expected an .stl or .obj file (MuJoCo reads no {path_.suffix or 'extensionless'} meshes), got {path_.name}")
        if not path_.is_file():
            raise ConfigError(f"robot {name}: mesh {ref} not found at {path_}; fix the path or the package root")
        if len(by_base[_base(key)]) > 1:
            key = key.replace("\\", "/").replace("/", "__")
        assets[key] = path_.read_bytes()
        found[ref] = (path_, key)
    for mesh in root.iter("mesh"):
        if mesh.get("filename"):
            mesh.set("filename", found[mesh.get("filename")][1])
    ext = root.find("mujoco")
    if ext is None:
        ext = ET.Element("mujoco")
        root.insert(0, ext)
    compiler = ext.find("compiler")
    if compiler is None:
        compiler = ET.SubElement(ext, "compiler")
    compiler.set("discardvisual", "false")
    compiler.set("fusestatic", "false")
    try:
        spec = mujoco.MjSpec.from_string(ET.tostring(root, encoding="unicode"), assets=assets)
        spec.compiler.fusestatic = False
        for g in spec.geoms:
            if g.contype != 0 or g.conaffinity != 0:
                g.group = URDF_COLLISION_GROUP
        spec.compile()
        xml = spec.to_xml()
    except Exception as e:  # noqa: BLE001 - MuJoCo raises ValueError with a multi-line text
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise ConfigError(f"robot {name}: MuJoCo cannot compile the URDF {p}: {msg}") from None
    return xml, assets


def resolve_urdf(
    path: str | Path, *, robot: str, package_root: str | Path | None = None, source: str = "", license: str = ""
) -> ResolvedModel:
    """A ResolvedModel from a URDF: the MJCF from `urdf_to_mjcf` under `<stem>.urdf.xml`, the
    URDF's own bytes (so that model_sha256 covers the source) and its meshes."""
    p = Path(path).resolve()
    xml, assets = urdf_to_mjcf(p, package_root=package_root, robot=robot)
    main = f"{p.stem}.urdf.xml"
    if main in {_base(k) for k in assets} or p.name in {_base(k) for k in assets}:
        raise ConfigError(f"robot {robot}: a mesh of {p.name} is named {main} or {p.name}; rename it")
    assets = {main: xml.encode(), p.name: p.read_bytes(), **assets}
    return ResolvedModel(robot=robot, source=source or f"urdf:{p}", main_file=main, attach_files=(), assets=assets, license=license)


def _closure(entry: Path, model_dir: Path) -> dict[str, bytes]:
    # mujoco-menagerie's closure follows <include>, meshdir/texturedir/assetdir and
    # every file= attribute; it is generic over any Menagerie-layout folder.
    from mujoco_menagerie._closure import assets_dict, closure

    return assets_dict(closure(entry, model_dir), model_dir)


def _menagerie_candidates(assets_dir: str | None) -> list[tuple[str, Path | None]]:
    places: list[tuple[str, Path | None]] = []
    if assets_dir:
        places.append(("--assets", Path(assets_dir)))
    for var in ("STATGEN_ASSETS", "MENAGERIE_ROOT"):
        if os.environ.get(var):
            places.append((var, Path(os.environ[var])))
    return places


def find_model_dir(spec: RobotSpec, *, assets_dir: str | None = None, download: bool = True) -> tuple[Path, str]:
    """The folder holding the robot's model file, and a label saying where it came from."""
    ref = spec.model
    return _find_dir(robot=spec.name, source=ref.source, name=ref.name, file=ref.file, toml=spec.source_path,
                     assets_dir=assets_dir, download=download, what="model")


def find_gripper_dir(spec: RobotSpec, *, assets_dir: str | None = None, download: bool = True) -> tuple[Path, str]:
    """The folder holding the robot's [model.gripper] file, and a label saying where it came from."""
    g = spec.model.gripper
    if g is None:
        raise ConfigError(f"robot {spec.name}: expected a [model.gripper] table, got none")
    return _find_dir(robot=spec.name, source=g.source, name=g.name, file=g.file, toml=spec.source_path,
                     assets_dir=assets_dir, download=download, what="model.gripper")


def _find_dir(*, robot: str, source: str, name: str, file: str, toml: str, assets_dir: str | None, download: bool, what: str) -> tuple[Path, str]:
    if assets_dir is not None and not Path(assets_dir).is_dir():
        raise ConfigError(f"--assets {assets_dir}: not a folder; pass a folder in Menagerie's layout (one sub-folder per robot)")
    if source == "dm_control":
        import dm_control

        d = Path(dm_control.__file__).parent / name
        if not (d / file).is_file():
            raise ConfigError(f"robot {robot}: {file} not found in dm_control at {d}; reinstall dm_control (pip install dm_control)")
        return d, f"dm_control:{name}/{file}"
    if source == "file":
        d = (Path(toml).parent / name).resolve()
        if not (d / file).is_file():
            raise ConfigError(f"robot {robot}: {what} file {d / file} does not exist; fix {what}.name/{what}.file in {toml}")
        return d, f"file:{d / file}"
    tried = []
    for label, root in _menagerie_candidates(assets_dir):
        d = root / name
        if (d / file).is_file():
            return d.resolve(), f"{source}:{name}"
        tried.append(f"{label}={root} (no {name}/{file})")
    if source == "assets":  # not Menagerie's own model: never downloaded (Menagerie may hold another model under this name)
        where = "; ".join(tried) if tried else "nothing (no --assets, STATGEN_ASSETS or MENAGERIE_ROOT is set)"
        raise ConfigError(
            f"robot {robot}: {what} {name}/{file} not found; tried: {where}. It is not downloaded (it is not Menagerie's own model). "
            f"Fix: pass --assets DIR (or set STATGEN_ASSETS or MENAGERIE_ROOT) to a folder holding {name}/"
        )
    try:
        import mujoco_menagerie as mm

        entry = mm.get(name)
        cache = mm.Cache(root=None) if not os.environ.get("MENAGERIE_ROOT") else None
        if cache is not None:
            if cache.is_cached(entry) or download:
                return cache.resolve(entry, progress=mm.print_progress), f"menagerie:{name}"
            tried.append(f"Menagerie cache {cache.model_path(entry)} (not downloaded yet)")
    except Exception as e:  # noqa: BLE001 - any failure of the cache/download is reported as one line
        tried.append(f"mujoco-menagerie cache/download ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
    raise ConfigError(
        f"robot {robot}: Menagerie model {name}/{file} not found; tried: {'; '.join(tried)}. "
        f"Fix: pass --assets DIR (or set STATGEN_ASSETS or MENAGERIE_ROOT) to a folder holding {name}/"
    )


def resolve_model(spec: RobotSpec, *, assets_dir: str | None = None) -> ResolvedModel:
    """Find the robot's files and read them into memory (MJCF texts plus asset bytes).

    - An MJCF and the files of `model.attach` (same folder) are collected with every file they load.
    - A URDF goes through `urdf_to_mjcf` (package:// paths under `model.package_root`, relative
      to the model folder); its main key is `<stem>.urdf.xml`.
    - A `[model.gripper]` from another folder is resolved the same way and merged in by
      `attach_resolved` (namespace: its folder name); its MJCF is the last of `attach_files`.
    """
    d, label = find_model_dir(spec, assets_dir=assets_dir)
    ref = spec.model
    if ref.file.lower().endswith(".urdf"):
        if ref.attach:
            raise ConfigError(f"robot {spec.name}: model.attach needs an MJCF model, got the URDF {ref.file}; attach a gripper with [model.gripper]")
        root = None if ref.package_root is None else (d / ref.package_root)
        arm = resolve_urdf(d / ref.file, robot=spec.name, package_root=root, source=label, license=ref.license)
    else:
        assets: dict[str, bytes] = {}
        keys = []
        for f in (ref.file, *(a.file for a in ref.attach)):
            if not (d / f).is_file():
                raise ConfigError(f"robot {spec.name}: {f} not found in {d}; fix {spec.source_path}")
            try:
                assets.update(_closure(d / f, d))
            except Exception as e:  # noqa: BLE001
                raise ConfigError(f"robot {spec.name}: cannot collect the files {f} needs in {d}: {e}") from None
            keys.append(Path(f).as_posix())
        arm = ResolvedModel(robot=spec.name, source=label, main_file=keys[0], attach_files=tuple(keys[1:]), assets=assets, license=ref.license)
    g = ref.gripper
    if g is None:
        return arm
    gd, glabel = find_gripper_dir(spec, assets_dir=assets_dir)
    grip = resolve_model_file(gd / g.file, robot=spec.name, source=glabel, license=g.license)
    return attach_resolved(arm, grip, namespace=Path(g.name).name or "gripper")
