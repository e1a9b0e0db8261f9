"""The README's object-storage loading example, run as written in a fresh interpreter against a copy
of a generated dataset on a GCS emulator (the local loading recipes are run by tests/test_recipes.py).
A block that does not work as printed fails here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import E2E_N

from statgen.storage.fs import Store

README = Path(__file__).resolve().parents[1] / "README.md"
GS_EXAMPLE = "gs://bucket/prefix"

# Run after each block: what it loaded must be the dataset (E2E_N samples, 7 ROSA tokens each).
CHECK = """
_g = globals()
if "tokens" in _g:
    assert len(tokens.split()) == 7 and all(0 <= int(t) <= 255 for t in tokens.split()), tokens
if "ds" in _g and hasattr(ds, "__len__"):
    print("ROWS", len(ds))
elif "ds" in _g:
    print("ROWS", sum(1 for _ in ds))
if "index" in _g:
    print("ROWS", index.num_rows)
print("BLOCK OK")
"""


def loading_blocks() -> list[str]:
    text = README.read_text()
    section = text.split("### Loading", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, "no Python block under ### Loading"
    return blocks


def run_block(code: str, *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code + CHECK], cwd=cwd, capture_output=True, text=True, env=env, timeout=300)


def assert_loaded(p: subprocess.CompletedProcess, code: str) -> None:
    assert p.returncode == 0 and "BLOCK OK" in p.stdout, f"README block failed:\n{code}\n{p.stderr[-3000:]}"
    rows = [int(line.split()[1]) for line in p.stdout.splitlines() if line.startswith("ROWS ")]
    assert all(r == E2E_N for r in rows), (rows, code)


def test_every_loading_block_is_run_by_a_test():
    """The local blocks are recipes, each run and checked by tests/test_recipes.py; the object-storage
    block is run below. A block that is neither would go untested."""
    section = README.read_text().split("### Loading", 1)[1].split("\n## ", 1)[0]
    untested = [m.group(2)[:80] for m in re.finditer(r"(<!-- recipe: \w+ -->\n)?```python\n(.*?)```", section, re.S)
                if m.group(1) is None and GS_EXAMPLE not in m.group(2)]
    assert untested == [], f"README loading blocks that no test runs: {untested}"


def test_readme_object_storage_block_runs_on_gs(dataset_2w, gcs_server, tmp_path, monkeypatch):
    blocks = [b for b in loading_blocks() if GS_EXAMPLE in b]
    assert blocks, f"no README loading block for {GS_EXAMPLE}"
    for k, v in gcs_server.env.items():
        monkeypatch.setenv(k, v)
    uri = f"gs://{gcs_server.bucket}/readme-{uuid.uuid4().hex[:8]}"
    remote = Store.open(uri)
    for f in sorted(Path(dataset_2w).rglob("*")):
        if f.is_file() and not f.relative_to(dataset_2w).parts[0].startswith("_"):
            remote.write_bytes(str(f.relative_to(dataset_2w)), f.read_bytes())
    for code in blocks:
        code = code.replace(GS_EXAMPLE, uri)
        assert_loaded(run_block(code, cwd=tmp_path, env=dict(os.environ)), code)
