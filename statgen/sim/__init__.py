"""Simulation: resolving robot models, building the scene, sampling, FK labels, rendering."""

from statgen.sim.gl import check_mujoco_gl

# mujoco reads MUJOCO_GL when imported and every module here imports it: a bad value is a
# one-line user mistake (exit 2) here, not a RuntimeError traceback from inside mujoco.
check_mujoco_gl()
