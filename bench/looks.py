"""`make bench-looks`: what randomisation (issue 10) costs, measured in one run.

  levels     `statgen generate --robot franka --workers 2` at `--randomize none` and `full`,
             interleaved (none, full, none, ...) so that drift of this shared machine lands on
             both; per run the steady-state rate of warm workers (bench.steady_rate, wall
             clock) and their samples per CPU-second (the run log's cpu_seconds: what other
             processes on a shared machine change least); full / none from the best run of each
  shadows    one ShardProducer at level full in this process: frames/s of its renderer with
             shadows off and on (MuJoCo's default shadow map), in interleaved blocks
  levers     what two of full's render settings are worth: the texture size (randomize.texture_size)
             and the floor's grid (randomize.floor_grid_m). Two single-renderer processes at
             once, each pinned to its own core, the shipped settings in one and a variant in the other,
             then swapped: both see the same drift. ms per frame of full's renders (process CPU time,
             median of blocks); rate against the shipped settings, median over the pairings
  upload     one texture slot (randomize.texture_size, 128x128 RGB by default) sent to the GL context: tex_data written,
             mjr_uploadTexture, GL_LINEAR filter set again [ms]; and making its pixels from a
             recipe with numpy [ms]. Both happen per shard (8 slots), never per sample

Usage: python bench/looks.py [--n 6000] [--rounds 3] [--lever-pairs 4] [--lever-frames 150]
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

from statgen.config.settings import SETTINGS, RandomizeSettings  # noqa: E402

COSTS = SNIPPET_SETUP + r"""
import tempfile, mujoco
from statgen.config import build_config
from statgen.run.generate import prepare
from statgen.run.producer import ShardProducer
from statgen.schema import Acceptance
from statgen.sim.library import library_recipe
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
size = cfg.randomize.texture_size
px = make_texture(library_recipe(0, 0, None, 128), size)
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
    make_texture(rec, size)
    make.append(1000 * (time.perf_counter() - t0))
from statgen.sim.render import gl_renderer_name
gl = gl_renderer_name(r)
p.close()
print(json.dumps({"shadows_off": max(out["off"]), "shadows_on": max(out["on"]), "upload_ms": sorted(up)[len(up) // 2],
                  "make_ms": sorted(make)[len(make) // 2], "size": size, "gl": gl}))
"""


LEVERS = SNIPPET_SETUP + r"""
import tempfile
from statgen.config import build_config
from statgen.run.generate import prepare
from statgen.run.producer import ShardProducer
from statgen.schema import Acceptance
core, tex, floor, frames, blocks = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
if core >= 0:
    os.sched_setaffinity(0, {core})  # before GL starts: llvmpipe's threads inherit it
cfg = build_config({"robot": "franka", "n": 100, "randomize.level": "full", "randomize.texture_size": tex, "randomize.floor_grid_m": floor,
                    "out": tempfile.mkdtemp() + "/o"})
job, _ = prepare(cfg)
p = ShardProducer(job)
streams, acc = p.start_shard(0), Acceptance()
drawn = [p.sample(streams, i, acc) for i in range(frames)]
for s, look in drawn[:20]:
    p.render(s, look)
ms = []
for b in range(blocks):
    t0 = time.process_time()
    for s, look in drawn:
        p.render(s, look)
    ms.append(1000 * (time.process_time() - t0) / frames)
p.close()
print(json.dumps({"ms": sorted(ms)[len(ms) // 2]}))
"""
_DEFAULTS = RandomizeSettings()
SHIPPED = (_DEFAULTS.texture_size, _DEFAULTS.floor_grid_m)
# Each lever at the value datasets were made with before it existed, the other as shipped.
VARIANTS = {f"textures {SETTINGS['randomize.texture_size'].meta.legacy} px (before randomize.texture_size)": (SETTINGS["randomize.texture_size"].meta.legacy, SHIPPED[1]),
            f"the task's floor grid, {SETTINGS['randomize.floor_grid_m'].meta.legacy} m (before randomize.floor_grid_m)": (SHIPPED[0], SETTINGS["randomize.floor_grid_m"].meta.legacy)}


def _pair(a: tuple[int, float], b: tuple[int, float], cores: tuple[int, int] | None, frames: int, blocks: int) -> tuple[float, float]:
    """ms per frame of settings a and b (texture size, floor grid): at once on `cores`, or one after the other (None)."""
    env = {"LP_NUM_THREADS": "1"}

    def start(core: int, ab: tuple[int, float]):
        return run_snippet(LEVERS, str(core), str(ab[0]), str(ab[1]), str(frames), str(blocks), env=env)

    if cores is None:
        first = result(start(-1, a))["ms"]
        return first, result(start(-1, b))["ms"]
    pa, pb = start(cores[0], a), start(cores[1], b)
    try:
        return result(pa)["ms"], result(pb)["ms"]
    finally:
        pb.kill()  # when the first one failed; a no-op otherwise


def levers(pairs: int, frames: int, blocks: int) -> dict[str, list[tuple[float, float]]]:
    """Per variant: (shipped ms, variant ms) of each pairing; the cores swap from one pairing to the next."""
    two = (os.cpu_count() or 1) >= 2
    out: dict[str, list[tuple[float, float]]] = {}
    for k in range(pairs):
        for name, variant in VARIANTS.items():
            print(f"measuring full's render: shipped against {name} ({k + 1}/{pairs}) ...", file=sys.stderr)
            out.setdefault(name, []).append(_pair(SHIPPED, variant, (k % 2, 1 - k % 2) if two else None, frames, blocks))
    return out


def generate(level: str, n: int, tmp: Path, k: int) -> dict:
    out = tmp / f"{level}-{k}"
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "statgen.cli", "generate", "--robot", "franka", "--n", str(n), "--workers", "2",
                        "--randomize", level, "--out", str(out), "--quiet"], capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"bench: statgen generate failed:\n{p.stderr[-2000:]}")
    return {"wall": time.perf_counter() - t0, "steady": steady_rate(out), "cpu": cpu_rate(out)}


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


def levels_table(runs: dict[str, list[dict]], rounds: int) -> None:
    steady = {lv: [r["steady"] for r in rs] for lv, rs in runs.items()}
    cpu = {lv: [r["cpu"] for r in rs] for lv, rs in runs.items()}
    # Each round runs the two levels back to back: the ratio within a round sees the least drift.
    paired = {k: statistics.median(f[k] / n[k] for f, n in zip(runs["full"], runs["none"])) for k in ("steady", "cpu")}
    print(f"full / none, median over {rounds} rounds of the ratio within each round: {paired['steady']:.2f} (wall), {paired['cpu']:.2f} (CPU)")
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=6000, help="samples per generate run (2 workers: at least 2 shards each)")
    ap.add_argument("--rounds", type=int, default=3, help="generate runs per level, interleaved")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--lever-pairs", type=int, default=4, help="pairings per lever (0: skip the levers)")
    ap.add_argument("--lever-frames", type=int, default=150, help="frames per process in the levers' pairings")
    a = ap.parse_args()
    runs: dict[str, list[dict]] = {"none": [], "full": []}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(a.rounds):
            for level in (("none", "full") if k % 2 == 0 else ("full", "none")):
                print(f"measuring statgen generate --randomize {level}, n={a.n} ({k + 1}/{a.rounds}) ...", file=sys.stderr)
                runs[level].append(generate(level, a.n, Path(tmp), k))
    lev = levers(a.lever_pairs, a.lever_frames, 6)
    print("measuring shadows and a texture upload ...", file=sys.stderr)
    costs = result(run_snippet(COSTS, str(a.frames), "3", env={"LP_NUM_THREADS": "1"}))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {costs['gl']}, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f}")
    print()
    if a.rounds:
        levels_table(runs, a.rounds)
    if lev:
        print(f"| full's render (two processes at once, one per core; shipped: {SHIPPED[0]} px textures, floor grid {SHIPPED[1]} m) "
              "| ms per frame, shipped / variant, each pairing | rate against shipped (median) |")
        print("|---|---|---|")
        for name, pairs in lev.items():
            ratio = statistics.median(s_ / v for s_, v in pairs)
            print(f"| {name} | {', '.join(f'{s_:.2f} / {v:.2f}' for s_, v in pairs)} | {ratio:.2f} |")
        print()
    print("| cost (level full, 1 renderer, LP_NUM_THREADS=1) | value |")
    print("|---|---|")
    print(f"| frames/s, shadows off | {costs['shadows_off']:.0f} |")
    print(f"| frames/s, shadows on (MuJoCo's 4096 map) | {costs['shadows_on']:.0f} ({costs['shadows_on'] / costs['shadows_off']:.2f}x) |")
    print(f"| one {costs['size']}x{costs['size']} texture upload (tex_data, mjr_uploadTexture, GL_LINEAR) | {costs['upload_ms']:.2f} ms |")
    print(f"| making one texture's pixels from its recipe (numpy) | {costs['make_ms']:.1f} ms |")


if __name__ == "__main__":
    main()
