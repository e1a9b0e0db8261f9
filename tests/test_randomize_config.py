"""Randomisation settings (statgen.config.settings.RandomizeSettings) and the task's [randomize],
calibrated and shell cameras (statgen.config.task): values in force, and one line per mistake."""

from __future__ import annotations

import tomllib

import pytest

from statgen.config import build_config
from statgen.config.settings import LEVERS, RandomizeSettings
from statgen.config.task import task_from_toml
from statgen.errors import ConfigError

BASE = """
name = "t"
[table]
size = [1.0, 1.0, 0.05]
center = [0.0, 0.0, 0.0]
height = 0.7
[robot]
pos = [0.0, 0.0, 0.0]
yaw_deg = 0.0
"""
FRONT = """
[cameras.front]
pos = [1.3, 0.0, 1.4]
target = [0.0, 0.0, 1.0]
fovy_deg = 60.0
width = 224
height = 224
"""
CALIBRATED = """
[cameras.front]
width = 640
height = 480
K = [[615.0, 0.0, 322.5], [0.0, 612.0, 241.0], [0.0, 0.0, 1.0]]
T_base_cam = [[0.0, 0.0, -1.0, 1.4], [1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.6], [0.0, 0.0, 0.0, 1.0]]
"""


def _task(text: str):
    return task_from_toml(tomllib.loads(BASE + text), "t.toml")


def test_a_lever_is_the_pipelines_else_the_tasks_else_built_in():
    task = _task(FRONT + "\n[randomize]\ncamera_pos_m = 0.2\nlights = [2, 2]\n")
    assert task.levers == {"camera_pos_m": 0.2, "lights": (2.0, 2.0)}
    lv = build_config({"robot": "franka", "n": 1, "randomize.lights": [1, 4]}).randomize.resolve(task.levers)
    assert lv["camera_pos_m"] == 0.2 and lv["lights"] == (1.0, 4.0) and lv["distractors"] == LEVERS["distractors"].meta.lever
    assert RandomizeSettings().level == "full" and build_config({"robot": "franka", "n": 1}).randomize.level == "full"


def test_the_level_flag_and_its_mistakes():
    assert build_config({"robot": "franka", "n": 1, "randomize.level": "appearance"}).randomize.level == "appearance"
    with pytest.raises(ConfigError, match="expected one of none, appearance, full"):
        build_config({"robot": "franka", "n": 1, "randomize.level": "some"})


def test_a_tasks_randomize_mistakes_are_named_at_once():
    with pytest.raises(ConfigError) as e:
        _task(FRONT + "\n[randomize]\ncamera_pos_m = -1\nlights = [3, 1]\ncolour = 1\n")
    msg = str(e.value)
    assert "\n" not in msg and "3 problems" in msg
    assert "randomize.camera_pos_m" in msg and "randomize.lights" in msg and "unknown key 'colour'" in msg and "camera_pos_m" in msg


def test_a_calibrated_camera_and_a_shell():
    t = _task(CALIBRATED + "\n[cameras.front.shell]\ndistance = [1.2, 1.8]\nazimuth_deg = [-40, 40]\nelevation_deg = [15, 50]\n")
    c = t.camera("front")
    assert c.calibrated and c.K[0] == (615.0, 0.0, 322.5) and c.T_base_cam[0][3] == 1.4 and c.pos is None
    assert c.shell.distance == (1.2, 1.8) and c.shell.target_scale == 0.5


@pytest.mark.parametrize("edit,words", [
    (lambda s: s.replace("[0.0, 612.0, 241.0]", "[0.5, 612.0, 241.0]"), "no skew"),
    (lambda s: s.replace("[0.0, 0.0, -1.0, 1.4]", "[0.0, 0.5, -1.0, 1.4]"), "rigid transform"),
    (lambda s: s.replace("width = 640", "width = 640\npos = [1.0, 0.0, 1.0]"), "drop pos"),
    (lambda s: s.replace("K = [[615.0, 0.0, 322.5], [0.0, 612.0, 241.0], [0.0, 0.0, 1.0]]", "K = [[615.0, 0.0], [0.0, 612.0]]"), "3x3 matrix"),
])
def test_a_calibrated_cameras_mistakes(edit, words):
    with pytest.raises(ConfigError, match=words):
        _task(edit(CALIBRATED))
