"""Procedural textures: pure numpy, no I/O, no MuJoCo.

A texture is made in two steps, so that a dataset records it in a few bytes:

- `draw_recipe(rng)` draws a *recipe*: a small JSON-ready record (pattern, two colours, a
  frequency, an angle, a seed). Every recipe has the same keys whatever its pattern, so the
  records of a dataset share one shape;
- `make_texture(recipe, size)` turns a recipe into pixels, (size, size, 3) uint8, as a pure
  function of the recipe: the same recipe gives the same bytes on every machine.

Patterns: checker, stripes, gradient (a triangle wave), value noise (fractal), wood-like and
marble-like grain. Every pattern tiles seamlessly (integer wave vectors, periodic noise), and
frequencies stay low (at most MAX_CYCLES cycles across a tile), because statgen samples these
textures without mipmaps (GL_LINEAR): a fine pattern would alias.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PATTERNS = ("checker", "stripes", "gradient", "noise", "wood", "marble")
MAX_CYCLES = 6  # cycles across one tile, at most
IMAGE = "image"  # a recipe that names a user's image instead of a procedural pattern


def _round(x: float, nd: int = 3) -> float:
    return float(round(float(x), nd))


def draw_recipe(rng: np.random.Generator) -> dict[str, Any]:
    """A random recipe (JSON-ready; the same keys for every pattern)."""
    pattern = PATTERNS[int(rng.integers(len(PATTERNS)))]
    c1 = rng.random(3)
    c2 = np.clip(c1 + rng.uniform(-0.5, 0.5, 3), 0, 1) if rng.random() < 0.6 else rng.random(3)  # often a close palette
    return {
        "pattern": pattern,
        "colors": [[_round(x) for x in c1], [_round(x) for x in c2]],
        "frequency": int(rng.integers(1, MAX_CYCLES + 1)),  # cycles across the tile
        "angle": int(rng.integers(0, 4)),  # which integer wave vector: 0 x, 1 y, 2 and 3 the diagonals
        "seed": int(rng.integers(0, 2**31 - 1)),
        "path": "",  # an image recipe: its path relative to texture_dir
        "sha256": "",  # and the sha256 of that file
    }


def image_recipe(path: str, sha256: str) -> dict[str, Any]:
    """The recipe of a user's image (its pixels come from the file, resized to the slot)."""
    return {"pattern": IMAGE, "colors": [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]], "frequency": 1, "angle": 0, "seed": 0, "path": path, "sha256": sha256}


def _wave(n: int, frequency: int, angle: int) -> np.ndarray:
    """Phase in cycles (n, n) along an integer wave vector: periodic over the tile."""
    k = {0: (frequency, 0), 1: (0, frequency), 2: (frequency, frequency), 3: (frequency, -frequency)}[angle]
    y, x = np.mgrid[0:n, 0:n].astype(np.float64) / n
    return k[0] * x + k[1] * y


def _value_noise(n: int, rng: np.random.Generator, cells: int) -> np.ndarray:
    """Smooth periodic value noise in [0, 1], (n, n)."""
    g = rng.random((cells, cells))
    x = np.arange(n) * cells / n
    i = x.astype(int)
    f = x - i
    f = f * f * (3 - 2 * f)  # smoothstep
    i1 = (i + 1) % cells  # periodic: the last cell blends into the first
    a = g[i][:, i] * (1 - f)[None, :] + g[i][:, i1] * f[None, :]
    b = g[i1][:, i] * (1 - f)[None, :] + g[i1][:, i1] * f[None, :]
    return a * (1 - f)[:, None] + b * f[:, None]


def _fbm(n: int, rng: np.random.Generator, octaves: int, base: int = 2) -> np.ndarray:
    t = sum(_value_noise(n, rng, base * 2**o) * 0.5**o for o in range(octaves))
    t = t - t.min()
    return t / (t.max() + 1e-12)


def pattern_value(recipe: dict[str, Any], n: int) -> np.ndarray:
    """The recipe's pattern as values in [0, 1], (n, n) float64."""
    rng = np.random.default_rng(int(recipe["seed"]))
    f, angle, p = int(recipe["frequency"]), int(recipe["angle"]), recipe["pattern"]
    if p == "checker":
        y, x = np.mgrid[0:n, 0:n]
        cells = 2 * f  # an even count: tiles seamlessly
        return (((x * cells // n) + (y * cells // n)) % 2).astype(np.float64)
    if p == "stripes":
        return (np.sin(2 * np.pi * _wave(n, f, angle)) > 0).astype(np.float64)
    if p == "gradient":
        t = _wave(n, f, angle) % 1.0
        return 1 - np.abs(2 * t - 1)  # a triangle wave: no seam
    if p == "noise":
        return _fbm(n, rng, 4, base=f + 1)
    if p == "wood":
        t = (np.sin(2 * np.pi * (_wave(n, 2 * f, angle) + 1.5 * _fbm(n, rng, 3))) + 1) / 2
        return t**0.7
    if p == "marble":
        t = (np.sin(2 * np.pi * (_wave(n, f, 2 + angle % 2) + 3.0 * _fbm(n, rng, 5))) + 1) / 2
        return t**2
    raise ValueError(f"unknown texture pattern {p!r}; expected one of {', '.join(PATTERNS)}")


def make_texture(recipe: dict[str, Any], size: int) -> np.ndarray:
    """The pixels of a procedural recipe: (size, size, 3) uint8, a pure function of the recipe."""
    t = pattern_value(recipe, size)[..., None]
    c1, c2 = (np.asarray(c, dtype=np.float64) for c in recipe["colors"])
    return np.round(255 * (c1 * (1 - t) + c2 * t)).astype(np.uint8)


def fit_image(rgb: np.ndarray, size: int) -> np.ndarray:
    """A user's image (H, W, 3) uint8 as a size x size slot: the central square, resized (box filter)."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    y0, x0 = (h - s) // 2, (w - s) // 2
    sq = rgb[y0:y0 + s, x0:x0 + s].astype(np.float64)
    idx = (np.arange(size + 1) * s) // size  # pixel bins of the source per target pixel
    out = np.empty((size, size, 3))
    csum = np.cumsum(np.cumsum(np.pad(sq, ((1, 0), (1, 0), (0, 0))), 0), 1)  # summed-area table
    y0s, y1s = idx[:-1], np.maximum(idx[1:], idx[:-1] + 1)
    area = (y1s - y0s)[:, None] * (y1s - y0s)[None, :]
    out = (csum[y1s][:, y1s] - csum[y0s][:, y1s] - csum[y1s][:, y0s] + csum[y0s][:, y0s]) / area[..., None]
    return np.round(out).astype(np.uint8)
