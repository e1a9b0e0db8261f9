"""`make bench-looks`: what randomisation (issue 10) costs, measured in one run.

  levels     `statgen generate --robot franka --workers 2` at `--randomize none` and `full`,
             interleaved (none, full, none, ...) so that drift of this shared machine lands on
             both; per run the steady-state rate of warm workers (bench.steady_rate, wall
             clock) and their samples per CPU-second (the run log's cpu_seconds: what other
             processes on a shared machine change least); full / none from the best run of each
  shadows    one ShardProducer at level full in this process: frames/s of its renderer with
             shadows off and on (MuJoCo's default shadow map), in interleaved blocks
  upload     one texture slot (256x256 RGB) sent to the GL context: tex_data written,
             mjr_uploadTexture, GL_LINEAR filter set again [ms]; and making its pixels from a
             recipe with numpy [ms]. Both happen per shard (8 slots), never per sample

Usage: python bench/looks.py [--n 6000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import SNIPPET_SETUP, result, run_snippet, steady_rate  # noqa: E402

COSTS = SNIPPET_SETUP + r"""
import tempfile, mujoco
from statgen.config import build_config
from statgen.run.generate import prepare
from statgen.run.producer import ShardProducer
from statgen.schema import Acceptance
from statgen.sim.library import TEX_SIZE, library_recipe
from statgen.core.textures import make_texture
frames, blocks = int(sys.argv[1]), int(sys.argv[2])
cfg = build_config({"robot": "franka", "n": 100, "randomize.level": "full", "out": tempfile.mkdtemp() + "/o"})
job, _ = prepare(cfg)
p = ShardProducer(job)
streams, acc = p.start_shard(0), Acceptance()
drawn = [p.sample(streams, i, acc) for i in range(frames)]
r = p.renderer
flags = r.renderer.scene.flags
for s, look in drawn:  # warm up: shaders compiled, caches filled
    p.render(s, look)
out = {"off": [], "on": []}
for b in range(2 * blocks):
    mode = ("off", "on")[(b + b // 2) % 2]  # off on on off off on ...
    flags[mujoco.mjtRndFlag.mjRND_SHADOW] = int(mode == "on")
    part = drawn if mode == "off" else drawn[: max(5, frames // 10)]  # a shadowed frame costs ~20 plain ones
    t0 = time.perf_counter()
    for s, look in part:
        p.render(s, look)
    out[mode].append(len(part) / (time.perf_counter() - t0))
flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
m = p.scene.model
tex = p.scene.stage.textures[0]
adr = int(m.tex_adr[tex])
px = make_texture(library_recipe(0, 0, None, 128), TEX_SIZE)
up = []
for i in range(50):
    t0 = time.perf_counter()
    m.tex_data[adr:adr + px.size] = px.ravel()
    r.upload_texture(tex)
    up.append(1000 * (time.perf_counter() - t0))
make = []
for i in range(24):
    rec = library_recipe(0, i, None, 128)
    t0 = time.perf_counter()
    make_texture(rec, TEX_SIZE)
    make.append(1000 * (time.perf_counter() - t0))
p.close()
print(json.dumps({"shadows_off": max(out["off"]), "shadows_on": max(out["on"]), "upload_ms": sorted(up)[len(up) // 2],
                  "make_ms": sorted(make)[len(make) // 2]}))
"""


def generate(level: str, n: int, tmp: Path, k: int) -> dict:
    out = tmp / f"{level}-{k}"
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "statgen.cli", "generate", "--robot", "franka", "--n", str(n), "--workers", "2",
                        "--randomize", level, "--out", str(out), "--quiet"], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"bench: statgen generate failed:\n{p.stderr[-2000:]}")
    ds = json.loads((out / "dataset.json").read_text())
    return {"wall": time.perf_counter() - t0, "steady": steady_rate(out), "cpu": cpu_rate(out), "gl": ds["versions"]["gl_renderer"]}


def cpu_rate(out: Path) -> float:
    """Samples per CPU-second of warm workers: each worker's shards after its first, over the CPU time its
    process spent on them (all threads). Other processes on the machine change it far less than the wall clock."""
    from statgen.storage.run import SHARDS_JSONL

    per_worker: dict[int, list[tuple[float, int, float]]] = {}
    for line in (out / SHARDS_JSONL).read_text().splitlines():
        d = json.loads(line)
        e = d["extra"]
        per_worker.setdefault(e["worker_pid"], []).append((e["seconds"][1], d["samples"], e["cpu_seconds"]))
    warm = [s for shards in per_worker.values() for s in sorted(shards)[1:]]
    return sum(k for _, k, _ in warm) / sum(c for _, _, c in warm)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=6000, help="samples per generate run (2 workers: at least 2 shards each)")
    ap.add_argument("--rounds", type=int, default=3, help="generate runs per level, interleaved")
    ap.add_argument("--frames", type=int, default=100)
    a = ap.parse_args()
    runs: dict[str, list[dict]] = {"none": [], "full": []}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(a.rounds):
            for level in (("none", "full") if k % 2 == 0 else ("full", "none")):
                print(f"measuring statgen generate --randomize {level}, n={a.n} ({k + 1}/{a.rounds}) ...", file=sys.stderr)
                runs[level].append(generate(level, a.n, Path(tmp), k))
    print("measuring shadows and a texture upload ...", file=sys.stderr)
    costs = result(run_snippet(COSTS, str(a.frames), "3", env={"LP_NUM_THREADS": "1"}))
    steady = {lv: [r["steady"] for r in rs] for lv, rs in runs.items()}
    cpu = {lv: [r["cpu"] for r in rs] for lv, rs in runs.items()}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {runs['none'][0]['gl']}, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f}")
    print()
    # Each round runs the two levels back to back: the ratio within a round sees the least drift.
    paired = {k: statistics.median(f[k] / n[k] for f, n in zip(runs["full"], runs["none"])) for k in ("steady", "cpu")}
    print(f"full / none, median over {a.rounds} rounds of the ratio within each round: {paired['steady']:.2f} (wall), {paired['cpu']:.2f} (CPU)")
    print()
    print("| level (2 workers, warm) | samples/s (wall), each run | samples per CPU-second, each run | full / none (wall, best) | full / none (CPU, best) |")
    print("|---|---|---|---|---|")
    best = {lv: max(v) for lv, v in steady.items()}
    best_cpu = {lv: max(v) for lv, v in cpu.items()}
    for lv in ("none", "full"):
        r_wall = f"{best['full'] / best['none']:.2f}" if lv == "full" else "1"
        r_cpu = f"{best_cpu['full'] / best_cpu['none']:.2f} (medians {statistics.median(cpu['full']) / statistics.median(cpu['none']):.2f})" if lv == "full" else "1"
        print(f"| `--randomize {lv}` | {', '.join(f'{x:.0f}' for x in steady[lv])} | {', '.join(f'{x:.0f}' for x in cpu[lv])} | {r_wall} | {r_cpu} |")
    print()
    print("| cost (level full, 1 renderer, LP_NUM_THREADS=1) | value |")
    print("|---|---|")
    print(f"| frames/s, shadows off | {costs['shadows_off']:.0f} |")
    print(f"| frames/s, shadows on (MuJoCo's 4096 map) | {costs['shadows_on']:.0f} ({costs['shadows_on'] / costs['shadows_off']:.2f}x) |")
    print(f"| one 256x256 texture upload (tex_data, mjr_uploadTexture, GL_LINEAR) | {costs['upload_ms']:.2f} ms |")
    print(f"| making one texture's pixels from its recipe (numpy) | {costs['make_ms']:.1f} ms |")


if __name__ == "__main__":
    main()
