"""`make probe-gap`: the domain-gap table (issue 14), measured on this machine.

For each robot (default: franka and gen3), statgen datasets with the front and wrist cameras:

  <robot>-none      --randomize none, seed 0            (training)
  <robot>-full      --randomize full, seed 0            (training)
  <robot>-none-s1   --randomize none, seed 1            (test: the fixed scene, other configurations)
  <robot>-full-s1   --randomize full, seed 1            (test: other layouts, looks and textures of full)
  <robot>-heldout   a look never seen in training, seed 2 (test): textures only from a folder of
                    images of patterns that statgen's library does not make (dots, rings, cells,
                    made here with numpy; one library recipe besides), and front-camera ranges
                    beyond full's (4x the position and target jitter, 3x the roll and fovy, no
                    shell camera)

then one probe (bench/probe.py, 64 px) per robot, training level and camera, each tested on the
three test sets. A dataset that exists is reused; results go to OUT/<robot>-<level>-<camera>.json;
the table is printed at the end (markdown). Usage:

  python bench/probe_gap.py [--robots franka,gen3] [--levels none,full] [--cameras front,wrist]
                            [--n-train 10000] [--n-test 1500] [--epochs 5] [--arch flat]
                            [--out data/gap]

`make probe-budget` runs one row at the position goal's budget (50k samples, keypoints, 11 epochs).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HELD_OUT_TEXTURES = 12
TEST_SETS = ("none-s1", "full-s1", "heldout")


def held_out_textures(folder: Path) -> None:
    """Images of patterns outside statgen's procedural families (polka dots, concentric rings, Voronoi cells)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    yy, xx = np.mgrid[0:256, 0:256] / 256.0
    for k in range(HELD_OUT_TEXTURES):
        c0, c1 = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        kind = k % 3
        if kind == 0:  # polka dots
            f = rng.integers(3, 9)
            d = np.hypot((xx * f) % 1 - 0.5, (yy * f) % 1 - 0.5)
            t = (d < rng.uniform(0.15, 0.4)).astype(float)
        elif kind == 1:  # concentric rings about a random centre
            cx, cy = rng.uniform(0, 1, 2)
            t = (np.sin(np.hypot(xx - cx, yy - cy) * rng.uniform(20, 60)) > 0).astype(float)
        else:  # Voronoi cells, each its own shade
            pts = rng.uniform(0, 1, (24, 2))
            d = (xx[..., None] - pts[:, 0]) ** 2 + (yy[..., None] - pts[:, 1]) ** 2
            t = rng.uniform(0, 1, 24)[np.argmin(d, axis=-1)]
        rgb = (c0 * (1 - t[..., None]) + c1 * t[..., None]) * 255
        Image.fromarray(rgb.astype(np.uint8)).save(folder / f"heldout_{k:02d}.png")


def held_out_pipeline(out: Path) -> Path:
    tex = out / "heldout_textures"
    if len(list(tex.glob("heldout_*.png"))) != HELD_OUT_TEXTURES:  # absent, or a stopped run's half
        held_out_textures(tex)
    p = out / "heldout_look.toml"
    p.write_text(f"""# A look the training sets never showed (bench/probe_gap.py).
[randomize]
level = "full"
texture_dir = "{tex.resolve()}"
texture_library = 1
texture_prob = 0.6
camera_pos_m = 0.12
camera_target_m = 0.2
camera_roll_deg = 9.0
camera_fovy_deg = 12.0
shell_prob = 0.0
""")
    return p


def _last_json(text: str) -> dict:
    """The JSON object on the last line of bench/probe.py's stdout."""
    return json.loads(text.strip().splitlines()[-1])


def generate(name: str, args: list[str], out: Path, *, n: int) -> None:
    root = out / name
    if (root / "dataset.json").exists():
        have = json.loads((root / "dataset.json").read_text())["config"]["n"]
        if have != n:
            raise SystemExit(f"probe-gap: {root} holds {have} samples, not {n}: delete it (and {out / 'results'}) or pass the n it was made with")
        print(f"probe-gap: {root} exists, reused", file=sys.stderr)
        return
    cmd = [sys.executable, "-m", "statgen.cli", "generate", "--cameras", "front,wrist", "--n", str(n), "--out", str(root), *args]
    if (root / "_run" / "run.json").exists():
        cmd.append("--resume")
    print("probe-gap: " + " ".join(cmd[2:]), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=sys.stderr)  # its summary line goes with the progress, not into the table


def probe(out: Path, robot: str, level: str, camera: str, a) -> dict:
    path = out / "results" / f"{robot}-{level}-{camera}.json"
    if path.exists():
        r = _last_json(path.read_text())
        if (r["train_samples"], r["epochs"], r["tests"][0]["samples"], r.get("arch", "flat")) != (a.n_train, a.epochs, a.n_test, a.arch):
            raise SystemExit(f"probe-gap: {path} was trained with other --n-train/--epochs/--n-test/--arch: delete {out / 'results'} to train again")
        return r
    path.parent.mkdir(parents=True, exist_ok=True)
    tests = [x for t in TEST_SETS for x in ("--test", str(out / f"{robot}-{t}"))]
    cmd = [sys.executable, str(Path(__file__).with_name("probe.py")), str(out / f"{robot}-{level}"), *tests, "--camera", camera,
           "--size", "64", "--n", str(a.n_train), "--n-test", str(a.n_test), "--epochs", str(a.epochs), "--arch", a.arch, "--seed", "0"]
    print("probe-gap: " + " ".join(cmd[1:]), file=sys.stderr)
    p = subprocess.run(cmd, check=True, capture_output=True, text=True)
    path.write_text(p.stdout)
    return _last_json(p.stdout)


def table(rows: list[tuple[str, str, str, dict]]) -> str:
    head = ("| robot | train | camera | train min (cpu) | " + " | ".join(f"{t}: pos median cm" for t in TEST_SETS)
            + " | gap: held-out / in-distribution | " + " | ".join(f"{t}: gripper acc" for t in TEST_SETS) + " | baseline pos cm (full-s1) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for robot, level, camera, r in rows:
        by = {Path(t["test"]).name.removeprefix(f"{robot}-"): t for t in r["tests"]}
        ind = by["none-s1" if level == "none" else "full-s1"]["pos_median_cm"]
        gap = by["heldout"]["pos_median_cm"] / ind
        lines.append(f"| {robot} | {level} | {camera} | {r['train_seconds'] / 60:.1f} ({r['train_cpu_seconds'] / 60:.1f}) | "
                     + " | ".join(f"{by[t]['pos_median_cm']:.1f}" for t in TEST_SETS) + f" | {gap:.2f}x | "
                     + " | ".join(f"{by[t]['gripper_acc']:.3f}" for t in TEST_SETS) + f" | {by['full-s1']['baseline_pos_median_cm']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--robots", default="franka,gen3")
    ap.add_argument("--n-train", type=int, default=10000)
    ap.add_argument("--n-test", type=int, default=1500)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--levels", default="none,full", help="the training levels (default none,full)")
    ap.add_argument("--cameras", default="front,wrist", help="one probe per camera (default front,wrist)")
    ap.add_argument("--arch", choices=("flat", "keypoints"), default="flat", help="bench/probe.py --arch (default flat)")
    ap.add_argument("--out", default="data/gap")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    heldout = held_out_pipeline(out)
    robots = a.robots.split(",")
    levels, cameras = a.levels.split(","), a.cameras.split(",")
    if not set(levels) <= {"none", "full"}:
        raise SystemExit(f"probe-gap: --levels {a.levels}: expected none and/or full (comma-separated)")
    datasets = [  # name suffix, samples, seed, what sets the look
        *((level, a.n_train, 0, ["--randomize", level]) for level in levels),
        ("none-s1", a.n_test, 1, ["--randomize", "none"]),
        ("full-s1", a.n_test, 1, ["--randomize", "full"]),
        ("heldout", a.n_test, 2, ["--pipeline", str(heldout)]),
    ]
    for r in robots:
        for suffix, n, seed, look in datasets:
            generate(f"{r}-{suffix}", ["--robot", r, "--quiet", "--seed", str(seed), *look], out, n=n)
    print(f"probe-gap: datasets ready after {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    rows = [(r, level, cam, probe(out, r, level, cam, a)) for r in robots for level in levels for cam in cameras]
    print(table(rows))
    print(f"\nprobe-gap: {time.perf_counter() - t0:.0f} s in all ({a.n_train} training samples, {a.epochs} epochs, 64 px, {a.arch})")


if __name__ == "__main__":
    main()
