"""`statgen robots`: each shipped robot, its model source (arm and attached gripper), and whether the model is here."""

from __future__ import annotations

from statgen.config import available, load_robot
from statgen.errors import StatgenError
from statgen.sim.assets import find_gripper_dir, find_model_dir


def robot_table() -> list[str]:
    rows = [("ROBOT", "SOURCE", "LICENSE", "AVAILABLE", "DESCRIPTION")]
    for name in available("robots"):
        spec = load_robot(name)
        source, license = f"{spec.model.source}:{spec.model.name}", spec.model.license
        g = spec.model.gripper
        if g is not None:
            source += f" + {g.source}:{g.name}"
            license += "" if g.license == license else f" + {g.license}"
        try:
            d, _ = find_model_dir(spec, download=False)
            status = f"yes ({d}"
            if g is not None:
                gd, _ = find_gripper_dir(spec, download=False)
                status += f", {gd}"
            status += ")"
        except StatgenError:
            how = "set --assets, STATGEN_ASSETS or MENAGERIE_ROOT"
            if "menagerie" in (spec.model.source, g.source if g is not None else ""):
                how += ", or allow the Menagerie download"
            status = f"no ({how})"
        rows.append((name, source, license, status, spec.description))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return ["  ".join([*(r[i].ljust(widths[i]) for i in range(4)), r[4]]).rstrip() for r in rows]
