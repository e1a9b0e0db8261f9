"""`statgen robots`: each shipped robot, its model source, and whether the model is here."""

from __future__ import annotations

from statgen.config import available, load_robot
from statgen.errors import StatgenError
from statgen.sim.assets import find_model_dir


def robot_table() -> list[str]:
    rows = [("ROBOT", "SOURCE", "LICENSE", "AVAILABLE", "DESCRIPTION")]
    for name in available("robots"):
        spec = load_robot(name)
        try:
            d, _ = find_model_dir(spec, download=False)
            status = f"yes ({d})"
        except StatgenError:
            status = "no (set --assets, STATGEN_ASSETS or MENAGERIE_ROOT, or allow the Menagerie download)"
        rows.append((name, f"{spec.model.source}:{spec.model.name}", spec.model.license, status, spec.description))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ["  ".join([*(r[i].ljust(widths[i]) for i in range(4)), r[4]]).rstrip() for r in rows]
