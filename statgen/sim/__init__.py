"""Simulation: resolving robot models, building the scene, sampling, FK labels, rendering."""
