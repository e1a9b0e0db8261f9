"""ROSA binning (statgen.core.rosa) and the natural-language text (statgen.core.text).

Bins are recomputed by hand from DESIGN.md's rule
b = clip(floor((v - min) / (max - min) * 255), 0, 255); decoding v = min + b / 255 * (max - min).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from statgen.core import rosa, text

# DESIGN.md's example ranges (the Panda's): x y z [m], roll pitch yaw [rad], gripper.
RANGES = np.array(
    [[-0.2, 0.9], [-0.6, 0.6], [-0.1, 1.0], [-3.1416, 3.1416], [-1.5708, 1.5708], [-3.1416, 3.1416], [0.0, 1.0]]
)
LO, HI = RANGES[:, 0], RANGES[:, 1]
WIDTH = (HI - LO) / 255  # one bin [m or rad]
N_RANDOM = 5000
# Decoding rounds down to the bin's lower edge: the error is in [0, WIDTH). The float
# slack covers the division/multiplication round-off (~1e-16 relative).
FLOAT_SLACK = 1e-12


def test_constants():
    assert rosa.DIMS == ("x", "y", "z", "roll", "pitch", "yaw", "gripper")
    assert rosa.BINS == 256


def test_min_is_bin_0_and_max_is_bin_255():
    np.testing.assert_array_equal(rosa.to_bins(LO, RANGES), [0] * 7)
    np.testing.assert_array_equal(rosa.to_bins(HI, RANGES), [255] * 7)


def test_just_below_max_is_254():
    # half a bin below max: (255 - 0.5) -> floor 254
    np.testing.assert_array_equal(rosa.to_bins(HI - 0.5 * WIDTH, RANGES), [254] * 7)
    # one part in a million below max: still 254 (floor, not round)
    np.testing.assert_array_equal(rosa.to_bins(HI - 1e-6 * (HI - LO), RANGES), [254] * 7)


def test_out_of_range_is_clipped():
    np.testing.assert_array_equal(rosa.to_bins(LO - 0.3, RANGES), [0] * 7)
    np.testing.assert_array_equal(rosa.to_bins(LO - 1e-9, RANGES), [0] * 7)  # floor(-tiny) = -1 -> clip
    np.testing.assert_array_equal(rosa.to_bins(HI + 0.3, RANGES), [255] * 7)
    np.testing.assert_array_equal(rosa.to_bins(HI + 100.0, RANGES), [255] * 7)


def test_middle_values_by_hand():
    v = np.array([0.35, 0.1, 0.2, 1.0, -0.5, -2.0, 1.0])
    # x: (0.35 + 0.2) / 1.1 * 255 = 127.5           -> 127
    # y: (0.1 + 0.6) / 1.2 * 255 = 148.75           -> 148
    # z: (0.2 + 0.1) / 1.1 * 255 = 69.545...        -> 69
    # roll: (1 + 3.1416) / 6.2832 * 255 = 168.08... -> 168
    # pitch: (-0.5 + 1.5708) / 3.1416 * 255 = 86.91... -> 86
    # yaw: (-2 + 3.1416) / 6.2832 * 255 = 46.33...  -> 46
    # gripper 1 -> 255
    np.testing.assert_array_equal(rosa.to_bins(v, RANGES), [127, 148, 69, 168, 86, 46, 255])


def test_bins_are_ints():
    b = rosa.to_bins(np.array([0.35, 0.1, 0.2, 1.0, -0.5, -2.0, 1.0]), RANGES)
    assert b.shape == (7,)
    assert np.issubdtype(b.dtype, np.integer)


@pytest.mark.parametrize("is_open, expected", [(True, 255), (False, 0)])
def test_gripper_dimension_is_binary(is_open, expected):
    vec = rosa.rosa_vector(ee_pos=np.array([0.3, 0.0, 0.4]), ee_euler_xyz=np.array([3.0, 0.1, -0.2]), gripper_open=is_open)
    assert vec.shape == (7,)
    np.testing.assert_array_equal(vec[:6], [0.3, 0.0, 0.4, 3.0, 0.1, -0.2])
    assert vec[6] == (1.0 if is_open else 0.0)
    assert rosa.to_bins(vec, RANGES)[6] == expected


def test_decoding_is_within_one_bin():
    rng = np.random.default_rng(7)
    v = rng.uniform(LO, HI, size=(N_RANDOM, 7))
    for row in v:
        b = rosa.to_bins(row, RANGES)
        back = rosa.from_bins(b, RANGES)
        err = row - back
        assert np.all(err >= -FLOAT_SLACK), (row, b, back)  # floor: decoded value is the bin's lower edge
        assert np.all(err < WIDTH + FLOAT_SLACK), (row, b, back)


def test_from_bins_by_hand():
    b = np.array([0, 255, 51, 0, 255, 102, 255])
    # x: -0.2; y: 0.6; z: -0.1 + 51/255 * 1.1 = 0.12; roll -3.1416; pitch 1.5708;
    # yaw: -3.1416 + 102/255 * 6.2832 = -0.62832; gripper 1
    np.testing.assert_allclose(rosa.from_bins(b, RANGES), [-0.2, 0.6, 0.12, -3.1416, 1.5708, -0.62832, 1.0], atol=1e-12)


def test_format_tokens():
    s = rosa.format_tokens(np.array([183, 180, 36, 0, 127, 49, 255]))
    assert s == "183 180 36 0 127 49 255"
    b = rosa.to_bins(np.array([0.35, 0.1, 0.2, 1.0, -0.5, -2.0, 0.0]), RANGES)
    s = rosa.format_tokens(b)
    assert re.fullmatch(r"\d+( \d+){6}", s), s
    assert [int(t) for t in s.split(" ")] == [127, 148, 69, 168, 86, 46, 0]


# ----------------------------------------------------------------------------- natural text

POSE = dict(ee_pos=np.array([0.412, -0.137, 0.285]), ee_euler_xyz=np.array([3.0, -0.2, 0.5]), gripper_width=0.0612)


def test_natural_text_same_seed_same_text():
    for seed in range(20):
        a = text.natural_text(rng=np.random.default_rng(seed), gripper_open=True, **POSE)
        b = text.natural_text(rng=np.random.default_rng(seed), gripper_open=True, **POSE)
        assert a == b


def test_natural_text_draws_from_the_given_rng_only():
    state = np.random.get_state()
    rng = np.random.default_rng(3)
    fresh = np.random.default_rng(3)
    text.natural_text(rng=rng, gripper_open=False, **POSE)
    assert rng.bit_generator.state != fresh.bit_generator.state, "natural_text did not consume any draw"
    # the global numpy RNG is untouched
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]


def test_natural_text_choice_depends_on_the_rng():
    questions, answers = set(), set()
    for seed in range(60):
        t = text.natural_text(rng=np.random.default_rng(seed), gripper_open=True, **POSE)
        questions.add(t["question"])
        answers.add(t["answer"])
    assert len(questions) > 1 and len(answers) > 1
    assert questions <= set(text.NATURAL_QUESTIONS)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("is_open", [True, False])
def test_natural_answer_carries_the_state(seed, is_open):
    t = text.natural_text(rng=np.random.default_rng(seed), gripper_open=is_open, **POSE)
    a = t["answer"]
    if is_open:
        assert "open" in a and "closed" not in a
    else:
        assert "closed" in a and "open" not in a
    # every template gives roll/pitch/yaw in whole degrees: 3.0 rad = 171.887 deg -> 172
    assert "172°" in a and "-11°" in a and "29°" in a
    # and z, to at least 2 decimals (0.285 m)
    assert "0.28" in a or "0.29" in a


def test_rosa_question():
    assert text.ROSA_QUESTION == "What is the current state of the robot?"
