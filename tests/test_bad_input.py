"""The bad-input table (issue 8): every user mistake and fault a new user hit, one case each.

Each case asserts the exit code, exactly one line on stderr with no traceback, and that
nothing half-written is visible afterwards. Cases that need a running `generate` (signals,
faults) live in the sections below the in-process table.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_one_line, half_written

from statgen.cli import main
from statgen.config import data_dir

FRANKA = (data_dir("robots") / "franka.toml").read_text()
TABLETOP = (data_dir("tasks") / "tabletop.toml").read_text()


def _robot(tmp_path: Path, text: str | bytes) -> str:
    p = tmp_path / "my_robot.toml"
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(p)


def _task(tmp_path: Path, text: str | bytes) -> str:
    p = tmp_path / "my_task.toml"
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(p)


def _pipeline(tmp_path: Path, text: str | bytes) -> str:
    p = tmp_path / "my_pipeline.toml"
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(p)


def _folder(tmp_path: Path, kind: str, tomls: int) -> str:
    """A folder (not a file) where a robot/task/pipeline TOML is expected, holding `tomls` .toml files."""
    d = tmp_path / f"my_{kind}s"
    d.mkdir()
    text = {"robot": FRANKA, "task": TABLETOP, "pipeline": "[pipeline]\nrobot = 'franka'\nn = 4\n"}[kind]
    for i in range(tomls):
        (d / f"{kind}{i}.toml").write_text(text)
    return str(d)


# Latin-1 and UTF-16 copies of valid TOML, and bytes that are no text at all (row 4).
def LATIN1(text: str) -> bytes:
    return ("# café: the robot of the lab\n" + text).encode("latin-1")


def UTF16(text: str) -> bytes:
    return text.encode("utf-16")  # with a byte-order mark, as Windows editors save it


def UTF16_NO_BOM(text: str) -> bytes:
    return text.encode("utf-16-le")  # ASCII text with a NUL after every byte: valid UTF-8


BINARY = bytes(range(256)) * 8


# --------------------------------------------------------------------------- generate: flags and config files (exit 2)

BAD = {
    "unknown robot": lambda t: ["--robot", "nope", "--n", "4"],
    "zero n": lambda t: ["--robot", "franka", "--n", "0"],
    "negative n": lambda t: ["--robot", "franka", "--n", "-3"],
    "n not a number": lambda t: ["--robot", "franka", "--n", "many"],
    "n too large for the key": lambda t: ["--robot", "franka", "--n", str(10**9 + 1)],
    "no n": lambda t: ["--robot", "franka"],
    "no robot": lambda t: ["--n", "5"],
    "zero shard size": lambda t: ["--robot", "franka", "--n", "4", "--shard-size", "0"],
    "negative seed": lambda t: ["--robot", "franka", "--n", "4", "--seed", "-1"],
    "zero workers": lambda t: ["--robot", "franka", "--n", "4", "--workers", "0"],
    "unknown task": lambda t: ["--robot", "franka", "--n", "4", "--task", "kitchen"],
    "unknown camera": lambda t: ["--robot", "franka", "--n", "4", "--cameras", "front,ceiling"],
    "no front camera": lambda t: ["--robot", "franka", "--n", "4", "--cameras", "wrist"],
    "unknown flag": lambda t: ["--robot", "franka", "--n", "4", "--colour", "red"],
    "missing pipeline file": lambda t: ["--pipeline", str(t / "nope.toml")],
    # row 18: a folder where a file is expected
    "robot: a folder with one .toml": lambda t: ["--robot", _folder(t, "robot", 1), "--n", "4"],
    "robot: a folder with no .toml": lambda t: ["--robot", _folder(t, "robot", 0), "--n", "4"],
    "task: a folder with one .toml": lambda t: ["--robot", "franka", "--n", "4", "--task", _folder(t, "task", 1)],
    "pipeline: a folder with two .toml": lambda t: ["--pipeline", _folder(t, "pipeline", 2)],
    "missing assets folder": lambda t: ["--robot", "franka", "--n", "4", "--assets", str(t / "no_such_dir")],
    "robot: unknown key": lambda t: ["--robot", _robot(t, FRANKA.replace("[tcp]", "[tcp]\ncolour = 1")), "--n", "4"],
    "robot: wrong type": lambda t: ["--robot", _robot(t, FRANKA.replace('base_body = "link0"', "base_body = 7")), "--n", "4"],
    "robot: joint not in model": lambda t: ["--robot", _robot(t, FRANKA.replace('"joint7"]', '"joint8"]')), "--n", "4"],
    # row 5: a joint or body listed twice
    "robot: arm joint listed twice": lambda t: ["--robot", _robot(t, FRANKA.replace('"joint7"]', '"joint6"]')), "--n", "4"],
    "robot: finger joint also an arm joint": lambda t: ["--robot", _robot(t, FRANKA.replace('"joint7"]', '"joint7", "finger_joint1"]')), "--n", "4"],
    "robot: gripper joint listed twice": lambda t: ["--robot", _robot(t, FRANKA.replace('joints = ["finger_joint1", "finger_joint2"]', 'joints = ["finger_joint1", "finger_joint1"]')), "--n", "4"],
    "robot: gripper body listed twice": lambda t: ["--robot", _robot(t, FRANKA.replace('"left_finger", "right_finger"]', '"left_finger", "left_finger"]')), "--n", "4"],
    # row 6: an arm without gripper joints has no width to measure: fingertips are refused (the TOML)
    "robot: fingertips without gripper joints": lambda t: ["--robot", _robot(t, FRANKA.replace('joints = ["finger_joint1", "finger_joint2"]', "joints = []").replace("closed = [0.0, 0.0]", "closed = []").replace("open = [0.04, 0.04]", "open = []")), "--n", "4"],
    "robot: missing TCP body": lambda t: ["--robot", _robot(t, FRANKA.replace('body = "hand"\npos = [0.0, 0.0, 0.1034]', 'body = "palm"\npos = [0.0, 0.0, 0.1]')), "--n", "4"],
    "robot: empty joint range": lambda t: ["--robot", _robot(t, FRANKA.replace("[gripper]", "[arm.ranges]\njoint1 = [0.5, 0.5]\n\n[gripper]")), "--n", "4"],
    "robot: inverted joint range": lambda t: ["--robot", _robot(t, FRANKA.replace("[gripper]", "[arm.ranges]\njoint1 = [1.0, -1.0]\n\n[gripper]")), "--n", "4"],
    "robot: not TOML": lambda t: ["--robot", _robot(t, "name = [unclosed"), "--n", "4"],
    # row 4: not UTF-8
    "robot: Latin-1": lambda t: ["--robot", _robot(t, LATIN1(FRANKA)), "--n", "4"],
    "robot: UTF-16": lambda t: ["--robot", _robot(t, UTF16(FRANKA)), "--n", "4"],
    "robot: UTF-16 without a BOM": lambda t: ["--robot", _robot(t, UTF16_NO_BOM(FRANKA)), "--n", "4"],
    "robot: binary": lambda t: ["--robot", _robot(t, BINARY), "--n", "4"],
    "task: Latin-1": lambda t: ["--robot", "franka", "--n", "4", "--task", _task(t, LATIN1(TABLETOP))],
    "task: UTF-16": lambda t: ["--robot", "franka", "--n", "4", "--task", _task(t, UTF16(TABLETOP))],
    "pipeline: UTF-16": lambda t: ["--pipeline", _pipeline(t, UTF16("[pipeline]\nrobot = 'franka'\nn = 4\n"))],
    "pipeline: binary": lambda t: ["--pipeline", _pipeline(t, BINARY)],
    "robot: bad rosa ranges": lambda t: ["--robot", _robot(t, FRANKA.replace("ranges = [[-0.2, 0.9],", "ranges = [")), "--n", "4"],
    "task: zero camera width": lambda t: ["--robot", "franka", "--n", "4", "--task", _task(t, TABLETOP.replace("width = 224", "width = 0", 1))],
    "task: huge camera": lambda t: ["--robot", "franka", "--n", "4", "--task", _task(t, TABLETOP.replace("height = 224", "height = 100000", 1))],
    "task: unknown key": lambda t: ["--robot", "franka", "--n", "4", "--task", _task(t, TABLETOP.replace("[table]", "[table]\nlegs = 3"))],
    "pipeline: unknown key": lambda t: ["--pipeline", _pipeline(t, "[pipeline]\nrobot = 'franka'\nn = 4\nsamples = 3\n")],
    "pipeline: unknown section": lambda t: ["--pipeline", _pipeline(t, "[pipelin]\nrobot = 'franka'\n")],
    "no Ray cluster at --address": lambda t: ["--robot", "franka", "--n", "4", "--address", "127.0.0.1:1"],
    "task: camera looking straight down": lambda t: ["--robot", "franka", "--n", "4", "--task", _task(t, TABLETOP.replace("target = [0.05, 0.0, 1.12]", "target = [1.35, 0.0, 0.5]"))],
    "pipeline: gripper range not [0, 1]": lambda t: ["--pipeline", _pipeline(t, "[pipeline]\nrobot = 'franka'\nn = 4\n[rosa]\nranges = [[0, 1], [0, 1], [0, 1], [0, 1], [0, 1], [0, 1], [-1, 1]]\n")],
    "pipeline: bad image format": lambda t: ["--pipeline", _pipeline(t, "[pipeline]\nrobot = 'franka'\nn = 4\n[image]\nformat = 'bmp'\n")],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_generate_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["generate", *BAD[case](tmp_path), "--out", str(out), "--quiet"])
    assert_one_line(capsys.readouterr().err, code, 2)
    assert not out.exists()


# What the one line must say where the wording is the fix (rows 4, 5, 18): every listed piece, case-insensitive.
SAYS = {
    "robot: Latin-1": ["my_robot.toml", "must be UTF-8 TOML", "byte 0x"],
    "robot: UTF-16": ["my_robot.toml", "must be UTF-8 TOML", "UTF-16"],
    "robot: UTF-16 without a BOM": ["my_robot.toml", "must be UTF-8 TOML", "NUL"],
    "robot: binary": ["my_robot.toml", "must be UTF-8 TOML"],
    "task: Latin-1": ["my_task.toml", "must be UTF-8 TOML"],
    "task: UTF-16": ["my_task.toml", "must be UTF-8 TOML"],
    "pipeline: UTF-16": ["my_pipeline.toml", "must be UTF-8 TOML"],
    "pipeline: binary": ["my_pipeline.toml", "must be UTF-8 TOML"],
    "robot: arm joint listed twice": ["arm.joints", "'joint6'", "twice"],
    "robot: finger joint also an arm joint": ["'finger_joint1'", "arm.joints", "gripper.joints"],
    "robot: gripper joint listed twice": ["gripper.joints", "'finger_joint1'", "twice"],
    "robot: gripper body listed twice": ["gripper.bodies", "'left_finger'", "twice"],
    "robot: fingertips without gripper joints": ["gripper.fingertips", "without gripper joints", "remove fingertips"],
    "robot: a folder with one .toml": ["is a folder", "robot0.toml"],
    "robot: a folder with no .toml": ["is a folder", "no .toml"],
    "task: a folder with one .toml": ["is a folder", "task0.toml"],
    "pipeline: a folder with two .toml": ["is a folder", "pipeline0.toml, pipeline1.toml"],
}


@pytest.mark.parametrize("case", sorted(SAYS))
def test_bad_input_line_says_what_is_wrong(case, tmp_path, capsys):
    code = main(["generate", *BAD[case](tmp_path), "--out", str(tmp_path / "out"), "--quiet"])
    line = assert_one_line(capsys.readouterr().err, code, 2)
    for piece in SAYS[case]:
        assert piece.lower() in line.lower(), f"{piece!r} not in: {line}"
    assert "does not exist" not in line


def test_a_folder_named_without_a_slash_is_a_folder(tmp_path, monkeypatch, capsys):
    """`--robot my_robots` (a folder in the working directory, not a shipped name): row 18."""
    _folder(tmp_path, "robot", 2)
    monkeypatch.chdir(tmp_path)
    code = main(["generate", "--robot", "my_robots", "--n", "4", "--out", str(tmp_path / "out"), "--quiet"])
    line = assert_one_line(capsys.readouterr().err, code, 2)
    assert "is a folder" in line and "robot0.toml, robot1.toml" in line, line
    assert not (tmp_path / "out").exists()


def test_a_shipped_name_wins_over_a_folder_of_that_name(tmp_path, monkeypatch):
    """A folder ./franka (say, an --out folder) does not shadow the shipped robot `franka`."""
    from statgen.config import find_toml

    (tmp_path / "franka").mkdir()
    monkeypatch.chdir(tmp_path)
    assert find_toml("robots", "franka") == data_dir("robots") / "franka.toml"


# --------------------------------------------------------------------------- verify and preview (rows 7-10, 12, 13)
def _copy(dataset_2w, tmp_path: Path) -> Path:
    """A private copy of the tiny 2-worker dataset (24 samples, 3 shards of 8), to damage."""
    import shutil

    dst = tmp_path / "ds"
    shutil.copytree(dataset_2w, dst)
    return dst


def _edit_json(root: Path, edit) -> None:
    import json

    ds = json.loads((root / "dataset.json").read_text())
    edit(ds)
    (root / "dataset.json").write_text(json.dumps(ds))


def _member_offset(tar: Path, name: str, *, data: bool) -> int:
    """Where a member's header (data=False) or its data (data=True) starts in a shard."""
    import tarfile

    with tarfile.open(tar) as tf:
        m = tf.getmember(name)
    return m.offset_data if data else m.offset


def _no_false_counts(out: str) -> None:
    """verify's report never prints a negative count, nor the old, false 'samples missing'."""
    import re

    assert "samples missing" not in out, out
    assert not re.search(r"(?<![\d.])-\d+ (samples?|problem|of)\b", out), out


def _truncated(root: Path) -> None:  # mid-way through sample 12's image: samples 8..11 of shard 1 are whole
    p = root / "shards/statgen-000001.tar"
    p.write_bytes(p.read_bytes()[: _member_offset(p, "000000012.front.jpg", data=True) + 100])


def _flipped(root: Path) -> None:  # one bit of the tar header of sample 10's image: a tar stream ends there
    p = root / "shards/statgen-000001.tar"
    b = bytearray(p.read_bytes())
    b[_member_offset(p, "000000010.front.jpg", data=False) + 3] ^= 0x01
    p.write_bytes(bytes(b))


def _rosa_edited_in_samples(root: Path) -> None:  # every ROSA answer of shard 0 edited, checksums made to agree
    import json

    from test_verify import relist, rewrite_tar

    def edit(name, data):
        if name.endswith(".json"):
            s = json.loads(data)
            t = s["text"]["rosa"]["answer"].split()
            t[2] = str((int(t[2]) + 100) % 256)
            s["text"]["rosa"]["answer"] = " ".join(t)
            return name, json.dumps(s).encode()
        return name, data

    rewrite_tar(root / "shards/statgen-000000.tar", edit)
    relist(root, "shards/statgen-000000.tar")


DAMAGE = {
    # case: (damage, what the report must say, problems, "checked K of N" on the last line or None when all were read)
    "truncated shard": (_truncated, ["BAD shards/statgen-000001.tar", "truncated", "checked 4 of 8 samples"], 2, "checked 20 of 24 samples"),
    "flipped bit in a tar header": (_flipped, ["BAD shards/statgen-000001.tar", "sha256 mismatch", "the tar ends after 2 of 8 samples"], 2,
                                    "checked 18 of 24 samples"),
    "every ROSA answer of a shard edited": (_rosa_edited_in_samples, ["BAD shards/statgen-000000.tar", "ROSA answer",
                                                                      "stopped after 5 problems: checked 5 of 8 samples"], 5, "checked 21 of 24 samples"),
    "ROSA range edited in dataset.json": (lambda r: _edit_json(r, lambda d: d["rosa"]["ranges"][0].__setitem__(1, 1.0)),
                                          ["ok  shards/statgen-000000.tar", "problem: dataset.json: rosa.ranges", "in x;"], 1, None),
    "samples 25 in dataset.json": (lambda r: _edit_json(r, lambda d: d.__setitem__("samples", 25)),
                                   ["problem: dataset.json says 25 samples, but its shards hold 24"], 1, None),
    "samples 23 in dataset.json": (lambda r: _edit_json(r, lambda d: d.__setitem__("samples", 23)),
                                   ["problem: dataset.json says 23 samples, but its shards hold 24"], 1, None),
    "seed edited in dataset.json": (lambda r: _edit_json(r, lambda d: d.__setitem__("seed", 7)),
                                    ["problem: dataset.json: seed is 7 but config.seed is 0"], 1, None),
    "seed and config.seed edited in dataset.json": (
        lambda r: _edit_json(r, lambda d: (d.__setitem__("seed", 7), d["config"].__setitem__("seed", 7))),
        ["problem: dataset.json differs from the run's record (_run/run.json) in config.seed",
         "problem: the data does not reproduce from dataset.json's seed 7"], 2, None),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_verify_reports_true_counts_for_damage(case, dataset_2w, tmp_path, capsys):
    """Row 8 and 9: exit 1, the real problem named, true counts ('checked K of N' where verify stopped early)."""
    root = _copy(dataset_2w, tmp_path)
    damage, needles, n_problems, checked = DAMAGE[case]
    damage(root)
    code = main(["verify", str(root)])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert err == "", err
    for needle in needles:
        assert needle in out, f"{needle!r} not in:\n{out}"
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"{n_problems} problem{'' if n_problems == 1 else 's'} in "), out
    assert (checked in last) if checked else ("checked" not in last), out
    assert "Repair: `statgen generate --resume" in last
    _no_false_counts(out)


def test_verify_without_run_record_catches_an_edited_seed_by_redrawing(dataset_2w, tmp_path, capsys):
    """Row 9 without _run/: the first sample of each shard, drawn again from the seed, differs; no --resume advice (it would fail)."""
    import shutil

    root = _copy(dataset_2w, tmp_path)
    shutil.rmtree(root / "_run")
    assert main(["verify", str(root)]) == 0  # a clean copy without _run/ verifies
    capsys.readouterr()
    _edit_json(root, lambda d: (d.__setitem__("seed", 7), d["config"].__setitem__("seed", 7)))
    code = main(["verify", str(root)])
    out, err = capsys.readouterr()
    assert code == 1 and err == "", out + err
    assert "problem: the data does not reproduce from dataset.json's seed 7" in out
    assert out.strip().splitlines()[-1].startswith("1 problem in ")
    assert "--resume" in out and "cannot repair it" in out and "Repair: `statgen generate --resume" not in out


def test_verify_clean_copy_reports_every_check(dataset_2w, capsys):
    assert main(["verify", str(dataset_2w)]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == ("verified 24 samples in 3 shards (24 re-checked by FK, 3 shards re-drawn from the seed, "
                                            "3 re-rendered from their scene record): OK")
    assert "note: 3 samples re-rendered from their scene record: largest mean difference 0 grey levels (bound 0.5)" in out


def _no_model_env(tmp_path: Path) -> dict:
    """An environment where the robot model cannot be found: no asset variables, an empty cache, no download."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("MENAGERIE_ROOT", "STATGEN_ASSETS", "STATGEN_CACHE_DIR", "MENAGERIE_CACHE_DIR")}
    home = tmp_path / "home"
    home.mkdir()
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), MENAGERIE_BASE_URL="http://127.0.0.1:9/")
    return env


def test_verify_without_the_robot_model_is_exit_2_before_reading_shards(dataset_2w, tmp_path):
    """Row 7: a missing model is the environment's problem: exit 2, one line naming --assets / MENAGERIE_ROOT, no repair advice."""
    from conftest import run_cli

    env = _no_model_env(tmp_path)
    p = run_cli("verify", str(dataset_2w), check=False, env=env)
    line = assert_one_line(p.stderr, p.returncode, 2)
    assert "--assets" in line and "MENAGERIE_ROOT" in line and "--no-fk" in line, line
    assert "--resume" not in p.stdout + p.stderr
    assert p.stdout == ""  # stopped before any shard was read
    p = run_cli("verify", str(dataset_2w), "--no-fk", check=False, env=env)  # the rest is checked only when asked, and says so
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip().splitlines()[-1] == "verified 24 samples in 3 shards (FK and seed checks skipped: --no-fk): OK"


@pytest.mark.parametrize("args,needle", [
    (["--fk-samples", "-1"], "--fk-samples: expected 0 (every sample) or a positive number"),
    (["--fk-samples", "2", "--no-fk"], "--fk-samples 2 and --no-fk contradict each other"),
])
def test_verify_bad_flags_are_exit_2_one_line(args, needle, dataset_2w, capsys):
    """Row 10."""
    code = main(["verify", str(dataset_2w), *args])
    out, err = capsys.readouterr()
    assert needle in assert_one_line(err, code, 2)
    assert out == ""


PREVIEW_BAD = {
    "--out a folder": (lambda t: ["--out", str(t)], "is a folder; expected an image file name ending in .png, .jpg, .jpeg, .webp"),
    "--out x.xyz": (lambda t: ["--out", str(t / "x.xyz")], "expected an image file name ending in .png, .jpg, .jpeg, .webp, got '.xyz'"),
    "--out without extension": (lambda t: ["--out", str(t / "sheet")], "got no extension"),
    "--out under a file": (lambda t: ["--out", str(t / "file.txt" / "x.png")], "is a file, not a folder"),
    "--out in /proc": (lambda t: ["--out", "/proc/sheet.png"], "--out /proc/sheet.png: cannot write in /proc ("),
    "--out in a new folder in /proc": (lambda t: ["--out", "/proc/new/sheet.png"], "--out /proc/new/sheet.png: cannot write in /proc ("),
    "--count 100000": (lambda t: ["--count", "100000"], "--count: expected 1 to 256 samples (tiles on one sheet), got 100000"),
    "--count 257": (lambda t: ["--count", "257"], "--count: expected 1 to 256"),
    "--count 0": (lambda t: ["--count", "0"], "--count: expected 1 to 256"),
}


@pytest.mark.parametrize("case", sorted(PREVIEW_BAD))
def test_preview_bad_input_is_one_line_exit_2_before_reading_shards(case, dataset_2w, tmp_path, capsys):
    """Rows 12 and 13. The shards are removed from the copy: the flags must be refused before any shard is read."""
    import shutil

    root = _copy(dataset_2w, tmp_path)
    shutil.rmtree(root / "shards")
    outdir = tmp_path / "outdir"
    outdir.mkdir()
    (outdir / "file.txt").write_text("not a folder")
    args, needle = PREVIEW_BAD[case]
    code = main(["preview", str(root), *args(outdir)])
    line = assert_one_line(capsys.readouterr().err, code, 2)
    assert needle in line, line
    assert sorted(p.name for p in outdir.rglob("*")) == ["file.txt"] and half_written(outdir) == []


@pytest.mark.parametrize("name,fmt", [("sheet.png", "PNG"), ("sheet.JPG", "JPEG"), ("sheet.jpeg", "JPEG"), ("sheet.webp", "WEBP")])
def test_preview_writes_each_valid_format(name, fmt, dataset_2w, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "new" / name
    assert main(["preview", str(dataset_2w), "--out", str(out), "--count", "256"]) == 0, capsys.readouterr().err
    with Image.open(out) as im:
        assert im.format == fmt and im.size == (5 * 448, 5 * 448)  # 24 tiles (every sample) on a 5x5 grid
    assert half_written(tmp_path) == []


def test_preview_that_fails_while_writing_leaves_nothing(dataset_2w, tmp_path, capsys, monkeypatch):
    """A write that fails half-way (a full disk) leaves neither the image nor a temporary file."""
    from PIL import Image

    def failing_save(self, fp, format=None, **kw):
        with open(fp, "wb") as f:
            f.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    out = tmp_path / "out" / "sheet.png"
    code = main(["preview", str(dataset_2w), "--out", str(out)])
    line = assert_one_line(capsys.readouterr().err, code, 1)
    assert "No space left on device" in line and str(out) in line and ".tmp" not in line, line
    assert not out.exists() and half_written(tmp_path / "out") == []



# --------------------------------------------------------------------------- environment (rows 14, 15)
def _osmesa_loads() -> bool:
    from statgen.sim.gl import _loads

    return _loads("OSMesa")


GL_CASES = {
    "banana": ("banana", ["'banana'", "egl", "osmesa", "glfw"]),
    "osmesa without libOSMesa": ("osmesa", ["osmesa", "libOSMesa", "apt-get install libosmesa6", "MUJOCO_GL=egl", "glfw"]),
    "off": ("off", ["'off'", "turns rendering off", "egl", "osmesa", "glfw"]),
}


@pytest.mark.parametrize("case", sorted(GL_CASES))
def test_mujoco_gl_that_cannot_render_is_one_line_exit_2(case, tmp_path):
    """Row 14, and MUJOCO_GL=osmesa where libOSMesa is missing (a 63-line traceback from `import mujoco`
    before): generate exits 2 with one line naming the backend and what to install or use, before
    anything is written. mujoco reads MUJOCO_GL at import, so this needs a fresh process."""
    import os

    from conftest import run_cli

    value, needles = GL_CASES[case]
    if value == "osmesa" and _osmesa_loads():
        pytest.skip("libOSMesa is installed here: MUJOCO_GL=osmesa renders")
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}  # as in a fresh shell (mujoco.egl set it here)
    p = run_cli("generate", "--robot", "franka", "--n", "4", "--out", str(out), "--quiet", check=False,
                env={**env, "MUJOCO_GL": value}, timeout=120)
    line = assert_one_line(p.stderr, p.returncode, 2)
    assert "MUJOCO_GL" in line and all(n in line for n in needles), line
    assert not out.exists() and half_written(out) == []


@pytest.mark.parametrize("value", ["banana", "osmesa", "off"])
def test_verify_needs_no_gl_backend(value, dataset_2w):
    """verify renders only to re-render a few samples from their scene record (FK and the seed re-draw
    need no GL): whatever MUJOCO_GL says, it checks the dataset, and says that it skipped the re-render;
    asked for re-renders explicitly, it is one line, exit 2."""
    import os

    from conftest import run_cli

    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}  # as in a fresh shell (mujoco.egl set it here)
    p = run_cli("verify", str(dataset_2w), check=False, env={**env, "MUJOCO_GL": value}, timeout=300)
    assert p.returncode == 0 and p.stderr == "", p.stdout + p.stderr
    assert p.stdout.strip().splitlines()[-1].endswith(": OK") and "re-checked by FK" in p.stdout
    assert "no sample re-rendered from its scene record (this machine cannot render: " in p.stdout, p.stdout
    p = run_cli("verify", str(dataset_2w), "--render-samples", "2", check=False, env={**env, "MUJOCO_GL": value}, timeout=300)
    line = assert_one_line(p.stderr, p.returncode, 2)
    assert "--render-samples 2: this machine cannot render" in line and "MUJOCO_GL" in line, line


def test_a_gl_context_that_cannot_be_made_is_a_config_error(franka_scene, monkeypatch):
    """A backend that loads but cannot make a context (EGL without a device, glfw without a display):
    one line naming the backend, exit 2, not a worker's traceback."""
    import mujoco

    from statgen.config import RenderSettings
    from statgen.errors import ConfigError
    from statgen.sim.render import CameraRenderer

    def no_context(*a, **k):
        raise RuntimeError("Cannot initialize a EGL device display.\nmore detail")

    monkeypatch.setattr(mujoco, "Renderer", no_context)
    with pytest.raises(ConfigError) as err:
        CameraRenderer(franka_scene, render=RenderSettings())
    msg = str(err.value)
    assert "\n" not in msg and "MUJOCO_GL=egl" in msg and "cannot create an OpenGL context" in msg and "EGL device display" in msg, msg
    assert err.value.exit_code == 2


def test_gl_problem_names_the_backend_and_the_way_out(monkeypatch):
    """Without touching this process's mujoco: what is missing, what to install, and only a value that loads here."""
    from statgen.sim import gl

    gl._problem.cache_clear()
    monkeypatch.setattr(gl, "_loads", lambda name: name != "OSMesa")
    try:
        msg = gl.gl_problem({"MUJOCO_GL": "osmesa"}, system="Linux")
        assert "osmesa backend cannot load libOSMesa" in msg and "libosmesa6" in msg and "MUJOCO_GL=egl" in msg, msg
        assert "egl, osmesa or glfw" in msg, msg
        assert gl.gl_problem({"MUJOCO_GL": "egl"}, system="Linux") is None
        assert "PYOPENGL_PLATFORM" in gl.gl_problem({"MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "osmesa"}, system="Linux")
        assert "needs a display" in gl.gl_problem({"MUJOCO_GL": "glfw"}, system="Linux")
        gl._problem.cache_clear()
        monkeypatch.setattr(gl, "_loads", lambda name: False)  # neither headless backend loads: no value is recommended
        msg = gl.gl_problem({"MUJOCO_GL": "egl"}, system="Linux")
        assert "cannot load libEGL" in msg and "libegl1" in msg and "MUJOCO_GL=osmesa" not in msg, msg
        with pytest.raises(gl.ConfigError, match="libEGL"):
            monkeypatch.setattr(gl, "_import_problem", None)
            monkeypatch.setenv("MUJOCO_GL", "egl")
            gl.require_rendering()
    finally:
        gl._problem.cache_clear()


def test_mujoco_gl_check_accepts_what_mujoco_accepts():
    from statgen.errors import ConfigError
    from statgen.sim.gl import check_mujoco_gl

    for ok in ("egl", "EGL", " osmesa ", "glfw", "glx", "", "off", "1"):
        assert check_mujoco_gl(environ={"MUJOCO_GL": ok}, system="Linux") == ok
    assert check_mujoco_gl(environ={}, system="Linux") is None
    assert check_mujoco_gl(environ={"MUJOCO_GL": "cgl"}, system="Darwin") == "cgl"
    for bad, system in (("banana", "Linux"), ("cgl", "Linux"), ("egl", "Darwin")):
        with pytest.raises(ConfigError, match="MUJOCO_GL"):
            check_mujoco_gl(environ={"MUJOCO_GL": bad}, system=system)




def _plain_tcp_server():
    """Something that listens but is not Ray: accepts, answers like a confused HTTP server, hangs up.
    On every interface, since Ray replaces 127.0.0.1 by this host's own address."""
    import socket
    import threading

    srv = socket.socket()
    srv.bind(("0.0.0.0", 0))
    srv.listen(16)

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(1.0)
                try:
                    conn.recv(1024)
                    conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return srv, f"127.0.0.1:{srv.getsockname()[1]}"


def _blackholed_port():
    """A loopback port whose accept queue is full: the kernel drops further SYNs, as a blackholed host does."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    filler = socket.create_connection(srv.getsockname(), timeout=5)  # takes the one queue slot
    return (srv, filler), f"127.0.0.1:{srv.getsockname()[1]}"


def _closed_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused, and while the
    port = s.getsockname()[1]  # socket is held no other process (a Ray beside) can take the port
    return (s,), f"127.0.0.1:{port}"


ADDRESSES = {"listening but not Ray": _plain_tcp_server, "blackholed": _blackholed_port, "closed port": _closed_port}


@pytest.mark.parametrize("case", sorted(ADDRESSES))
def test_unreachable_address_is_one_line_without_ray_noise(case, tmp_path):
    """Row 15: only statgen's line reaches stderr (none of Ray's gcs_client retries), exit 2, quickly."""
    from conftest import run_cli

    keep, address = ADDRESSES[case]()
    out = tmp_path / "out"
    try:
        p = run_cli("generate", "--robot", "franka", "--n", "4", "--out", str(out), "--quiet", "--address", address, check=False, timeout=120)
    finally:
        for s in keep if isinstance(keep, tuple) else (keep,):
            s.close()
    line = assert_one_line(p.stderr, p.returncode, 2)
    assert address in line and "--address" in line
    assert not out.exists()


@pytest.mark.own_ray  # the environment's RAY_ADDRESS is the subject here
def test_unreachable_ray_address_variable_is_one_line_naming_it(tmp_path):
    """A set RAY_ADDRESS is joined like --address, and the line names the variable, not a flag."""
    from conftest import run_cli

    (held,), address = _closed_port()
    out = tmp_path / "out"
    try:
        p = run_cli("generate", "--robot", "franka", "--n", "4", "--out", str(out), "--quiet", check=False, timeout=120,
                    env={**os.environ, "RAY_ADDRESS": address})
    finally:
        held.close()
    line = assert_one_line(p.stderr, p.returncode, 2)
    assert f"RAY_ADDRESS {address}: no Ray cluster answers there" in line, line
    assert not out.exists()


# --------------------------------------------------------------------------- signals and run lifecycle (rows 1-3, 11, 16, 17)


import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from conftest import E2E_SHARD, run_cli  # noqa: E402

RUN_TIMEOUT_S = 300
LONG_N = 6 * E2E_SHARD  # 6 shards on one worker: a signal sent after the first is recorded lands mid-run


WORKER_NOISE = "WORKER-NOISE-MARKER"
# A sitecustomize that makes every Ray worker process write to its stdout and stderr as it starts and
# as it exits, as a worker killed mid-task does with its C++ stack dump ("*** SIGABRT received",
# "Mutex corrupt"): deterministic stand-ins for the intermittent dumps a failed run used to print.
_NOISY_SITECUSTOMIZE = f"""
import atexit, os, sys
if any("default_worker" in a for a in sys.argv):
    for fd in (1, 2):
        os.write(fd, b"*** {WORKER_NOISE} SIGABRT received at start ***\\n")
    atexit.register(lambda: [os.write(fd, b"*** {WORKER_NOISE} at exit ***\\n") for fd in (1, 2)])
"""


def _noisy_workers_env(tmp_path: Path) -> dict[str, str]:
    """This environment, with every Ray worker writing WORKER_NOISE to its stdout and stderr."""
    site = tmp_path / "noisy_site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_NOISY_SITECUSTOMIZE)
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


def _generate(out: Path, *extra: str, n: int = LONG_N, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`statgen generate` in a subprocess that leads its own process group (so the group can be signalled)."""
    args = ["generate", "--robot", "franka", "--n", str(n), "--shard-size", str(E2E_SHARD), "--workers", "1", "--out", str(out), "--quiet", *extra]
    return subprocess.Popen([sys.executable, "-m", "statgen.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env=env)


def _wait_first_shard(p: subprocess.Popen, out: Path) -> None:
    jsonl = out / "_run/shards.jsonl"
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline and p.poll() is None:
        if jsonl.exists() and jsonl.read_text().strip():
            return
        time.sleep(0.02)
    p.kill()
    raise AssertionError(f"no shard recorded before the run ended (exit {p.poll()}): {p.communicate()[1][-2000:]}")


def _recorded(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "_run/shards.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.own_ray  # the embedded instance's signal handling
@pytest.mark.parametrize("sig,code", [("SIGINT", 130), ("SIGTERM", 143)])
@pytest.mark.parametrize("target", ["process", "group"])
def test_signal_stops_generate_cleanly_and_resume_completes(sig, code, target, tmp_path):
    """Rows 1, 2 (and 16 for the resume): Ctrl-C (SIGINT) or SIGTERM, to the driver or to its whole
    process group, exits 130/143 with one line naming --resume, no Ray dump (not even from workers
    that write to their stdout and stderr), nothing half-written, the lock released and the finished
    shards kept; after a Ctrl-C to the group (a terminal's), --resume then completes, says what it
    kept, ends its progress at 100%, and verify accepts the dataset."""
    out = tmp_path / "ds"
    p = _generate(out, env=_noisy_workers_env(tmp_path))
    _wait_first_shard(p, out)
    signum = getattr(signal, sig)
    os.killpg(p.pid, signum) if target == "group" else p.send_signal(signum)
    std, err = p.communicate(timeout=RUN_TIMEOUT_S)
    line = assert_one_line(err, p.returncode, code)
    assert WORKER_NOISE not in std, std
    assert "--resume" in line and sig in line, line
    assert half_written(out) == []  # no partial shard, no lock
    assert not (out / "dataset.json").exists()
    recorded = _recorded(out)
    assert 1 <= len(recorded) < LONG_N // E2E_SHARD
    k, samples = len(recorded), sum(s["samples"] for s in recorded)  # the stop line's counts are the log's
    assert f"{samples} of {LONG_N} samples are in {k} finished shard{'' if k == 1 else 's'} in " in line, line
    for shard in recorded:  # the finished shards are kept, intact
        assert (out / shard["name"]).stat().st_size == shard["bytes"]
    if (target, sig) != ("group", "SIGINT"):
        return  # the resume after a stop is the same code whatever stopped the run: checked once, after Ctrl-C

    r = run_cli("generate", "--resume", "--out", str(out), timeout=RUN_TIMEOUT_S)  # with progress
    assert f"kept {sum(s['samples'] for s in recorded)} samples in {len(recorded)} finished shard" in r.stdout, r.stdout  # row 16
    assert "wrote" in r.stdout and "resuming" in r.stderr
    counts = [int(x.split("/")[0].split()[-1]) for x in r.stderr.replace("\r", "\n").splitlines() if " samples (" in x]
    assert counts and counts == sorted(counts) and counts[-1] == LONG_N, r.stderr  # monotone, ending at n (100%)
    assert f"{LONG_N}/{LONG_N} samples (100%)" in r.stderr
    assert run_cli("verify", str(out)).returncode == 0
    assert json.loads((out / "dataset.json").read_text())["samples"] == LONG_N


def _psutil():
    import ray  # noqa: F401  (puts Ray's bundled psutil on sys.path when psutil is not installed)
    import psutil

    return psutil


@pytest.mark.own_ray  # every process of the embedded instance must go
def test_sigkill_of_the_driver_leaves_no_process_of_the_run(tmp_path):
    """Row 3: every process of the run (Ray's GCS, raylet, agents, workers) is gone within 10 s of
    SIGKILL to the driver alone."""
    psutil = _psutil()
    out = tmp_path / "ds"
    p = _generate(out)
    _wait_first_shard(p, out)
    procs = psutil.Process(p.pid).children(recursive=True)
    names = {q.pid: q.name() for q in procs}
    assert any("raylet" in n for n in names.values()), names
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)

    def alive() -> list[str]:
        out = []
        for q in procs:
            try:
                if q.is_running() and q.status() != psutil.STATUS_ZOMBIE:
                    out.append(f"{q.pid} {names[q.pid]}")
            except psutil.NoSuchProcess:
                pass
        return out

    deadline = time.monotonic() + 10.0
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    left = alive()
    for q in procs:  # do not leak them into the rest of the suite either way
        try:
            q.kill()
        except psutil.Error:
            pass
    assert left == [], f"still alive 10 s after the driver was killed: {left}"


def _blind_task(tmp_path: Path) -> str:
    """A task whose front camera looks away from the robot: no configuration can be accepted."""
    return _task(tmp_path, TABLETOP.replace("target = [0.05, 0.0, 1.12]", "target = [3.0, 0.0, 1.5]"))


@pytest.mark.parametrize("existed", [False, True], ids=["new folder", "existing empty folder"])
def test_run_failing_before_any_shard_leaves_nothing(existed, tmp_path):
    """Row 11: a run that fails before its first shard is finished removes what it created: no _run/,
    no shards/, and no --out folder if there was none. A rerun then starts afresh."""
    out = tmp_path / "parent" / "out"
    if existed:
        out.mkdir(parents=True)
    p = run_cli("generate", "--robot", "franka", "--n", "16", "--shard-size", "8", "--workers", "1", "--task", _blind_task(tmp_path),
                "--out", str(out), "--quiet", check=False, timeout=RUN_TIMEOUT_S)
    line = assert_one_line(p.stderr, p.returncode, 1)
    assert "no feasible configuration" in line
    if existed:
        assert out.is_dir() and list(out.iterdir()) == []
    else:
        assert not (tmp_path / "parent").exists()


@pytest.mark.slow
@pytest.mark.own_ray  # the noisy workers are the embedded instance's (they inherit the driver's environment)
def test_a_failed_run_prints_nothing_from_the_workers(tmp_path):
    """A failed run prints statgen's one line and nothing of what its Ray workers write (their dumps
    when they are killed at shutdown used to reach the terminal through Ray's log_to_driver)."""
    out = tmp_path / "out"
    # --quiet: a run that takes over 10 s to fail (a loaded machine) rightly prints a progress line first
    p = run_cli("generate", "--robot", "franka", "--n", "16", "--shard-size", "8", "--workers", "2", "--task", _blind_task(tmp_path),
                "--out", str(out), "--quiet", check=False, timeout=RUN_TIMEOUT_S, env=_noisy_workers_env(tmp_path))
    line = assert_one_line(p.stderr, p.returncode, 1)
    assert "no feasible configuration" in line
    assert WORKER_NOISE not in p.stdout + p.stderr, p.stdout + p.stderr


def test_overwrite_and_resume_together_are_a_usage_error(tmp_path, capsys):
    out = tmp_path / "out"
    for args in (["--robot", "franka", "--n", "4"], []):  # also `--resume --out DIR` with the run's own config
        code = main(["generate", *args, "--out", str(out), "--resume", "--overwrite", "--quiet"])
        line = assert_one_line(capsys.readouterr().err, code, 2)
        assert "--overwrite" in line and "--resume" in line
    assert not out.exists()


def test_overwrite_refuses_a_folder_that_is_not_a_dataset(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    (out / "_run").mkdir()  # even one that looks a little like a dataset
    code = main(["generate", "--robot", "franka", "--n", "4", "--out", str(out), "--overwrite", "--quiet"])
    line = assert_one_line(capsys.readouterr().err, code, 2)
    assert "not a statgen dataset" in line
    assert (out / "thesis.tex").read_text() == "precious" and sorted(p.name for p in out.iterdir()) == ["_run", "thesis.tex"]


def test_overwrite_replaces_a_dataset(dataset_2w, tmp_path):
    """Row 11: --overwrite replaces a statgen dataset (another config: seed 7), keeps files that are
    not the dataset's, and the result verifies."""
    out = tmp_path / "ds"
    shutil.copytree(dataset_2w, out)
    (out / "preview.png").write_bytes(b"not statgen's")
    p = run_cli("generate", "--robot", "franka", "--n", "16", "--shard-size", "8", "--workers", "1", "--seed", "7", "--out", str(out),
                "--overwrite", "--quiet", timeout=RUN_TIMEOUT_S)
    assert p.stderr == ""
    ds = json.loads((out / "dataset.json").read_text())
    assert ds["seed"] == 7 and ds["samples"] == 16
    assert sorted(q.name for q in (out / "shards").iterdir()) == ["statgen-000000.tar", "statgen-000001.tar"]
    assert (out / "preview.png").read_bytes() == b"not statgen's"
    assert half_written(out) == []
    assert run_cli("verify", str(out)).returncode == 0


def test_overwrite_takes_the_lock_first(dataset_2w, tmp_path):
    """--overwrite of a dataset another live run holds is refused, and nothing is deleted."""
    out = tmp_path / "ds"
    shutil.copytree(dataset_2w, out)
    import socket

    (out / "_run/lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "start": time.time()}))
    before = {q: q.read_bytes() for q in out.rglob("*") if q.is_file()}
    p = run_cli("generate", "--robot", "franka", "--n", "16", "--shard-size", "8", "--workers", "1", "--out", str(out), "--overwrite", "--quiet",
                check=False, timeout=RUN_TIMEOUT_S)
    line = assert_one_line(p.stderr, p.returncode, 2)
    assert "another statgen generate holds" in line
    assert {q: q.read_bytes() for q in out.rglob("*") if q.is_file()} == before


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _drawn(text: str) -> list[str]:
    return [x for x in text.replace("\r", "\n").splitlines() if " samples (" in x]


@pytest.mark.parametrize("tty", [True, False], ids=["terminal", "log file"])
def test_progress_is_monotone_and_ends_at_100_percent(tty):
    """Row 16: worker polls can dip (a shard's samples move from "partial" to "finished" between two
    polls) or stall below the total; the line never goes back and ends at n/n (100%)."""
    import io

    from statgen.run.progress import Progress

    stream, clock = io.StringIO(), _Clock()
    prog = Progress(total=2000, done=0, label="statgen franka", stream=stream, tty=tty, clock=clock)
    for done in (100, 384, 250, 900, 1750):  # 250: the dip seen on a terminal
        clock.t += 11.0
        prog.update(done)
    clock.t += 11.0
    rate = prog.finish(2000)
    counts = [int(x.split("/")[0].split()[-1]) for x in _drawn(stream.getvalue())]
    assert counts == [100, 384, 384, 900, 1750, 2000]
    assert _drawn(stream.getvalue())[-1].startswith("statgen franka: 2000/2000 samples (100%)")
    assert stream.getvalue().endswith("\n")
    assert rate == pytest.approx(2000 / 66.0)


def test_progress_of_a_resumed_run_counts_from_the_kept_samples():
    import io

    from statgen.run.progress import Progress

    stream, clock = io.StringIO(), _Clock()
    prog = Progress(total=3000, done=1000, label="statgen franka", stream=stream, tty=False, clock=clock)
    prog.note("resuming data/franka: kept 1 finished shard (1000 samples), writing 2 more")
    clock.t += 5.0
    prog.update(1500)  # within 10 s of the last line: not printed to a log file
    clock.t += 5.0
    assert prog.finish(3000) == pytest.approx(200.0)  # rate of this run's samples only
    lines = stream.getvalue().splitlines()
    assert lines == ["statgen franka: resuming data/franka: kept 1 finished shard (1000 samples), writing 2 more",
                     "statgen franka: 3000/3000 samples (100%)  200.0 samples/s  ETA 0m00s"]


def test_progress_disabled_writes_nothing():
    import io

    from statgen.run.progress import Progress

    stream = io.StringIO()
    prog = Progress(total=10, done=0, label="x", enabled=False, stream=stream, tty=True, clock=_Clock())
    prog.update(5, force=True)
    prog.note("hello")
    prog.finish(10)
    assert stream.getvalue() == ""


def test_resume_of_a_finished_dataset_does_nothing_without_ray(dataset_2w, tmp_path, capsys, monkeypatch):
    """Row 17: the checksums are checked against dataset.json and shards.jsonl, Ray is not started,
    nothing is written, and the signal handlers are as they were."""
    from statgen.run import pool

    out = tmp_path / "ds"
    shutil.copytree(dataset_2w, out)
    before = {q: (q.read_bytes(), q.stat().st_mtime_ns) for q in out.rglob("*") if q.is_file()}

    def no_ray(*a, **k):
        raise AssertionError("Ray was started")

    monkeypatch.setattr(pool.RaySession, "start", no_ray)
    handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    code = main(["generate", "--resume", "--out", str(out)])
    std = capsys.readouterr()
    assert code == 0, std.err
    assert std.out.strip().startswith("nothing to do: 24 samples already complete"), std.out
    assert std.err == ""
    assert {q: (q.read_bytes(), q.stat().st_mtime_ns) for q in out.rglob("*") if q.is_file()} == before
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers


@pytest.mark.parametrize("damage", ["shard", "index"])
def test_resume_of_a_damaged_finished_dataset_repairs_it(damage, dataset_2w, tmp_path):
    """Row 17: one damaged file in a finished dataset: --resume does a real resume and rewrites it."""
    out = tmp_path / "ds"
    shutil.copytree(dataset_2w, out)
    victim = out / ("shards/statgen-000001.tar" if damage == "shard" else "index/statgen-000001.parquet")
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))
    p = run_cli("generate", "--resume", "--out", str(out), "--quiet", timeout=RUN_TIMEOUT_S)
    assert p.stdout.startswith(f"resumed {out}: kept 16 samples in 2 finished shards, wrote 8 samples in 1 shard"), p.stdout
    assert victim.read_bytes() == (dataset_2w / victim.relative_to(out)).read_bytes()
    assert run_cli("verify", str(out)).returncode == 0


# --------------------------------------------------------------------------- storage faults (EIO, GCS, the lock)


@pytest.mark.parametrize("how", ["SIGINT", "RunError"])
def test_a_stopped_or_failed_run_starts_its_line_below_the_progress_line(how, tmp_path, monkeypatch, capsys):
    """On a terminal the progress line is redrawn in place ("\\r...", no newline): the stop or failure
    line must start a line of its own, not continue the progress text. Ray is replaced by a stand-in
    that reports progress, then is stopped (a real SIGINT to this process) or fails."""
    import statgen.run.generate as g
    from statgen.errors import RunError

    class TerminalProgress(g.Progress):
        def __init__(self, **kw):
            ticks = iter(range(0, 10**6))  # a second passes between any two looks at the clock: every update draws
            super().__init__(**{**kw, "tty": True, "clock": lambda: float(next(ticks))})

    def run_shards(job, todo, out, *, on_result, on_progress):
        on_progress(3)
        if how == "SIGINT":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the guard's handler raises here
        raise RunError("a worker failed (stand-in); finished shards are kept: rerun with --resume")

    monkeypatch.setattr(g, "Progress", TerminalProgress)
    monkeypatch.setattr(g.RaySession, "start", lambda self, cfg, guard=None: None)
    monkeypatch.setattr(g, "run_shards", run_shards)
    code = main(["generate", "--robot", "franka", "--n", "16", "--shard-size", "8", "--workers", "1", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == (130 if how == "SIGINT" else 1), err
    assert "\r" in err and "3/16 samples" in err  # the progress line was drawn in place
    last = err.split("\n")[-2] if err.endswith("\n") else err.split("\n")[-1]
    assert last.startswith("statgen: ") and "\r" not in last, repr(err)
    assert ("stopped by SIGINT" if how == "SIGINT" else "stand-in") in last, repr(err)


def test_counts_of_one_are_singular(tmp_path):
    """"1 sample", "1 shard", never "1 shards" or "shard(s)": a one-sample dataset through generate,
    verify and a --resume with nothing to do."""
    out = tmp_path / "one"
    p = run_cli("generate", "--robot", "franka", "--n", "1", "--shard-size", "1", "--workers", "1", "--out", str(out), "--quiet",
                timeout=RUN_TIMEOUT_S)
    assert p.stdout.startswith(f"wrote 1 sample in 1 shard to {out} "), p.stdout
    v = run_cli("verify", str(out), timeout=RUN_TIMEOUT_S).stdout.strip().splitlines()[-1]
    assert v == "verified 1 sample in 1 shard (1 re-checked by FK, 1 shard re-drawn from the seed, 1 re-rendered from its scene record): OK", v
    r = run_cli("generate", "--resume", "--out", str(out), "--quiet", timeout=RUN_TIMEOUT_S).stdout
    assert r.strip() == f"nothing to do: 1 sample already complete in {out} (1 shard, checksums verified)", r
    for text in (p.stdout, v, r):
        assert "(s)" not in text and not re.search(r"(?<![\d.])1 (samples|shards|problems|files)\b", text), text  # not "0.1 samples/s"


def test_the_embedded_instance_is_stopped_without_a_graceful_wait():
    """Its processes inherit the SIGINT/SIGTERM block of SignalGuard.deferred, so RaySession.stop asks Ray's
    node for the SIGKILL at once (statgen.run.pool._kill_without_grace). Checked on a stand-in node with the
    call ray.shutdown makes, and against the installed Ray: the private names it reaches for are there (a
    Ray upgrade that drops them would make every run's stop take 5 s again, without an error)."""
    import inspect
    import types

    import ray

    from statgen.run.pool import _kill_without_grace

    calls = []
    node = types.SimpleNamespace(kill_all_processes=lambda **kw: calls.append(kw))
    fake = types.SimpleNamespace(_private=types.SimpleNamespace(worker=types.SimpleNamespace(_global_node=node)))
    _kill_without_grace(fake)
    node.kill_all_processes(check_alive=False, allow_graceful=True, wait=False)
    assert calls == [{"check_alive": False, "allow_graceful": False, "wait": False}]
    _kill_without_grace(types.SimpleNamespace())  # no node: nothing to do, no error
    from ray._private.node import Node

    assert hasattr(ray._private.worker, "_global_node")
    assert "allow_graceful" in inspect.signature(Node.kill_all_processes).parameters
    assert "allow_graceful=True" in inspect.getsource(ray._private.worker.shutdown).replace(" ", "")
