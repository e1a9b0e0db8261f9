"""The probe with two calibrated cameras: one bench/probe.py per camera (`--frame camera`,
each finds the TCP pixel, `--refine` sharpens it), then the base-frame TCP position
triangulated from the two pixels through each sample's stored K and T_base_cam. No depth
is guessed: the second view measures it.

    python bench/probe_views.py DATASET --test DATASET [--test ...] [--cameras front,left]
                                [probe.py options, passed on: --n 10000 --epochs 10 --refine 64 ...]

The dataset needs both cameras (statgen generate --cameras front,left). The last stdout line
is one JSON object: `samples`, `pos_median_cm`, `pos_p90_cm` (triangulated, on the first --test
set), `pixel_median_px_<camera>` (each probe's pixel), `baseline_pos_median_cm`, `cameras`,
each camera's probe report under `views`, `tests` (one entry per --test set), `train_seconds`
and `train_cpu_seconds` (both probes together), `seconds`. DATASET comes first.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import probe  # noqa: E402  (bench/probe.py: the records and the calibration)


def rays(pixel: np.ndarray, K: np.ndarray, T_base_cam: np.ndarray):
    """Each pixel's viewing ray in the base frame: origins (N x 3) [m], unit directions (N x 3).
    pixel: N x 2 stored-image px; K: N x 3 x 3; T_base_cam: N x 4 x 4 (OpenCV axes)."""
    origin = T_base_cam[:, :3, 3]
    d = probe.backproject(pixel, np.ones(len(pixel)), K, T_base_cam) - origin  # the point at depth 1 m
    return origin, d / np.linalg.norm(d, axis=1, keepdims=True)


def triangulate(o1: np.ndarray, d1: np.ndarray, o2: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """The midpoint of the shortest segment between two rays per row (N x 3) [m]."""
    w = o1 - o2
    a, b, c = (d1 * d1).sum(1), (d1 * d2).sum(1), (d2 * d2).sum(1)
    d, e = (d1 * w).sum(1), (d2 * w).sum(1)
    den = np.maximum(a * c - b * b, 1e-12)  # parallel rays: no depth from two views
    s, t = (b * e - c * d) / den, (a * e - b * d) / den
    return (o1 + s[:, None] * d1 + o2 + t[:, None] * d2) / 2


def calibrations(dataset: Path, cameras: list[str], n: int):
    """Per camera (K, T_base_cam) and the labelled positions of the first n samples."""
    samples = [r[1] for r in probe.read_records(probe.dataset_shards(dataset), cameras[0], n)]
    cal = {c: probe.calibration_of(samples, c)[1:] for c in cameras}
    return cal, np.array([s["state"]["ee_pos"] for s in samples])


def main(argv=None) -> int:
    # allow_abbrev=False: probe.py's --n must pass on, not be read as this script's --n-test
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    ap.add_argument("dataset")
    ap.add_argument("--test", action="append", required=True, help="a dataset to test on (repeatable)")
    ap.add_argument("--cameras", default="front,left", help="two cameras (default front,left)")
    ap.add_argument("--n-test", type=int, default=5000)
    args, passed = ap.parse_known_args(argv)
    cams = args.cameras.split(",")
    if len(cams) != 2:
        ap.error(f"--cameras {args.cameras}: expected two cameras, comma-separated")
    owned = sorted({a.split("=")[0] for a in passed} & {"--camera", "--frame", "--save-predictions", "--test", "--n-test"})
    if owned:
        ap.error(f"{', '.join(owned)}: probe_views.py sets these for each camera's probe; choose the cameras with --cameras")
    for d in (args.dataset, *args.test):
        probe.dataset_shards(Path(d))  # a missing dataset stops here, before any training
    t0 = time.perf_counter()
    views, preds = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for cam in cams:
            npz = Path(tmp) / f"{cam}.npz"
            cmd = [sys.executable, str(Path(probe.__file__)), args.dataset, *(x for t in args.test for x in ("--test", t)),
                   "--camera", cam, "--frame", "camera", "--n-test", str(args.n_test), "--save-predictions", str(npz), *passed]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
            if p.returncode:
                raise SystemExit(f"probe-views: the {cam} probe failed (exit {p.returncode}): {' '.join(cmd)}")
            views[cam] = json.loads(p.stdout.strip().splitlines()[-1])
            preds[cam] = dict(np.load(npz))
    tests = []
    for i, t in enumerate(args.test):
        cal, pos = calibrations(Path(t), cams, args.n_test)
        est = triangulate(*rays(preds[cams[0]][f"{i}_pixel"], *cal[cams[0]]), *rays(preds[cams[1]][f"{i}_pixel"], *cal[cams[1]]))
        err = np.linalg.norm(est - pos, axis=1) * 100
        first = views[cams[0]]["tests"][i]
        tests.append({"test": t, "samples": len(err), "pos_median_cm": round(float(np.median(err)), 3),
                      "pos_p90_cm": round(float(np.percentile(err, 90)), 3),
                      **{f"pixel_median_px_{c}": views[c]["tests"][i]["pixel_median_px"] for c in cams},
                      "baseline_pos_median_cm": first["baseline_pos_median_cm"]})
    report = {**{k: v for k, v in tests[0].items() if k != "test"}, "cameras": cams,
              "train_seconds": round(sum(v["train_seconds"] for v in views.values()), 1),
              "train_cpu_seconds": round(sum(v["train_cpu_seconds"] for v in views.values()), 1),
              "seconds": round(time.perf_counter() - t0, 1), "tests": tests, "views": views}
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
