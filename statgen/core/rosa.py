"""ROSA binning: every state dimension becomes an integer token in 0..bins-1."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

DIMS = ("x", "y", "z", "roll", "pitch", "yaw", "gripper")
BINS = 256


class RosaRanges(NamedTuple):
    """Per-dimension [min, max] for DIMS, shape (7, 2)."""

    ranges: tuple[tuple[float, float], ...]

    def as_array(self) -> np.ndarray:
        return np.asarray(self.ranges, dtype=float)


def rosa_vector(*, ee_pos: np.ndarray, ee_euler_xyz: np.ndarray, gripper_open: bool) -> np.ndarray:
    """The 7-D state [x, y, z, roll, pitch, yaw, gripper]; the gripper is 1 when open, else 0."""
    return np.concatenate([ee_pos, ee_euler_xyz, [1.0 if gripper_open else 0.0]])


def to_bins(values: np.ndarray, ranges: np.ndarray, *, bins: int = BINS) -> np.ndarray:
    """b = clip(floor((v - min) / (max - min) * (bins - 1)), 0, bins - 1), as int (7,)."""
    values = np.asarray(values, dtype=float)
    lo, hi = ranges[:, 0], ranges[:, 1]
    b = np.floor((values - lo) / (hi - lo) * (bins - 1))
    return np.clip(b, 0, bins - 1).astype(int)


def from_bins(tokens: np.ndarray, ranges: np.ndarray, *, bins: int = BINS) -> np.ndarray:
    """v = min + b / (bins - 1) * (max - min): the decoding, off by less than one bin."""
    lo, hi = ranges[:, 0], ranges[:, 1]
    return lo + np.asarray(tokens, dtype=float) / (bins - 1) * (hi - lo)


def format_tokens(tokens: np.ndarray) -> str:
    """'183 180 36 0 127 49 255'."""
    return " ".join(str(int(t)) for t in tokens)
