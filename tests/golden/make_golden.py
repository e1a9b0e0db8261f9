"""Regenerate tests/golden/franka_seed0_n64.json from a fresh `statgen generate` run.

    python tests/golden/make_golden.py            # replaces the pinned reference
    python tests/golden/make_golden.py --merge    # keeps image hashes of other GL renderers

Run it only when the output changes on purpose, and say why in the same commit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import golden  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--merge", action="store_true", help="keep the image hashes recorded for other GL renderers")
    args = ap.parse_args()
    env = {**os.environ}
    env.setdefault("MUJOCO_GL", "egl")
    shared = Path(__file__).resolve().parents[3] / "shared/assets/menagerie"
    if "MENAGERIE_ROOT" not in env and shared.is_dir():
        env["MENAGERIE_ROOT"] = str(shared)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "golden"
        subprocess.run([sys.executable, "-m", "statgen.cli", "generate", *golden.ARGS, "--out", str(out), "--quiet"], check=True, env=env)
        new = golden.view(out)
    if args.merge and golden.GOLDEN_FILE.exists():
        old = golden.load()
        new["images"] = {**old.get("images", {}), **new["images"]}
    golden.GOLDEN_FILE.write_text(json.dumps(new, indent=1, sort_keys=True) + "\n")
    print(f"wrote {golden.GOLDEN_FILE} ({len(new['members'])} samples; renderers: {', '.join(new['images'])})")


if __name__ == "__main__":
    main()
