"""MUJOCO_GL: importing mujoco so that only rendering needs a working GL backend.

mujoco reads MUJOCO_GL once, when it is imported, and loads that backend's libraries then: a
value it does not know is a bare RuntimeError, and a backend whose library is missing (osmesa
without libOSMesa) is a 60-line traceback from inside PyOpenGL. statgen/sim/__init__.py calls
import_mujoco() before any module here imports mujoco:

- it checks, without importing mujoco, that rendering can work: the value is one mujoco
  accepts, rendering is not turned off, and the backend's libraries load (the way PyOpenGL
  loads them; for glfw, the glfw package);
- if so, mujoco is imported as it is; if not, mujoco is imported with its GL disabled and the
  reason is kept. Commands that do not render (verify's FK, the scene, the labels) then work
  whatever MUJOCO_GL says, and require_rendering(), called where rendering happens (generate,
  before anything is written, and each renderer), raises the reason: one line, exit 2,
  naming the backend and what to install or which value to use.

A backend that loads but cannot make a context (EGL without a usable device, glfw without a
display) fails when the first renderer is made; context_error() turns that into the same
kind of line. This module itself never imports mujoco.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import sys
from collections.abc import Mapping

from statgen.errors import ConfigError

# What mujoco 3.x accepts (mujoco/rendering/classic/gl_context.py), after .lower().strip().
_OFF = ("disable", "disabled", "off", "false", "0")
_ANY_PLATFORM = ("enable", "enabled", "on", "true", "1", "glfw", "")
_PER_PLATFORM = {"Linux": ("glx", "egl", "osmesa"), "Windows": ("wgl",), "Darwin": ("cgl",)}
# What a user is told to choose from: the headless backends first, then the windowed one.
SUGGESTED = {"Linux": ("egl", "osmesa", "glfw"), "Windows": ("wgl", "glfw"), "Darwin": ("cgl", "glfw")}
# What to install for each Linux backend.
_INSTALL = {
    "egl": "install libEGL and an OpenGL driver (Debian/Ubuntu: apt-get install libegl1 libgl1-mesa-dri; with an NVIDIA GPU, its driver)",
    "osmesa": "install libOSMesa, Mesa's off-screen renderer (Debian/Ubuntu: apt-get install libosmesa6; Fedora: dnf install mesa-libOSMesa)",
    "glfw": "install GLFW (pip install glfw) and run with a display (DISPLAY)",
}

_import_problem: str | None = None  # why rendering cannot work, when mujoco was imported with its GL disabled


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


def backend(value: str | None, system: str | None = None) -> str:
    """The backend mujoco picks for a MUJOCO_GL value: egl, osmesa, glfw, cgl, wgl, or off."""
    system = system or platform.system()
    v = (value or "").lower().strip()
    if v in _OFF:
        return "off"
    if system == "Linux" and v in ("egl", "osmesa"):
        return v
    if system == "Darwin":
        return "glfw" if v == "glfw" else "cgl"
    return "wgl" if v == "wgl" else "glfw"


def _loads(name: str) -> bool:
    """Whether lib<name>.so loads, tried the way PyOpenGL tries it on Linux (.so, then .so.9 ... .so.0)."""
    base = f"lib{name}.so"
    for filename in [base] + [f"{base}.{i}" for i in range(9, -1, -1)]:
        try:
            ctypes.CDLL(filename, mode=ctypes.RTLD_GLOBAL)
            return True
        except OSError:
            continue
    return False


def _missing(b: str) -> str | None:
    """What the backend cannot load here, or None."""
    if b == "osmesa":
        return None if _loads("OSMesa") else "libOSMesa"
    if b == "egl":
        if not _loads("EGL"):
            return "libEGL"
        return None if any(_loads(n) for n in ("OpenGL", "GL", "GLESv2", "GLESv1_CM")) else "libGL"
    if b == "glfw":
        try:
            import glfw  # noqa: F401 - what mujoco.glfw imports; it raises ImportError without the library
        except Exception:  # noqa: BLE001 - any failure to load it
            return "the GLFW library"
    return None


def _help(b: str) -> str:
    """What to install for backend b, or which headless value to use instead (only one that loads here)."""
    others = [x for x in ("egl", "osmesa") if x != b and platform.system() == "Linux" and _missing(x) is None]
    instead = f"use MUJOCO_GL={others[0]}" + (" (statgen's default)" if others[0] == "egl" else "") if others else ""
    install = _INSTALL.get(b, "")
    way = f"{install}, or {instead}" if install and instead else install or instead or "use MUJOCO_GL=egl"
    choices = SUGGESTED.get(platform.system(), ("glfw",))
    return f"{way}; MUJOCO_GL takes {', '.join(choices[:-1])} or {choices[-1]}" if len(choices) > 1 else way


@functools.lru_cache(maxsize=None)
def _problem(raw: str | None, pyopengl: str | None, display: bool, system: str) -> str | None:
    try:
        check_mujoco_gl(environ={} if raw is None else {"MUJOCO_GL": raw}, system=system)
    except ConfigError as e:
        return str(e)
    b = backend(raw, system)
    if b == "off":
        return (f"environment variable MUJOCO_GL={raw!r} turns rendering off, and statgen generate renders; "
                "unset it (egl is statgen's default) or set it to egl, osmesa or glfw")
    if system != "Linux":
        return None
    if b in ("egl", "osmesa") and pyopengl and pyopengl.lower().strip() != b:
        return f"MUJOCO_GL={b} but PYOPENGL_PLATFORM={pyopengl!r}; unset PYOPENGL_PLATFORM or set it to {b}"
    if b == "glfw" and not display:
        return (f"environment variable MUJOCO_GL={raw if raw is not None else ''}: the glfw backend needs a display, and "
                f"neither DISPLAY nor WAYLAND_DISPLAY is set; run with a display, or, headless, {_help('')}")
    missing = _missing(b)
    if missing:
        return f"environment variable MUJOCO_GL={raw if raw is not None else ''}: the {b} backend cannot load {missing}; {_help(b)}"
    return None


def gl_problem(environ: Mapping[str, str] = os.environ, system: str | None = None) -> str | None:
    """Why rendering cannot work with this environment's MUJOCO_GL (one line), or None. Never imports mujoco."""
    display = bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))
    return _problem(environ.get("MUJOCO_GL"), environ.get("PYOPENGL_PLATFORM"), display, system or platform.system())


def import_mujoco() -> None:
    """Import mujoco for this process: as it is when rendering can work, else with its GL disabled
    (the reason is kept for require_rendering). Does nothing when mujoco is already imported."""
    global _import_problem
    if "mujoco" in sys.modules:
        return
    problem = gl_problem()
    if problem is None:
        try:
            import mujoco  # noqa: F401
        except Exception as e:  # noqa: BLE001 - a backend that passed the checks and still fails to load
            raw = os.environ.get("MUJOCO_GL", "")
            b = backend(raw)
            raise ConfigError(f"environment variable MUJOCO_GL={raw}: mujoco cannot load its {b} backend "
                              f"({_first_line(e)}); {_help(b)}") from None
        return
    _import_problem = problem
    saved = os.environ.get("MUJOCO_GL")
    os.environ["MUJOCO_GL"] = "disable"
    try:
        import mujoco  # noqa: F401
    finally:
        if saved is None:
            os.environ.pop("MUJOCO_GL", None)
        else:
            os.environ["MUJOCO_GL"] = saved


def rendering_problem() -> str | None:
    """Why this process cannot render with its MUJOCO_GL (one line), or None."""
    return _import_problem or gl_problem()


def require_rendering() -> None:
    """ConfigError (one line, exit 2) when this process cannot render with its MUJOCO_GL."""
    problem = rendering_problem()
    if problem:
        raise ConfigError(problem)


def context_error(e: BaseException) -> ConfigError:
    """A GL context that could not be made (the backend loaded): one line naming the backend."""
    raw = os.environ.get("MUJOCO_GL", "")
    b = backend(raw)
    return ConfigError(f"environment variable MUJOCO_GL={raw}: the {b} backend cannot create an OpenGL context "
                       f"({_first_line(e)}); {_help(b)}")


def _first_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
