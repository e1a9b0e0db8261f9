"""The wheel carries robots/, tasks/ and pipelines/, and the code finds them there (not only in a checkout)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.own_ray  # the installed wheel's own Python runs the workers

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # builds and installs a wheel (about half a minute): left out of make test-fast
def test_wheel_ships_the_data_files_and_finds_them(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = dist.glob("statgen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("robots", "tasks", "pipelines"):
        shipped = {p.name for p in (REPO / kind).glob("*.toml")}
        assert shipped, kind
        assert {f"statgen/_data/{kind}/{n}" for n in shipped} <= names
    target = tmp_path / "site"
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                          capture_output=True, text=True)
    assert inst.returncode == 0, inst.stderr[-2000:]
    probe = ("import json, statgen, statgen.config as c; "
             "print(json.dumps({'pkg': statgen.__file__, 'dir': str(c.data_dir('robots')), 'robots': c.available('robots'), "
             "'robot': c.load_robot('franka').name, 'task': c.load_task('tabletop').name, 'pipe': c.load_pipeline('franka_tabletop')['robot']}))")
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout)
    assert got["pkg"].startswith(str(target)) and got["dir"].startswith(str(target))
    assert got["robots"] == sorted(p.stem for p in (REPO / "robots").glob("*.toml"))
    assert (got["robot"], got["task"], got["pipe"]) == ("franka", "tabletop", "franka")
