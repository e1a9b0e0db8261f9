"""`make bench-trajectory` (also run by `make bench`): trajectory mode against independent mode, in one run.

  rates      one ShardProducer per run (a fresh process, franka/tabletop, level full, the default
             camera and image settings), `--n` samples in shards of `--shard-size`; the warm rate
             [samples/s] over every shard but the first (which pays for the scene build and the
             first texture uploads). Runs interleaved (independent, trajectory, trajectory,
             independent, ...) so that drift of this shared machine lands on both; the ratio is
             trajectory / independent from the best run of each (and from the medians). Goal >= 0.90.
  planning   in the trajectory runs: the time spent planning episodes (TrajectorySource.plan:
             waypoints, segment checks at the recorded steps and substeps) per episode, against
             the time the same producer spends per episode in everything else (labels, render,
             encode, write)

Usage: python bench/trajectory.py [--n 400] [--shard-size 100] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import SNIPPET_SETUP, result, run_snippet  # noqa: E402

RUN = SNIPPET_SETUP + r"""
import tempfile
from statgen.config import build_config
from statgen.run.generate import prepare
from statgen.run.job import plan_shards
from statgen.run.producer import ShardProducer
mode, n, shard = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cfg = build_config({"robot": "franka", "n": n, "shard_size": shard, "trajectory.mode": mode, "out": tempfile.mkdtemp() + "/o"})
job, store = prepare(cfg)
p = ShardProducer(job)
plan_s, episodes = [0.0], [0]
if mode == "trajectory":
    src, plan = p.source, p.source.plan
    def timed(**kw):
        t0 = time.perf_counter()
        try:
            return plan(**kw)
        finally:
            plan_s[0] += time.perf_counter() - t0
            episodes[0] += 1
    src.plan = timed
times = []
for sp in plan_shards(cfg.n, cfg.shard_size):
    t0 = time.perf_counter()
    p.produce(sp, store)
    times.append((time.perf_counter() - t0, sp.count))
p.close()
warm = times[1:] or times
total = sum(t for t, _ in times)
print(json.dumps({"rate": sum(c for _, c in warm) / sum(t for t, _ in warm), "plan_s": plan_s[0], "episodes": episodes[0],
                  "total_s": total}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=400, help="samples per run (a multiple of 50 and of --shard-size)")
    ap.add_argument("--shard-size", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2, help="runs per mode, interleaved")
    a = ap.parse_args()
    runs: dict[str, list[dict]] = {"independent": [], "trajectory": []}
    for k in range(a.rounds):
        for mode in (("independent", "trajectory") if k % 2 == 0 else ("trajectory", "independent")):
            print(f"measuring --mode {mode}, n={a.n} ({k + 1}/{a.rounds}) ...", file=sys.stderr)
            runs[mode].append(result(run_snippet(RUN, mode, str(a.n), str(a.shard_size))))
    rates = {m: [r["rate"] for r in rs] for m, rs in runs.items()}
    best = {m: max(v) for m, v in rates.items()}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print()
    print("| mode (1 producer, level full, warm shards) | samples/s, each run | best | trajectory / independent |")
    print("|---|---|---|---|")
    for m in ("independent", "trajectory"):
        ratio = (f"{best['trajectory'] / best['independent']:.2f} (medians "
                 f"{statistics.median(rates['trajectory']) / statistics.median(rates['independent']):.2f}; goal >= 0.90)") if m == "trajectory" else "1"
        print(f"| `--mode {m}` | {', '.join(f'{x:.1f}' for x in rates[m])} | {best[m]:.1f} | {ratio} |")
    tr = runs["trajectory"]
    plan_ms = 1000 * sum(r["plan_s"] for r in tr) / max(1, sum(r["episodes"] for r in tr))
    rest_ms = 1000 * sum(r["total_s"] - r["plan_s"] for r in tr) / max(1, sum(r["episodes"] for r in tr))
    print()
    print("| trajectory episode (50 steps) | ms |")
    print("|---|---|")
    print(f"| planning (waypoints, checks at steps and substeps) | {plan_ms:.1f} ({plan_ms / (plan_ms + rest_ms):.1%} of the episode) |")
    print(f"| everything else (labels, 50 renders, encode, write) | {rest_ms:.0f} |")


if __name__ == "__main__":
    main()
