"""Time and peak memory of `statgen export` per format, for one or more datasets (issue 13).

    python bench/export.py data/f2k data/f20k      # prints a Markdown table

Each export runs as its own process under /usr/bin/time -v (wall seconds, maximum resident set
size), into a fresh folder that is removed afterwards. Memory that does not grow from the smaller
dataset to the larger one is what "streaming" means here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FORMATS = ("llava", "llamafactory", "lerobot")


def run(dataset: str, fmt: str) -> tuple[float, float, int]:
    out = Path(tempfile.mkdtemp(prefix="statgen-bench-")) / fmt
    try:
        p = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "statgen.cli", "export", dataset, "--to", fmt,
                            "--out", str(out), "--quiet"], capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"export {dataset} --to {fmt} failed: {p.stderr[-2000:]}")
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", p.stderr).group(1)
        secs = sum(float(x) * 60**i for i, x in enumerate(reversed(wall.split(":"))))
        rss_mb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        return secs, rss_mb, size
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


def main(datasets: list[str]) -> None:
    print("| dataset | samples | format | time [s] | samples/s | peak RSS [MB] | output [MB] |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for ds in datasets:
        n = json.loads((Path(ds) / "dataset.json").read_text())["samples"]
        for fmt in FORMATS:
            secs, rss, size = run(ds, fmt)
            print(f"| {ds} | {n} | {fmt} | {secs:.1f} | {n / secs:.0f} | {rss:.0f} | {size / 2**20:.0f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["data/franka"])
