"""Simulation: resolving robot models, building the scene, sampling, FK labels, rendering."""

from statgen.sim.gl import import_mujoco

# mujoco reads MUJOCO_GL when imported, and every module here imports it: import it once here,
# so that a MUJOCO_GL that cannot render stops only what renders (statgen.sim.gl), with one line.
import_mujoco()
