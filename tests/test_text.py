"""The natural-language text (statgen.core.text): words that read right for every sign (issue 8 row 19).

Every template is filled with positive, negative and zero coordinates, and each answer is
parsed back: a coordinate template gives the signed value, a template in words gives a
magnitude and a direction word. Both must recover the value to the printed precision, and
no minus sign may stand before a direction word ("-0.17 m forward").
"""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from statgen.core import text

# Base frame: x forward, y left, z up. Values around each rounding edge of 2 and 3 decimals.
VALUES = (0.412, -0.17, -0.463, 0.0, -0.0, -0.0004, 0.0004, -0.004, 0.0049, -0.0051, 0.9)
EULER = np.array([3.0, -0.2, 0.5])  # rad: 172°, -11°, 29°
EULER_NEAR_ZERO = np.array([-0.004, 0.0, 0.004])  # rad: -0.23°, 0°, 0.23° -> "0°" each, never "-0°"


class FixedChoice:
    """Stands in for the shard's generator: `integers(n)` returns the chosen templates in turn."""

    def __init__(self, *choices: int):
        self.choices = list(choices)
        self.calls: list[int] = []

    def integers(self, n: int) -> int:
        self.calls.append(n)
        return self.choices.pop(0)


def answer(template: int, pos, *, euler=EULER, gripper_open=True, width=0.0612, has_gripper=True) -> str:
    rng = FixedChoice(0, template)
    t = text.natural_text(rng=rng, ee_pos=np.array(pos, dtype=float), ee_euler_xyz=euler, gripper_open=gripper_open, gripper_width=width,
                          has_gripper=has_gripper)
    assert rng.calls == [len(text.NATURAL_QUESTIONS), len(text.NATURAL_ANSWERS)]
    return t["answer"]


NUM = r"(-?\d+\.\d+)"
DIST = r"(\d+\.\d+) m"
WORD_SIGN = {"above the base": 1, "below the base": -1, "in front of it": 1, "behind it": -1, "to its left": 1, "to its right": -1}


def parse_position(template: int, a: str) -> tuple[np.ndarray, int]:
    """(x, y, z) [m] read back from an answer, and the decimals they were printed with."""
    if template == 0:
        m = re.search(rf"x={NUM} m, y={NUM} m, z={NUM} m in the base frame", a)
        return np.array([float(v) for v in m.groups()]), 3
    if template == 1:
        m = re.search(rf"tool centre at \({NUM}, {NUM}, {NUM}\) m", a, re.IGNORECASE)
        return np.array([float(v) for v in m.groups()]), 3
    m = re.search(rf"sits {DIST} (above the base|below the base), {DIST} (in front of it|behind it) and {DIST} (to its left|to its right)\.", a)
    assert m, a
    z, zw, x, xw, y, yw = m.groups()
    return np.array([float(x) * WORD_SIGN[xw], float(y) * WORD_SIGN[yw], float(z) * WORD_SIGN[zw]]), 2


def test_every_template_is_parsed():
    assert len(text.NATURAL_ANSWERS) == 3  # a new template needs its parser above
    assert len(text.NATURAL_ANSWERS_NO_GRIPPER) == 3


@pytest.mark.parametrize("has_gripper", [True, False])
@pytest.mark.parametrize("template", range(len(text.NATURAL_ANSWERS)))
@pytest.mark.parametrize("axis", range(3))
def test_each_axis_reads_back_for_every_sign(template, axis, has_gripper):
    for v in VALUES:
        pos = [0.3, 0.2, 0.5]
        pos[axis] = v
        a = answer(template, pos, has_gripper=has_gripper)
        back, digits = parse_position(template, a)
        np.testing.assert_allclose(back, pos, rtol=0, atol=0.5 * 10.0**-digits + 1e-12, err_msg=a)


@pytest.mark.parametrize("has_gripper", [True, False])
@pytest.mark.parametrize("template", range(len(text.NATURAL_ANSWERS)))
def test_all_sign_combinations(template, has_gripper):
    for pos in itertools.product((0.35, -0.17, 0.0), (0.46, -0.46, 0.0), (0.29, -0.05, 0.0)):
        a = answer(template, pos, has_gripper=has_gripper)
        back, digits = parse_position(template, a)
        np.testing.assert_allclose(back, pos, rtol=0, atol=0.5 * 10.0**-digits + 1e-12, err_msg=a)
        # No minus sign before a direction word, and none on a value that prints as zero.
        assert not re.search(r"-\d+(\.\d+)? m (above|below|in front|behind|to its|forward|to the side)", a), a
        assert not re.search(r"(?<![\d.])-0(\.0+)?(?![\d.])", a), a


def test_the_issue_example_reads_right():
    a = answer(2, [-0.17, -0.46, 0.29])
    assert "0.29 m above the base, 0.17 m behind it and 0.46 m to its right." in a, a
    assert "-" not in a.split("Its orientation")[0]
    a = answer(2, [0.41, 0.14, -0.05])
    assert "0.05 m below the base, 0.41 m in front of it and 0.14 m to its left." in a, a


@pytest.mark.parametrize("has_gripper", [True, False])
@pytest.mark.parametrize("template", range(len(text.NATURAL_ANSWERS)))
def test_angles_and_width_near_zero_have_no_minus_zero(template, has_gripper):
    a = answer(template, [-0.0001, -0.0001, -0.0001], euler=EULER_NEAR_ZERO, width=-1e-9, has_gripper=has_gripper)
    assert not re.search(r"(?<![\d.])-0(\.0+)?(?![\d.])", a), a
    assert "-0°" not in a and "0°" in a


@pytest.mark.parametrize("has_gripper", [True, False])
@pytest.mark.parametrize("template", range(len(text.NATURAL_ANSWERS)))
def test_angles_read_back_to_a_degree(template, has_gripper):
    a = answer(template, [0.3, -0.2, 0.5], has_gripper=has_gripper)
    if template == 1:
        degs = [float(v) for v in re.search(r"roll/pitch/yaw = (-?\d+)°/(-?\d+)°/(-?\d+)°", a).groups()]
    else:
        degs = [float(re.search(rf"{n} (-?\d+)°", a).group(1)) for n in ("roll", "pitch", "yaw")]
    np.testing.assert_allclose(degs, np.rad2deg(EULER), atol=0.5 + 1e-9, err_msg=a)


def test_two_draws_in_the_same_order_as_before():
    """Determinism: the text takes exactly rng.integers(4) then rng.integers(3) from the shard's generator."""
    for seed in range(50):
        rng, ref = np.random.default_rng(seed), np.random.default_rng(seed)
        t = text.natural_text(rng=rng, ee_pos=np.array([0.3, -0.2, 0.1]), ee_euler_xyz=EULER, gripper_open=True, gripper_width=0.05)
        qi, ai = int(ref.integers(len(text.NATURAL_QUESTIONS))), int(ref.integers(len(text.NATURAL_ANSWERS)))
        assert rng.bit_generator.state == ref.bit_generator.state
        assert t["question"] == text.NATURAL_QUESTIONS[qi]
        assert t["answer"] == answer(ai, [0.3, -0.2, 0.1], width=0.05)
    assert len(text.NATURAL_QUESTIONS) == 4 and len(text.NATURAL_ANSWERS) == 3
