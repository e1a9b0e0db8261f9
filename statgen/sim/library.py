"""What a run's looks are drawn from: the texture library and the user's own files.

- The texture library of a seed: `library_size` procedural recipes, recipe i drawn from its own
  stream `default_rng([seed, LIBRARY_STREAM, i])`, then the user's images (`[randomize]
  texture_dir`), in sorted path order. A shard picks its texture slots from this library with
  its layout stream, so a shard stays a pure function of (config, seed, shard); a worker caches
  the pixels of the recipes it has made (TexturePixels), which only saves time.
- The user's files are read once, on the driver (`load_user_files`), and travel in the Job, so
  that workers need no copy of the folders: images resized to the slot size (`randomize.texture_size`), meshes as vertex
  and face arrays. Each keeps its path relative to its folder and the sha256 of the file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from statgen.core import textures
from statgen.errors import ConfigError

LIBRARY_STREAM = 10  # default_rng([seed, LIBRARY_STREAM, i]) draws recipe i of a seed's library
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MESH_SUFFIXES = (".obj", ".stl")
MAX_USER_FILES = 512


@dataclass(frozen=True)
class UserImage:
    path: str  # relative to texture_dir
    sha256: str  # of the file
    pixels: np.ndarray  # (size, size, 3) uint8, size: randomize.texture_size


@dataclass(frozen=True)
class UserMesh:
    path: str  # relative to mesh_dir
    sha256: str
    vertices: np.ndarray  # (n, 3) float64 [m], centred, resting on z = 0, scaled into the distractor size range
    faces: np.ndarray  # (m, 3) int32


@dataclass(frozen=True)
class UserFiles:
    images: tuple[UserImage, ...] = ()
    meshes: tuple[UserMesh, ...] = ()

    def identity(self) -> dict[str, Any]:
        """What the run identity records of them: path and sha256 of each."""
        return {"images": [[i.path, i.sha256] for i in self.images], "meshes": [[m.path, m.sha256] for m in self.meshes]}


def _files(folder: str, suffixes: tuple[str, ...], what: str) -> list[Path]:
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ConfigError(f"randomize.{what}: {folder} is not a folder")
    found = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    if not found:
        raise ConfigError(f"randomize.{what}: no {', '.join(suffixes)} files in {folder}")
    if len(found) > MAX_USER_FILES:
        raise ConfigError(f"randomize.{what}: {len(found)} files in {folder}; at most {MAX_USER_FILES}")
    return found


def load_user_files(texture_dir: str | None, mesh_dir: str | None, *, texture_size: int, max_size_m: float = 0.07) -> UserFiles:
    """Read the user's images (resized to texture_size x texture_size [px]) and meshes (ConfigError naming the file that cannot be read)."""
    images, meshes = [], []
    if texture_dir:
        from PIL import Image

        root = Path(texture_dir).expanduser()
        for p in _files(texture_dir, IMAGE_SUFFIXES, "texture_dir"):
            data = p.read_bytes()
            try:
                import io

                rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            except Exception as e:  # noqa: BLE001 - any decoder failure names the file
                raise ConfigError(f"randomize.texture_dir: cannot read {p} as an image ({type(e).__name__})") from None
            images.append(UserImage(p.relative_to(root).as_posix(), hashlib.sha256(data).hexdigest(), textures.fit_image(rgb, texture_size)))
    if mesh_dir:
        from statgen.sim.meshes import _parse_obj, _parse_stl

        root = Path(mesh_dir).expanduser()
        for p in _files(mesh_dir, MESH_SUFFIXES, "mesh_dir"):
            data = p.read_bytes()
            try:
                v, f = (_parse_obj if p.suffix.lower() == ".obj" else _parse_stl)(data)
            except Exception as e:  # noqa: BLE001
                raise ConfigError(f"randomize.mesh_dir: cannot read {p} as a mesh ({type(e).__name__}: {e})") from None
            v = np.asarray(v, dtype=np.float64)
            if len(v) < 4 or len(f) < 4:
                raise ConfigError(f"randomize.mesh_dir: {p} has too few vertices or faces to be a solid")
            lo, hi = v.min(0), v.max(0)
            v = v - np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])  # centred in x, y; resting on z = 0
            v = v * (2 * max_size_m / max(float((hi - lo).max()), 1e-9))  # its largest extent: twice the largest half size
            meshes.append(UserMesh(p.relative_to(root).as_posix(), hashlib.sha256(data).hexdigest(), v, np.asarray(f, dtype=np.int32)))
    return UserFiles(tuple(images), tuple(meshes))


def library_recipe(seed: int, i: int, user: UserFiles | None, size: int) -> dict[str, Any]:
    """Recipe i of a seed's library: procedural for i < size, then the user's images."""
    if i < size:
        return textures.draw_recipe(np.random.default_rng([seed, LIBRARY_STREAM, i]))
    img = user.images[i - size]
    return textures.image_recipe(img.path, img.sha256)


@dataclass
class TexturePixels:
    """A worker's cache of texture pixels by recipe (only saves time: pixels are a pure function of the recipe)."""

    size: int  # a texture's side [px]
    user: UserFiles | None = None
    cache: dict[str, np.ndarray] = field(default_factory=dict)
    made: int = 0  # recipes made (not found in the cache)

    def pixels(self, recipe: dict[str, Any]) -> np.ndarray:
        key = f"{recipe['pattern']}|{recipe['colors']}|{recipe['frequency']}|{recipe['angle']}|{recipe['seed']}|{recipe['sha256']}"
        px = self.cache.get(key)
        if px is None:
            if recipe["pattern"] == textures.IMAGE:
                found = [i for i in (self.user.images if self.user else ()) if i.sha256 == recipe["sha256"]]
                if not found:
                    raise ConfigError(f"texture {recipe['path']!r} (sha256 {recipe['sha256'][:12]}...) is not in randomize.texture_dir here")
                px = found[0].pixels
            else:
                px = textures.make_texture(recipe, self.size)
            self.cache[key] = px
            self.made += 1
        return px


def user_files(cfg: Any, task: Any) -> UserFiles | None:
    """A GenerateConfig's user images and meshes (randomize.texture_dir, mesh_dir), or None when there are none."""
    r = cfg.randomize
    if r.level == "none" or not (r.texture_dir or (r.mesh_dir and r.level == "full")):
        return None
    return load_user_files(r.texture_dir, r.mesh_dir if r.level == "full" else None, texture_size=r.texture_size,
                           max_size_m=float(r.resolve(task.levers)["distractor_size_m"][1]))
