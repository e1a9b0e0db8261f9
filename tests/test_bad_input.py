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
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["generate", *BAD[case](tmp_path), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("statgen: error: ")
    assert "Traceback" not in err
    assert not out.exists()


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


# --------------------------------------------------------------------------- environment (rows 14, 15)
@pytest.mark.parametrize("command", ["generate", "verify"])
def test_unknown_mujoco_gl_is_one_line_exit_2(command, tmp_path):
    """Row 14: MUJOCO_GL=banana. mujoco reads it at import, so this needs a fresh process."""
    import os

    from conftest import run_cli

    out = tmp_path / "out"
    args = ["generate", "--robot", "franka", "--n", "4", "--out", str(out), "--quiet"] if command == "generate" else ["verify", str(out)]
    p = run_cli(*args, check=False, env={**os.environ, "MUJOCO_GL": "banana"}, timeout=120)
    line = assert_one_line(p.stderr, p.returncode, 2)
    assert "MUJOCO_GL" in line and "'banana'" in line and all(b in line for b in ("egl", "osmesa", "glfw")), line
    assert not out.exists() and half_written(out) == []


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




# --------------------------------------------------------------------------- signals and run lifecycle (rows 1-3, 11, 16, 17)


# --------------------------------------------------------------------------- storage faults (EIO, GCS, the lock)
