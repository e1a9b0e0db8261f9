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


def simplify_visual_meshes(resolved: ResolvedModel, *, target_reduction: float) -> ResolvedModel:
    """The same model with its visual-only meshes decimated (collision meshes untouched), cached on disk."""
    if target_reduction <= 0:
        return resolved
    import mujoco

    from statgen.sim.meshes import simplify_assets, visual_mesh_files

    files: list[str] = []
    try:
        for key in (resolved.main_file, *resolved.attach_files):
            spec = mujoco.MjSpec.from_string(resolved.text(key), assets=resolved.assets)
            files += visual_mesh_files(spec)
        assets = simplify_assets(resolved.assets, files, target_reduction=target_reduction, cache_dir=cache_dir() / "meshes")
    except (ModelError, ValueError, ET.ParseError) as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise ConfigError(f"robot {resolved.robot}: cannot read its model to simplify the meshes ({msg}); fix the MJCF or set render.visual_reduction = 0") from None
    return dataclasses.replace(resolved, assets=assets, simplified_from=resolved.model_sha256)


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
    """The folder holding the robot's MJCF, and a label saying where it came from."""
    ref = spec.model
    if assets_dir is not None and not Path(assets_dir).is_dir():
        raise ConfigError(f"--assets {assets_dir}: not a folder; pass a folder in Menagerie's layout (one sub-folder per robot)")
    if ref.source == "dm_control":
        import dm_control

        d = Path(dm_control.__file__).parent / ref.name
        if not (d / ref.file).is_file():
            raise ConfigError(f"robot {spec.name}: {ref.file} not found in dm_control at {d}; reinstall dm_control (pip install dm_control)")
        return d, f"dm_control:{ref.name}/{ref.file}"
    if ref.source == "file":
        d = (Path(spec.source_path).parent / ref.name).resolve()
        if not (d / ref.file).is_file():
            raise ConfigError(f"robot {spec.name}: model file {d / ref.file} does not exist; fix model.name/model.file in {spec.source_path}")
        return d, f"file:{d / ref.file}"
    tried = []
    for label, root in _menagerie_candidates(assets_dir):
        d = root / ref.name
        if (d / ref.file).is_file():
            return d.resolve(), f"menagerie:{ref.name}"
        tried.append(f"{label}={root} (no {ref.name}/{ref.file})")
    try:
        import mujoco_menagerie as mm

        robot = mm.get(ref.name)
        cache = mm.Cache(root=None) if not os.environ.get("MENAGERIE_ROOT") else None
        if cache is not None:
            if cache.is_cached(robot) or download:
                return cache.resolve(robot, progress=mm.print_progress), f"menagerie:{ref.name}"
            tried.append(f"Menagerie cache {cache.model_path(robot)} (not downloaded yet)")
    except Exception as e:  # noqa: BLE001 - any failure of the cache/download is reported as one line
        tried.append(f"mujoco-menagerie cache/download ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")
    raise ConfigError(
        f"robot {spec.name}: Menagerie model {ref.name}/{ref.file} not found; tried: {'; '.join(tried)}. "
        f"Fix: pass --assets DIR (or set STATGEN_ASSETS or MENAGERIE_ROOT) to a folder holding {ref.name}/"
    )


def resolve_model(spec: RobotSpec, *, assets_dir: str | None = None) -> ResolvedModel:
    """Find the robot's files and read them into memory (MJCF texts plus asset bytes)."""
    d, label = find_model_dir(spec, assets_dir=assets_dir)
    assets: dict[str, bytes] = {}
    keys = []
    for f in (spec.model.file, *(a.file for a in spec.model.attach)):
        if not (d / f).is_file():
            raise ConfigError(f"robot {spec.name}: {f} not found in {d}; fix {spec.source_path}")
        try:
            assets.update(_closure(d / f, d))
        except Exception as e:  # noqa: BLE001
            raise ConfigError(f"robot {spec.name}: cannot collect the files {f} needs in {d}: {e}") from None
        keys.append(Path(f).as_posix())
    return ResolvedModel(
        robot=spec.name, source=label, main_file=keys[0], attach_files=tuple(keys[1:]), assets=assets, license=spec.model.license,
    )
