"""statgen: exact robot-state training data (the ROSA recipe) from simulated arms.

    import statgen
    cfg = statgen.build_config({"robot": "franka", "n": 2000, "out": "data/franka"})
    dataset = statgen.generate(cfg)   # the same function `statgen generate` calls
"""

from __future__ import annotations

import os

# Headless rendering: mujoco reads MUJOCO_GL when it first creates a GL context, so it
# must be set before mujoco is imported. EGL uses a GPU when there is one, else Mesa's
# llvmpipe. A user's own setting (osmesa, glfw) wins; an empty one counts as unset (mujoco
# would take it for glfw, which needs a display). statgen.sim checks the value before
# mujoco is imported (statgen/sim/gl.py).
if not os.environ.get("MUJOCO_GL", "").strip():
    os.environ["MUJOCO_GL"] = "egl"

__version__ = "0.1.0"

from statgen.config import GenerateConfig, RenderSettings, build_config, load_pipeline  # noqa: E402
from statgen.errors import ConfigError, Interrupted, RunError, StatgenError, VerifyError  # noqa: E402


def generate(config: GenerateConfig) -> dict:
    """Generate (or resume) a dataset; returns dataset.json's content. See statgen.run.generate."""
    from statgen.run.generate import generate as _generate

    return _generate(config)


__all__ = [
    "ConfigError", "GenerateConfig", "Interrupted", "RenderSettings", "RunError", "StatgenError", "VerifyError",
    "build_config", "generate", "load_pipeline", "__version__",
]
