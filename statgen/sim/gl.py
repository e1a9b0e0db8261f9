"""MUJOCO_GL, checked before mujoco is imported.

mujoco reads MUJOCO_GL once, when it is imported, and raises a bare RuntimeError (a
traceback) on a value it does not know. Every module under statgen.sim imports mujoco, so
statgen/sim/__init__.py runs this check first and a bad value becomes one line, exit 2.
This module itself must never import mujoco.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping

from statgen.errors import ConfigError

# What mujoco 3.x accepts (mujoco/rendering/classic/gl_context.py), after .lower().strip().
_OFF = ("disable", "disabled", "off", "false", "0")
_ANY_PLATFORM = ("enable", "enabled", "on", "true", "1", "glfw", "")
_PER_PLATFORM = {"Linux": ("glx", "egl", "osmesa"), "Windows": ("wgl",), "Darwin": ("cgl",)}
# What a user is told to choose from: the headless backends first, then the windowed one.
SUGGESTED = {"Linux": ("egl", "osmesa", "glfw"), "Windows": ("wgl", "glfw"), "Darwin": ("cgl", "glfw")}


def check_mujoco_gl(*, environ: Mapping[str, str] = os.environ, system: str | None = None) -> str | None:
    """The MUJOCO_GL value (None when unset); ConfigError when mujoco would refuse it.

    system: platform.system() by default ("Linux", "Darwin", "Windows").
    """
    raw = environ.get("MUJOCO_GL")
    if raw is None:
        return None
    system = system or platform.system()
    value = raw.lower().strip()
    if value in _OFF or value in _ANY_PLATFORM or value in _PER_PLATFORM.get(system, ()):
        return raw
    choices = SUGGESTED.get(system, ("glfw",))
    raise ConfigError(
        f"environment variable MUJOCO_GL: expected {', '.join(choices[:-1])} or {choices[-1]}, got {raw!r}; "
        f"egl renders without a display (a GPU when there is one) and is statgen's default when MUJOCO_GL is unset"
    )
