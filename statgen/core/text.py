"""Text for a sample: the ROSA question/answer and paraphrased natural-language ones."""

from __future__ import annotations

import numpy as np

ROSA_QUESTION = "What is the current state of the robot?"

NATURAL_QUESTIONS = (
    "Where is the robot's end effector, and is its gripper open?",
    "Describe the pose of the gripper relative to the robot base.",
    "What is the position and orientation of the end effector?",
    "Report the robot's end-effector state.",
)

# Fields: x y z [m]; roll pitch yaw [deg]; gripper in words; width [cm].
NATURAL_ANSWERS = (
    "The end effector is at x={x:.3f} m, y={y:.3f} m, z={z:.3f} m in the base frame, "
    "with roll {roll:.0f}°, pitch {pitch:.0f}° and yaw {yaw:.0f}°. The gripper is {gripper} ({width:.1f} cm).",
    "Gripper {gripper}, {width:.1f} cm wide; tool centre at ({x:.3f}, {y:.3f}, {z:.3f}) m; "
    "roll/pitch/yaw = {roll:.0f}°/{pitch:.0f}°/{yaw:.0f}°.",
    "The tool centre point sits {z:.2f} m above the base, {x:.2f} m forward and {y:.2f} m to the side. "
    "Its orientation is roll {roll:.0f}°, pitch {pitch:.0f}°, yaw {yaw:.0f}°, and the gripper is {gripper}.",
)


def natural_text(
    *, rng: np.random.Generator, ee_pos: np.ndarray, ee_euler_xyz: np.ndarray, gripper_open: bool, gripper_width: float
) -> dict[str, str]:
    """A paraphrased question/answer pair; the template choice comes from `rng` (2 draws)."""
    q = NATURAL_QUESTIONS[int(rng.integers(len(NATURAL_QUESTIONS)))]
    a = NATURAL_ANSWERS[int(rng.integers(len(NATURAL_ANSWERS)))]
    roll, pitch, yaw = np.rad2deg(ee_euler_xyz)
    answer = a.format(
        x=ee_pos[0], y=ee_pos[1], z=ee_pos[2], roll=roll, pitch=pitch, yaw=yaw,
        gripper="open" if gripper_open else "closed", width=gripper_width * 100.0,
    )
    return {"question": q, "answer": answer}
