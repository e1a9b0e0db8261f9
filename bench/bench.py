"""`make bench`: statgen against the naive loop and the render-only ceiling, as ratios.

Every measurement runs in its own subprocess (one GL renderer per process; Ray starts
fresh), on this machine, in this run, so the ratios compare like with like.

  naive      dm_control Physics.render at MuJoCo's defaults (shadows, reflections, 4x MSAA),
             full meshes, PIL JPEG, webdataset.ShardWriter; random configurations, no checks
  ceiling    statgen's renderer settings and meshes in a bare loop: set qpos, FK, render, over
             poses statgen accepts (drawn before the clock starts); no sampling, labels,
             encoding or I/O. "2 processes" is two such processes at once
  statgen    `statgen generate --robot franka` at default settings, end to end through Ray;
             "steady" is the rate once every worker is warm: per worker, the samples of its
             shards after its first one over the time from the end of its first shard to the
             end of its last (from the shard log), summed over workers

The ceiling is measured before and after the statgen runs and averaged, so slow drift of
this (shared, noisy) machine does not land on one side of the ratio.

Usage: python bench/bench.py [--n-big 50000] [--n-main 500000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SNIPPET_SETUP = r"""
import os, sys, time, json, numpy as np
os.environ.setdefault("MUJOCO_GL", "egl")
import statgen
from statgen.config import load_robot, load_task, RenderSettings
from statgen.config import resolve_render
from statgen.sim.assets import resolve_model, simplify_for
from statgen.sim.scene import build_scene
robot, task = load_robot("franka"), load_task("tabletop")
"""

NAIVE = SNIPPET_SETUP + r"""
import io, mujoco, webdataset as wds
from PIL import Image
from dm_control.mujoco import Physics
n, out = int(sys.argv[1]), sys.argv[2]
from statgen.sim.scene import build_spec, index_scene
resolved = resolve_model(robot)
spec, _children = build_spec(robot=robot, task=task, resolved=resolved, cameras=("front",), render=RenderSettings(multisample=4))
physics = Physics.from_xml_string(spec.to_xml(), assets=resolved.assets)

class _S: pass
scene = _S(); scene.index = index_scene(physics.model.ptr, robot=robot, cameras=("front",))
rng = np.random.default_rng(0)
ix = scene.index
physics.render(224, 224, camera_id="front")
t0 = time.perf_counter()
with wds.ShardWriter(out + "/naive-%06d.tar", maxcount=1000) as sink:
    for i in range(n):
        physics.data.qpos[ix.arm_qpos] = rng.uniform(ix.arm_ranges[:, 0], ix.arm_ranges[:, 1])
        physics.forward()
        img = physics.render(224, 224, camera_id="front")
        buf = io.BytesIO(); Image.fromarray(img).save(buf, format="JPEG", quality=90)
        sink.write({"__key__": f"{i:09d}", "front.jpg": buf.getvalue(), "json": json.dumps({"qpos": physics.data.qpos.tolist()}).encode()})
print(json.dumps({"rate": n / (time.perf_counter() - t0)}))
"""

CEILING = SNIPPET_SETUP + r"""
import mujoco
from statgen.sim.render import CameraRenderer
from statgen.schema import Acceptance
from statgen.sim.scene import set_qpos
from statgen.sim.sources import IndependentSource
n = int(sys.argv[1])
settings = resolve_render(RenderSettings(), robot)
resolved = simplify_for(resolve_model(robot), settings)
scene = build_scene(robot=robot, task=task, resolved=resolved, cameras=("front",), render=settings)
# The poses statgen would render (accepted draws), drawn before the clock starts.
data = mujoco.MjData(scene.model)
source, acc, rng = IndependentSource(scene, data), Acceptance(), np.random.default_rng(0)
poses = [np.array(source.next(rng=rng, acc=acc).qpos) for _ in range(n)]
with CameraRenderer(scene, render=settings) as r:
    r.render(data, "front")
    t0 = time.perf_counter()
    for q in poses:
        set_qpos(scene, data, qpos=q)
        r.render(data, "front")
    print(json.dumps({"rate": n / (time.perf_counter() - t0)}))
"""


def run_snippet(code: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})


def result(p: subprocess.Popen) -> dict:
    out, err = p.communicate()
    if p.returncode != 0:
        raise SystemExit(f"bench: a measurement failed:\n{err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])


def statgen_run(n: int, workers: int, tmp: Path) -> dict:
    out = tmp / f"sg-{workers}-{n}"
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "statgen.cli", "generate", "--robot", "franka", "--n", str(n), "--workers", str(workers),
                        "--out", str(out), "--quiet"], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"bench: statgen generate failed:\n{p.stderr[-2000:]}")
    ds = json.loads((out / "dataset.json").read_text())
    return {"n": n, "wall": wall, "rate": n / wall, "steady": steady_rate(out), **ds["resources"], "gl": ds["versions"]["gl_renderer"]}


def steady_rate(out: Path) -> float | None:
    """Samples/s of warm workers, from the shard log's per-shard wall-clock times (see the module doc).
    None when a worker wrote fewer than 2 shards."""
    from statgen.storage.run import SHARDS_JSONL

    per_worker: dict[int, list[tuple[float, int]]] = {}
    for line in (out / SHARDS_JSONL).read_text().splitlines():
        d = json.loads(line)
        e = d["extra"]
        per_worker.setdefault(e["worker_pid"], []).append((e["seconds"][1], d["samples"]))
    rate = 0.0
    for shards in per_worker.values():
        shards.sort()
        if len(shards) < 2:
            return None
        rate += sum(k for _, k in shards[1:]) / (shards[-1][0] - shards[0][0])
    return rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-small", type=int, default=2000)
    ap.add_argument("--n-big", type=int, default=50000, help="the large run (memory flatness, steady rate)")
    ap.add_argument("--n-naive", type=int, default=30)
    ap.add_argument("--n-ceiling", type=int, default=2000)
    ap.add_argument("--n-main", type=int, default=0, help="also run the main job at this n with 2 workers (e.g. 500000: 12 minutes)")
    ap.add_argument("--quick", action="store_true", help="n-big 10000, for a fast look")
    a = ap.parse_args()
    if a.quick:
        a.n_big = 10000
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("measuring the naive loop ...", file=sys.stderr)
        naive = result(run_snippet(NAIVE, str(a.n_naive), str(tmp)))["rate"]
        ceilings = {1: [], 2: []}

        def measure_ceilings() -> None:
            print("measuring the render-only ceiling ...", file=sys.stderr)
            ceilings[1].append(result(run_snippet(CEILING, str(a.n_ceiling)))["rate"])
            procs = [run_snippet(CEILING, str(a.n_ceiling), env={"LP_NUM_THREADS": "1"}) for _ in range(2)]
            ceilings[2].append(sum(result(p)["rate"] for p in procs))

        measure_ceilings()
        runs = {}
        for w in (1, 2):
            sizes = [a.n_small, a.n_big if w == 2 else max(a.n_small * 3, a.n_big // 5)] + ([a.n_main] if w == 2 and a.n_main else [])
            for n in sizes:
                print(f"measuring statgen generate, {w} worker(s), n={n} ...", file=sys.stderr)
                runs[(w, n)] = statgen_run(n, w, tmp)
        measure_ceilings()
    steady = {w: runs[max(k for k in runs if k[0] == w)]["steady"] for w in (1, 2)}  # from the bigger run
    ceil = {w: sum(v) / len(v) for w, v in ceilings.items()}
    ceil1, ceil2 = ceil[1], ceil[2]
    rows.append(("naive loop (dm_control defaults, full meshes)", 1, naive, 1.0, naive / ceil1))
    rows.append(("render-only ceiling", 1, ceil1, ceil1 / naive, 1.0))
    rows.append(("render-only ceiling (2 processes)", 2, ceil2, ceil2 / naive, 1.0))
    for w in (1, 2):
        for n in sorted(n for (ww, n) in runs if ww == w):
            r = runs[(w, n)]
            rows.append((f"statgen end to end, n={n} (incl. start-up)", w, r["rate"], r["rate"] / naive, r["rate"] / ceil[w]))
        rows.append((f"statgen steady state (warm workers, n={max(n for ww, n in runs if ww == w)})", w, steady[w], steady[w] / naive, steady[w] / ceil[w]))
    gl = runs[(2, a.n_small)]["gl"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {gl}, Python {platform.python_version()}")
    print(f"ceiling runs (before, after): 1 process {ceilings[1][0]:.0f}, {ceilings[1][1]:.0f}; 2 processes {ceilings[2][0]:.0f}, {ceilings[2][1]:.0f} samples/s")
    print()
    print(f"| {'setup':52} | workers | samples/s | x naive | vs ceiling |")
    print(f"|{'-' * 54}|---------|-----------|---------|------------|")
    for name, w, rate, xn, xc in rows:
        print(f"| {name:52} | {w:7} | {rate:9.1f} | {xn:7.1f} | {100 * xc:9.0f}% |")
    print()
    print(f"| {'peak RSS [MiB]':30} | {'driver':>7} | {'worker':>7} |")
    print(f"|{'-' * 32}|---------|---------|")
    for (w, n), r in sorted(runs.items()):
        print(f"| {f'{w} worker(s), n={n}':30} | {r['driver_peak_rss_mb']:7.0f} | {r['worker_peak_rss_mb']:7.0f} |")


if __name__ == "__main__":
    main()
