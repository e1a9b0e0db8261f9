"""Shared test setup: headless GL, the local Menagerie copy, and scene builders.

MUJOCO_GL must be set before the first `import mujoco` anywhere in the process, so it
is set here at import time (pytest imports conftest.py before the test modules).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

_LOCAL_MENAGERIE = Path(__file__).resolve().parents[2] / "shared/assets/menagerie"
if not os.environ.get("MENAGERIE_ROOT") and _LOCAL_MENAGERIE.exists():
    os.environ["MENAGERIE_ROOT"] = str(_LOCAL_MENAGERIE)

pytest_plugins = ["s3_server", "gcs_server"]

import functools  # noqa: E402
import inspect  # noqa: E402
import re  # noqa: E402

import pytest  # noqa: E402


@functools.lru_cache(maxsize=None)
def resolved(robot: str = "franka"):
    """(RobotSpec, TaskSpec('tabletop'), ResolvedModel) for a robot, read once per session."""
    from statgen.config import load_robot, load_task
    from statgen.sim.assets import resolve_model

    spec = load_robot(robot)
    return spec, load_task("tabletop"), resolve_model(spec)


def make_scene(robot: str = "franka", cameras: tuple[str, ...] = ("front",), **render):
    """A compiled statgen Scene of `robot` on the tabletop task (a fresh MjModel each call).

    Extra keyword arguments become statgen.config.RenderSettings fields.
    """
    from statgen.config import RenderSettings
    from statgen.sim.scene import build_scene

    spec, task, res = resolved(robot)
    return build_scene(robot=spec, task=task, resolved=res, cameras=tuple(cameras), render=RenderSettings(**render))


def make_spec(robot: str = "franka", cameras: tuple[str, ...] = ("front",), **render):
    """(MjSpec, children, RobotSpec, TaskSpec) for the scene, to add test-only geoms before compiling.

    The children (attached sub-specs) must be kept alive until the spec is compiled.
    """
    from statgen.config import RenderSettings
    from statgen.sim.scene import build_spec

    spec, task, res = resolved(robot)
    mj_spec, children = build_spec(robot=spec, task=task, resolved=res, cameras=tuple(cameras), render=RenderSettings(**render))
    return mj_spec, children, spec, task


def draw(scene, rng, acc=None, *, require_visible: bool = False, data=None):
    """One accepted configuration of `scene` drawn by statgen's IndependentSource, and its labels:
    (Labels, the MjData left at it). Pass `data` to keep drawing into the same MjData."""
    import mujoco

    from statgen.schema import Acceptance
    from statgen.sim.labels import labels
    from statgen.sim.sources import IndependentSource

    data = data if data is not None else mujoco.MjData(scene.model)
    IndependentSource(scene, data, require_visible=require_visible).next(rng=rng, acc=acc if acc is not None else Acceptance())
    return labels(scene, data), data


@pytest.fixture(scope="session")
def franka_scene():
    """The franka/tabletop scene with the front camera (read-only: tests make their own MjData)."""
    return make_scene("franka", ("front",))


def no_ray(monkeypatch) -> None:
    """statgen.run.generate.generate without Ray, from here on: each shard is made by a ShardProducer in
    this process (the same producer the Ray workers run), so a small dataset costs no Ray start."""
    import statgen.run.generate as gen
    from statgen.run.producer import ShardProducer

    class NoRay:
        def start(self, *a, **k):
            pass

        def stop(self):
            pass

    def shards_here(job, todo, out, *, on_result, on_progress):
        producer = ShardProducer(job)
        try:
            for plan in todo:
                on_result(producer.produce(plan, out))
        finally:
            producer.close()

    monkeypatch.setattr(gen, "RaySession", NoRay)
    monkeypatch.setattr(gen, "run_shards", shards_here)


@pytest.fixture
def generate_in_process(monkeypatch):
    """statgen.run.generate.generate without Ray (no_ray)."""
    import statgen.run.generate as gen

    no_ray(monkeypatch)
    return gen.generate


# --------------------------------------------------------------------------- end-to-end datasets

E2E_N, E2E_SHARD = 24, 8


def run_cli(*args: str, check: bool = True, **kw):
    """`python -m statgen.cli ...` in a subprocess (its own Ray instance)."""
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "statgen.cli", *args], capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"statgen {' '.join(args)} exited {p.returncode}:\n{p.stderr[-3000:]}")
    return p


def e2e_args(out, *extra: str) -> list[str]:
    return ["generate", "--robot", "franka", "--n", str(E2E_N), "--shard-size", str(E2E_SHARD), "--out", str(out), "--quiet", *extra]


@pytest.fixture(scope="session")
def dataset_2w(tmp_path_factory, shared_ray):
    """A tiny franka dataset made by 2 Ray workers (read-only: copy it before damaging it)."""
    out = tmp_path_factory.mktemp("ds") / "two"
    run_cli(*e2e_args(out, "--workers", "2"), env=shared_ray_env(shared_ray))
    return out


# --------------------------------------------------------------------------- the fast loop

# A test that starts Ray or a `statgen generate` subprocess is marked slow, so `make test-fast`
# (pytest -m "not slow") leaves it out; `make test` runs everything. Marked automatically: a test
# that uses a fixture which makes a dataset that way, or whose own code calls a helper that does.
E2E_FIXTURES = {"dataset_2w", "one_worker", "s3_dataset", "gcs_dataset", "cluster"}
_STARTS_A_RUN = re.compile(r"\b(run_cli|cli|s3_cli|run_with_fault|_generate|generate_to)\(|subprocess\.Popen\(|\bstatgen\.generate\(")


@functools.lru_cache(maxsize=None)
def _starts_a_run(fn) -> bool:
    try:
        return bool(_STARTS_A_RUN.search(inspect.getsource(fn)))
    except (OSError, TypeError):
        return False


def pytest_collection_modifyitems(config, items):
    for item in items:
        fn = getattr(item, "function", None)
        if item.get_closest_marker("slow") is None and (E2E_FIXTURES & set(item.fixturenames) or (fn is not None and _starts_a_run(fn))):
            item.add_marker(pytest.mark.slow)


# --------------------------------------------------------------------------- one Ray cluster for the suite

# Starting an embedded Ray instance costs most of a small run (about 5 s of a 7 s run on 2 cores),
# so the runs of the slow tests join one Ray cluster started for the whole session, through Ray's
# own RAY_ADDRESS convention (statgen joins it like --address). A test that is about the embedded
# instance itself (signals, SIGKILL, the watchdog), or whose workers need the driver's environment
# (object-storage credentials, storage fault injection), is marked own_ray and runs as a user's.


@pytest.fixture(scope="session")
def shared_ray() -> str:
    """The address of a one-node Ray cluster on this machine, up for the whole session."""
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": max(2, os.cpu_count() or 1), "include_dashboard": False})
    yield c.address
    c.shutdown()


def shared_ray_env(address: str, **extra: str) -> dict[str, str]:
    """os.environ for a subprocess that joins the session's cluster (for session fixtures, which
    are set up before the per-test RAY_ADDRESS below)."""
    return {**os.environ, "RAY_ADDRESS": address, **extra}


@pytest.fixture(autouse=True)
def _ray_address(request, monkeypatch):
    if request.node.get_closest_marker("slow") is not None and request.node.get_closest_marker("own_ray") is None:
        monkeypatch.setenv("RAY_ADDRESS", request.getfixturevalue("shared_ray"))
    else:
        monkeypatch.delenv("RAY_ADDRESS", raising=False)


# --------------------------------------------------------------------------- bad input and faults


def assert_one_line(err: str, code: int, expected: int) -> str:
    """A user-facing failure: the exit code, exactly one line on stderr starting 'statgen: ',
    and no traceback. Returns the line."""
    assert code == expected, f"exit {code}, expected {expected}; stderr:\n{err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    assert lines[0].startswith("statgen: "), lines[0]
    assert "Traceback" not in err
    return lines[0]


def half_written(out) -> list[str]:
    """Files under `out` that a reader must never see after a failed or stopped run:
    hidden partial/temporary files and a lock nobody holds."""
    from pathlib import Path

    out = Path(out)
    if not out.exists():
        return []
    bad = [str(p.relative_to(out)) for p in out.rglob(".*") if p.is_file()]
    if (out / "_run/lock").exists():
        bad.append("_run/lock")
    return sorted(bad)


# --------------------------------------------------------------------------- a dataset without Ray (exports, card, loading)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """24 franka samples in 3 shards of 8 (front and wrist cameras), one shard in validation, card
    included, made in this process without Ray (tests/exports.py). Read-only: copy it to damage it."""
    from exports import make_dataset

    return make_dataset(tmp_path_factory.mktemp("small") / "ds", cameras=("front", "wrist"))
