"""`make bench-levers`: what each performance lever of issue 3 is worth, measured in one run.

Each GL measurement runs in its own subprocess (one renderer per process). Rates are
samples (or frames) per second; compare rows of one run, not across runs: this machine
is a shared VM and drifts by 10-20% between minutes.

  batching       ShardProducer.produce with MAX_BATCH=1 (label, render, encode, write
                 sample by sample) against the default phases over batches of 64
  llvmpipe       the bare render loop with LP_NUM_THREADS = 0, 1, 2 in one process, and
                 with two processes at once
  per sample     the Python costs around a render, timed in isolation [us]: sampling and
                 labels, JPEG (simplejpeg and PIL), JSON (orjson and json), tar (webdataset),
                 one scene update (mjv_updateScene) against one render
  rejection      the cost of each rejection test and how often it rejects; the cost per
                 accepted sample of statgen's order against collision first
  ray            two producers in plain processes against `statgen generate --workers 2`
                 (steady state), i.e. what Ray costs per sample

Usage: python bench/levers.py [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import CEILING, SNIPPET_SETUP, result, run_snippet, steady_rate  # noqa: E402

PRODUCER_SETUP = SNIPPET_SETUP + r"""
import tempfile, mujoco
from pathlib import Path
import statgen.run.producer as P
from statgen.run.job import ShardPlan
from statgen.config import build_config
from statgen.run.generate import prepare
n = int(sys.argv[1])
cfg = build_config({"robot": "franka", "n": n, "out": tempfile.mkdtemp() + "/o"})
job, _ = prepare(cfg)
"""

PRODUCE = PRODUCER_SETUP + r"""
P.MAX_BATCH = int(sys.argv[2])
p = P.ShardProducer(job)
p.produce(ShardPlan(0, 0, 64), Path(tempfile.mkdtemp()))  # warm up
t0 = time.perf_counter()
p.produce(ShardPlan(1, 0, n), Path(tempfile.mkdtemp()))
print(json.dumps({"rate": n / (time.perf_counter() - t0)}))
"""

PER_SAMPLE = PRODUCER_SETUP + r"""
import io, timeit, orjson, simplejpeg, webdataset as wds
from PIL import Image
from statgen.schema import Acceptance
from statgen.sim.feasibility import in_collision
p = P.ShardProducer(job)
d, sc, ix = p.data, p.scene, p.scene.index
rng, acc = np.random.default_rng(0), Acceptance()
streams = p.start_shard(0)
sample, _ = p.sample(streams, 0, acc)
img = p.render(sample)["front"]["rgb"]
members = p.encode(sample, p.render(sample))

def us(f, k=2000):
    return 1e6 * min(timeit.repeat(f, number=k, repeat=3)) / k

def pil_jpeg():
    buf = io.BytesIO(); Image.fromarray(img).save(buf, format="JPEG", quality=90); return buf.getvalue()

tar = wds.TarWriter(open(os.devnull, "wb"), encoder=False)
counter = iter(range(10**9))
mr = p.renderer.renderer
out = {
    "sample and labels (draws included)": us(lambda: p.sample(streams, 0, acc), 500),
    "JPEG, simplejpeg": us(lambda: simplejpeg.encode_jpeg(img, quality=90, colorspace="RGB", colorsubsampling="420")),
    "JPEG, PIL": us(pil_jpeg),
    "JSON, orjson": us(lambda: orjson.dumps(sample.to_json(), option=orjson.OPT_SORT_KEYS)),
    "JSON, json.dumps": us(lambda: json.dumps(sample.to_json(), sort_keys=True, separators=(",", ":")).encode()),
    "tar members, webdataset.TarWriter": us(lambda: tar.write({"__key__": f"{next(counter):09d}", **members})),
    "scene update (mjv_updateScene), one camera": us(lambda: mr.update_scene(d, camera="front")),
    "render, one camera": us(lambda: p.renderer.render(d, "front"), 300),
}
# Rejection tests over fresh random draws: cost of each and how often it rejects.
lo, hi = ix.arm_ranges[:, 0], ix.arm_ranges[:, 1]
s = p.feasibility
from statgen.sim.scene import set_configuration
draws = [(rng.uniform(lo, hi), float(rng.uniform())) for _ in range(3000)]
def ws(q, f):
    set_configuration(sc, d, q_arm=q, open_fraction=f, cameras=False)
    return not s.in_workspace(d.site_xpos[ix.tcp_site].copy())
def view(q, f):
    set_configuration(sc, d, q_arm=q, open_fraction=f, cameras=False)
    return not s.in_front_view(d.site_xpos[ix.tcp_site].copy())
def coll(q, f):
    set_configuration(sc, d, q_arm=q, open_fraction=f, cameras=False)
    return in_collision(sc, d)
def fk(q, f):
    set_configuration(sc, d, q_arm=q, open_fraction=f, cameras=False)
    return False
tests = {"fk only": fk, "workspace": ws, "view": view, "collision": coll}
rej = {}
for name, f in tests.items():
    t0 = time.perf_counter(); flags = [f(q, fr) for q, fr in draws]; dt = time.perf_counter() - t0
    rej[name] = (1e6 * dt / len(draws), float(np.mean(flags)))
fk_us = rej["fk only"][0]
def per_accepted(order):
    # Expected test cost per draw when each test runs only on draws that passed the earlier ones
    # (tests treated as independent), over the acceptance of all three.
    cost, alive = fk_us, 1.0
    for name in order:
        cost += alive * (rej[name][0] - fk_us)
        alive *= 1.0 - rej[name][1]
    return cost / alive
out_rej = {name: {"us": c, "rejects": r} for name, (c, r) in rej.items() if name != "fk only"}
print(json.dumps({"per_sample": out, "rejection": out_rej, "fk_us": fk_us,
                  "order_statgen": per_accepted(["workspace", "view", "collision"]),
                  "order_collision_first": per_accepted(["collision", "workspace", "view"])}))
"""


def parallel(code: str, args: list[str], envs: list[dict]) -> list[float]:
    procs = [run_snippet(code, *args, env=e) for e in envs]
    return [result(p)["rate"] for p in procs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="samples per measurement")
    a = ap.parse_args()
    n = str(a.n)
    one = {"LP_NUM_THREADS": "1"}
    print("measuring batching ...", file=sys.stderr)
    batch = {b: [] for b in (1, 64)}
    for _ in range(2):  # interleaved, twice
        for b in batch:
            batch[b].append(result(run_snippet(PRODUCE, n, str(b), env=one))["rate"])
    print("measuring llvmpipe threads ...", file=sys.stderr)
    lp = {}
    for t in ("0", "1", "2"):
        lp[f"1 process, LP_NUM_THREADS={t}"] = result(run_snippet(CEILING, n, env={"LP_NUM_THREADS": t}))["rate"]
    for t in ("1", "2"):
        lp[f"2 processes, LP_NUM_THREADS={t} each"] = sum(parallel(CEILING, [n], [{"LP_NUM_THREADS": t}] * 2))
    print("measuring per-sample costs and rejection ...", file=sys.stderr)
    p = run_snippet(PER_SAMPLE, "10", env=one)
    out, err = p.communicate()
    if p.returncode != 0:
        raise SystemExit(f"bench: a measurement failed:\n{err[-2000:]}")
    ps = json.loads(out.strip().splitlines()[-1])
    print("measuring Ray's cost ...", file=sys.stderr)
    no_ray = sum(parallel(PRODUCE, [str(a.n * 2), "64"], [one] * 2))
    with tempfile.TemporaryDirectory() as tmp:
        outdir = Path(tmp) / "sg"
        r = subprocess.run([sys.executable, "-m", "statgen.cli", "generate", "--robot", "franka", "--n", str(a.n * 4), "--workers", "2",
                            "--shard-size", str(max(100, a.n // 4)), "--out", str(outdir), "--quiet"], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"bench: statgen generate failed:\n{r.stderr[-2000:]}")
        ray_rate = steady_rate(outdir)

    print("| lever | setting | samples/s | ratio |")
    print("|---|---|---|---|")
    b1, b64 = (sum(v) / len(v) for v in batch.values())
    print(f"| phases over a batch (1 process) | sample by sample (MAX_BATCH=1) | {b1:.0f} | 1.00 |")
    print(f"| | batches of 64 (default) | {b64:.0f} | {b64 / b1:.2f} |")
    base = lp["1 process, LP_NUM_THREADS=1"]
    for name, rate in lp.items():
        print(f"| llvmpipe threads (bare render loop) | {name} | {rate:.0f} | {rate / base:.2f} |")
    print(f"| Ray (2 workers, steady state) | two producers in plain processes | {no_ray:.0f} | 1.00 |")
    print(f"| | `statgen generate --workers 2` | {ray_rate:.0f} | {ray_rate / no_ray:.2f} |")
    print()
    render_us = ps["per_sample"]["render, one camera"]
    print("| per-sample cost, timed in isolation | us | vs one render |")
    print("|---|---|---|")
    for name, v in ps["per_sample"].items():
        print(f"| {name} | {v:.1f} | {v / render_us:.1%} |")
    print()
    print("| rejection test (over random draws) | us per draw | rejects |")
    print("|---|---|---|")
    print(f"| FK (mj_kinematics), always | {ps['fk_us']:.1f} | |")
    for name, v in ps["rejection"].items():
        print(f"| {name} (incl. FK) | {v['us']:.1f} | {v['rejects']:.0%} |")
    print(f"| test cost per accepted sample: statgen's order (workspace, view, collision) | {ps['order_statgen']:.1f} | |")
    print(f"| test cost per accepted sample: collision first | {ps['order_collision_first']:.1f} | |")


if __name__ == "__main__":
    main()
