"""The README's probe table from probe results: one Markdown row per (run, test set).

    python bench/probe_table.py RESULT.json ...

Each RESULT.json holds the last stdout line of a `bench/probe.py` run (one JSON object).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HEAD = (
    "| train | test | camera | px | gripper input | train samples | epochs | train min | cpu min "
    "| pos median cm | pos p90 cm | rot median deg | gripper acc: image / patch at predicted px / patch at label | pixel median px "
    "| baseline pos cm | baseline rot deg | baseline gripper | baseline pixel px |"
)


def _name(path: str) -> str:
    return Path(path.split(" (")[0]).name + (" (held out)" if " (held-out" in path else "")


def _grip(t: dict) -> str:
    if "gripper_acc_patch_at_label" not in t:
        return f"{t['gripper_acc']:.3f}"
    return f"{t['gripper_acc_image']:.3f} / {t['gripper_acc']:.3f} / {t['gripper_acc_patch_at_label']:.3f}"


def rows(result: dict) -> list[str]:
    grip = "image" if not result.get("tcp_crop") else f"image + {result['tcp_crop']} px patch (jitter {result.get('tcp_jitter', 0)})"
    out = []
    for t in result["tests"]:
        out.append(
            f"| {Path(result['train']).name} | {_name(t['test'])} | {result['camera']} | {result['size']} | {grip} "
            f"| {result['train_samples']} | {result['epochs']} | {result['train_seconds'] / 60:.1f} | {result.get('train_cpu_seconds', 0) / 60:.1f} "
            f"| {t['pos_median_cm']:.2f} | {t['pos_p90_cm']:.2f} | {t['rot_median_deg']:.1f} | {_grip(t)} | {t['pixel_median_px']:.2f} "
            f"| {t['baseline_pos_median_cm']:.2f} | {t['baseline_rot_median_deg']:.1f} | {t['baseline_gripper_acc']:.3f} | {t['baseline_pixel_median_px']:.2f} |"
        )
    return out


def main(paths: list[str]) -> int:
    print(HEAD)
    print("|" + "---|" * HEAD.count(" | ") + "---|")
    for p in paths:
        lines = [ln for ln in Path(p).read_text().splitlines() if ln.strip()]
        for r in rows(json.loads(lines[-1])):
            print(r)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
