"""Text for a sample: the ROSA question/answer and paraphrased natural-language ones.

Positions are in the robot base frame: x forward, y to the robot's left, z up (DESIGN.md).
Templates that print coordinates print them signed ("x=-0.170 m"); templates that print
distances in words print a magnitude and the word for its sign ("0.17 m behind it"), so a
negative value never reads as "-0.17 m forward". A value that rounds to zero at the printed
precision prints without a sign ("0.000", "0°", "0.00 m above the base").
"""

from __future__ import annotations

import numpy as np

ROSA_QUESTION = "What is the current state of the robot?"

NATURAL_QUESTIONS = (
    "Where is the robot's end effector, and is its gripper open?",
    "Describe the pose of the gripper relative to the robot base.",
    "What is the position and orientation of the end effector?",
    "Report the robot's end-effector state.",
)

# Fields: x y z [m] signed coordinates; up fwd side: distances in words (see _words);
# roll pitch yaw [deg]; gripper in words; width [cm].
NATURAL_ANSWERS = (
    "The end effector is at x={x3} m, y={y3} m, z={z3} m in the base frame, "
    "with roll {roll}°, pitch {pitch}° and yaw {yaw}°. The gripper is {gripper} ({width} cm).",
    "Gripper {gripper}, {width} cm wide; tool centre at ({x3}, {y3}, {z3}) m; "
    "roll/pitch/yaw = {roll}°/{pitch}°/{yaw}°.",
    "The tool centre point sits {up}, {fwd} and {side}. "
    "Its orientation is roll {roll}°, pitch {pitch}°, yaw {yaw}°, and the gripper is {gripper}.",
)

# For an arm without a gripper: the same templates with no gripper in them, as many of
# each (same rng.integers(n) calls, so the draws are the same as for an arm with a gripper).
NATURAL_QUESTIONS_NO_GRIPPER = (
    "Where is the robot's end effector, and how is it oriented?",
    "Describe the pose of the end effector relative to the robot base.",
    "What is the position and orientation of the end effector?",
    "Report the robot's end-effector state.",
)
NATURAL_ANSWERS_NO_GRIPPER = (
    "The end effector is at x={x3} m, y={y3} m, z={z3} m in the base frame, "
    "with roll {roll}°, pitch {pitch}° and yaw {yaw}°.",
    "Tool centre at ({x3}, {y3}, {z3}) m; roll/pitch/yaw = {roll}°/{pitch}°/{yaw}°.",
    "The tool centre point sits {up}, {fwd} and {side}. "
    "Its orientation is roll {roll}°, pitch {pitch}°, yaw {yaw}°.",
)
assert len(NATURAL_QUESTIONS_NO_GRIPPER) == len(NATURAL_QUESTIONS) and len(NATURAL_ANSWERS_NO_GRIPPER) == len(NATURAL_ANSWERS)

WORDS_DIGITS = 2  # decimals of the distances in words [m]
# Base-frame axis -> (word for >= 0, word for < 0), each after "<magnitude> m ".
# x is forward, y is to the robot's left, z is up.
AXIS_WORDS = {
    "up": ("above the base", "below the base"),  # z
    "fwd": ("in front of it", "behind it"),  # x
    "side": ("to its left", "to its right"),  # y
}


def signed(v: float, digits: int) -> str:
    """`v` with `digits` decimals, without the sign of a value that rounds to zero ("-0.000" -> "0.000")."""
    s = f"{v:.{digits}f}"
    return s[1:] if s.startswith("-") and float(s) == 0.0 else s


def in_words(v: float, words: tuple[str, str], *, digits: int = WORDS_DIGITS) -> str:
    """A signed distance [m] as '<magnitude> m <word>': words = (for >= 0, for < 0).

    The word follows the printed value: one that rounds to zero takes the non-negative word.
    """
    s = signed(v, digits)
    return f"{s.lstrip('-')} m {words[1] if s.startswith('-') else words[0]}"


def natural_text(
    *, rng: np.random.Generator, ee_pos: np.ndarray, ee_euler_xyz: np.ndarray, gripper_open: bool, gripper_width: float,
    has_gripper: bool = True,
) -> dict[str, str]:
    """A paraphrased question/answer pair; the template choice comes from `rng` (2 draws).

    ee_pos: (3,) [m] in the base frame; ee_euler_xyz: (3,) [rad]; gripper_width [m].
    has_gripper=False picks from the templates that name no gripper (gripper_open and
    gripper_width are then unused), with the same two draws.
    """
    questions, answers = (NATURAL_QUESTIONS, NATURAL_ANSWERS) if has_gripper else (NATURAL_QUESTIONS_NO_GRIPPER, NATURAL_ANSWERS_NO_GRIPPER)
    q = questions[int(rng.integers(len(questions)))]
    a = answers[int(rng.integers(len(answers)))]
    x, y, z = (float(v) for v in ee_pos)
    roll, pitch, yaw = (signed(float(v), 0) for v in np.rad2deg(ee_euler_xyz))
    answer = a.format(
        x3=signed(x, 3), y3=signed(y, 3), z3=signed(z, 3),
        up=in_words(z, AXIS_WORDS["up"]), fwd=in_words(x, AXIS_WORDS["fwd"]), side=in_words(y, AXIS_WORDS["side"]),
        roll=roll, pitch=pitch, yaw=yaw,
        gripper="open" if gripper_open else "closed", width=signed(gripper_width * 100.0, 1),
    )
    return {"question": q, "answer": answer}


# --------------------------------------------------------------------------- trajectory kinds (docs/FORMAT.md, "Text")
# One fixed wording each (no draws from the configuration stream). {state} and {action} are ROSA token strings.

ACTION_QUESTION = "What is the next action of the robot?"
FORWARD_QUESTION = "The robot takes the action {action}. What will the state of the robot be?"
INVERSE_QUESTION = "Which action brings the robot to the state {state}?"


def transition_text(kind: str, *, action_tokens: str, next_state_tokens: str) -> tuple[str, str]:
    """(question, answer) of a trajectory kind: action (answer: the action's tokens), forward (given the action's
    tokens, answer: the next state's tokens), inverse (given the next state's tokens, answer: the action's)."""
    if kind == "action":
        return ACTION_QUESTION, action_tokens
    if kind == "forward":
        return FORWARD_QUESTION.format(action=action_tokens), next_state_tokens
    if kind == "inverse":
        return INVERSE_QUESTION.format(state=next_state_tokens), action_tokens
    raise ValueError(f"unknown trajectory text kind {kind!r}; valid: action, forward, inverse")
