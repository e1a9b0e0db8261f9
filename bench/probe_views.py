"""The probe with two or more calibrated cameras: one bench/probe.py per camera (`--frame camera`,
each finds the TCP pixel, `--refine` sharpens it), then the base-frame TCP position
triangulated from the pixels through each sample's stored K and T_base_cam. No depth is
guessed: the other views measure it. With three or more views, the two rays that pass
closest to each other give the point, so that one wrong pixel is usually left out (see
triangulate_views).

    python bench/probe_views.py DATASET --test DATASET [--test ...] [--cameras front,left[,right]]
                                [--keep-predictions DIR]
                                [probe.py options, passed on: --n 10000 --epochs 10 --refine 64,32 ...]

The dataset needs the cameras (statgen generate --cameras front,left,right). The last stdout line
is one JSON object: `samples`, `pos_median_cm`, `pos_p90_cm` (triangulated, on the first --test
set; with three or more views also `pos_median_cm_all_rays`, every ray in the least squares),
`pixel_median_px_<camera>` (each probe's pixel), `baseline_pos_median_cm`, `cameras`, each
camera's probe report under `views`, `tests` (one entry per --test set), `train_seconds` and
`train_cpu_seconds` (all probes together), `seconds`. DATASET comes first.
"""

from __future__ import annotations

import argparse
import itertools
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


def nearest_point(origins: np.ndarray, dirs: np.ndarray, *, weights: np.ndarray | None = None) -> np.ndarray:
    """The point nearest to V rays per row, in the least-squares sense (N x 3) [m]; for two rays,
    the midpoint of the shortest segment between them. origins, dirs: V x N x 3 (unit dirs);
    weights: V x N (0 leaves a ray out), all ones by default."""
    w = np.ones(origins.shape[:2]) if weights is None else weights
    P = (np.eye(3) - dirs[..., :, None] * dirs[..., None, :]) * w[..., None, None]  # V x N x 3 x 3: off-ray projectors
    A, b = P.sum(0), np.einsum("vnij,vnj->ni", P, origins)
    ok = np.linalg.eigvalsh(A)[:, 0] > 1e-9  # parallel rays: no depth from these views
    x = (w[..., None] * origins).sum(0) / w.sum(0)[:, None]  # then the cameras' centre: no better guess
    x[ok] = np.linalg.solve(A[ok], b[ok][:, :, None])[:, :, 0]
    return x


def ray_distance(x: np.ndarray, origin: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Each point's distance to its row's ray (N,) [m]. x, origin, d: N x 3 (unit d)."""
    w = x - origin
    return np.linalg.norm(w - (w * d).sum(1, keepdims=True) * d, axis=1)


def triangulate_views(origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """The TCP from V >= 2 viewing rays per row (N x 3) [m]; origins, dirs: V x N x 3.
    Two views: the midpoint of the shortest segment between the rays. More: a wrong pixel puts
    its ray far from the others, so per row the pair of rays that pass closest to each other
    gives the point (a wrong pixel that moves its ray along the other rays is not caught)."""
    if len(origins) == 2:
        return nearest_point(origins, dirs)
    pairs = list(itertools.combinations(range(len(origins)), 2))
    points = np.stack([nearest_point(origins[[i, j]], dirs[[i, j]]) for i, j in pairs])
    # the distance between the two rays: each ray's distance to their midpoint, added
    gaps = np.stack([ray_distance(points[k], origins[i], dirs[i]) + ray_distance(points[k], origins[j], dirs[j])
                     for k, (i, j) in enumerate(pairs)])
    return points[gaps.argmin(0), np.arange(origins.shape[1])]


def view_rays(pixels: list[np.ndarray], cals: list[tuple[np.ndarray, np.ndarray]]):
    """Stacked viewing rays of V views: origins and unit directions, V x N x 3 [m]. pixels: per
    view N x 2; cals: per view (K N x 3 x 3, T_base_cam N x 4 x 4)."""
    r = [rays(p, K, T) for p, (K, T) in zip(pixels, cals)]
    return np.stack([o for o, _ in r]), np.stack([d for _, d in r])


def calibrations(dataset: Path, cameras: list[str], n: int):
    """Per camera (K, T_base_cam) and the labelled positions of the first n samples."""
    samples = [r[1] for r in probe.read_records(probe.dataset_shards(dataset), cameras[0], n)]
    cal = {c: probe.calibration_of(samples, c)[1:] for c in cameras}
    return cal, np.array([s["state"]["ee_pos"] for s in samples])


def test_report(dataset: Path, i: int, cams: list[str], preds: dict, views: dict, n: int) -> dict:
    """Test set i's triangulated numbers, from each camera's saved predictions and probe report."""
    cal, pos = calibrations(dataset, cams, n)
    origins, dirs = view_rays([preds[c][f"{i}_pixel"] for c in cams], [cal[c] for c in cams])
    err = np.linalg.norm(triangulate_views(origins, dirs) - pos, axis=1) * 100  # [cm]
    out = {"test": str(dataset), "samples": len(err), "pos_median_cm": round(float(np.median(err)), 3),
           "pos_p90_cm": round(float(np.percentile(err, 90)), 3)}
    if len(cams) > 2:  # for comparison: every ray in the least squares, none left out
        every = np.linalg.norm(nearest_point(origins, dirs) - pos, axis=1) * 100
        out["pos_median_cm_all_rays"] = round(float(np.median(every)), 3)
    return {**out, **{f"pixel_median_px_{c}": views[c]["tests"][i]["pixel_median_px"] for c in cams},
            "baseline_pos_median_cm": views[cams[0]]["tests"][i]["baseline_pos_median_cm"]}


def main(argv=None) -> int:
    # allow_abbrev=False: probe.py's --n must pass on, not be read as this script's --n-test
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    ap.add_argument("dataset")
    ap.add_argument("--test", action="append", required=True, help="a dataset to test on (repeatable)")
    ap.add_argument("--cameras", default="front,left", help="two or more cameras, comma-separated (default front,left)")
    ap.add_argument("--n-test", type=int, default=5000)
    ap.add_argument("--keep-predictions", default="", metavar="DIR", help="keep each camera's probe report and predictions in DIR (CAMERA.json, CAMERA.npz)")
    args, passed = ap.parse_known_args(argv)
    cams = args.cameras.split(",")
    if len(cams) < 2 or len(set(cams)) != len(cams) or not all(cams):
        ap.error(f"--cameras {args.cameras}: expected two or more different cameras, comma-separated")
    owned = sorted({a.split("=")[0] for a in passed} & {"--camera", "--frame", "--save-predictions", "--test", "--n-test"})
    if owned:
        ap.error(f"{', '.join(owned)}: probe_views.py sets these for each camera's probe; choose the cameras with --cameras")
    for d in (args.dataset, *args.test):
        probe.dataset_shards(Path(d))  # a missing dataset stops here, before any training
    t0 = time.perf_counter()
    views, preds = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        keep = Path(args.keep_predictions or tmp)
        keep.mkdir(parents=True, exist_ok=True)
        for cam in cams:
            npz = keep / f"{cam}.npz"
            cmd = [sys.executable, str(Path(probe.__file__)), args.dataset, *(x for t in args.test for x in ("--test", t)),
                   "--camera", cam, "--frame", "camera", "--n-test", str(args.n_test), "--save-predictions", str(npz), *passed]
            p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
            if p.returncode:
                raise SystemExit(f"probe-views: the {cam} probe failed (exit {p.returncode}): {' '.join(cmd)}")
            views[cam] = json.loads(p.stdout.strip().splitlines()[-1])
            (keep / f"{cam}.json").write_text(json.dumps(views[cam]) + "\n")
            preds[cam] = dict(np.load(npz))
    tests = [test_report(Path(t), i, cams, preds, views, args.n_test) for i, t in enumerate(args.test)]
    report = {**{k: v for k, v in tests[0].items() if k != "test"}, "cameras": cams,
              "train_seconds": round(sum(v["train_seconds"] for v in views.values()), 1),
              "train_cpu_seconds": round(sum(v["train_cpu_seconds"] for v in views.values()), 1),
              "seconds": round(time.perf_counter() - t0, 1), "tests": tests, "views": views}
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
