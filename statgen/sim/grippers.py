"""Gripper joint positions that satisfy the model's equality constraints.

A gripper whose joints are coupled by equality constraints (a `<connect>` closing a
four-bar linkage, as in the Robotiq 2F-85; a `<joint>` coupling, as in the WidowX AI's
carriages; a `<tendon>` equality) renders wrongly when its driver joints are set one by
one and the rest left where they were: MuJoCo's kinematics does not enforce equalities,
only the dynamics does, and only approximately (soft constraints).

`GripperSolver` maps an opening fraction in [0, 1] (0 closed, 1 open) to positions of
every gripper joint:
  - driver joints: linear between `closed` and `open`, exactly the expression statgen's
    sampler uses (`closed + f * (open - closed)`), so a gripper with no coupled joints
    gets bit-identical values;
  - held joints: fixed values (the 2F-85's couplers rest on their upper limit, 0, in
    free space: the remaining degree of freedom of its under-actuated fingers);
  - coupled joints: solved from the equality constraints by Gauss-Newton on the
    constraint rows MuJoCo builds (`mj_makeConstraint`: efc_pos, efc_J), moving only
    those joints, once per compiled model on a table of openings. At sample time they
    are interpolated linearly from the table (a few microseconds, no iterations).

The table is refined (more points) until the constraint residual at the midpoints
between table points is below `TABLE_TOLERANCE`; its worst midpoint residual is kept in
`GripperSolver.table_residual`. Everything here is a pure function of the compiled
model; the solver allocates its own scratch MjData and never writes to the caller's.

Units: joint positions in rad (hinge) or m (slide); residuals in m for connect rows,
rad or m for joint and tendon rows (MuJoCo's efc_pos).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import mujoco
import numpy as np

from statgen.errors import ConfigError

__all__ = [
    "GN_TOLERANCE",
    "TABLE_TOLERANCE",
    "GripperSolver",
    "equality_residuals",
]

GN_TOLERANCE = 1e-10  # Gauss-Newton stops when every residual is below this [m or rad]
GN_MAX_ITER = 50
TABLE_TOLERANCE = 1e-6  # worst residual between table points [m or rad]
TABLE_POINTS = 81  # first table size; doubled (minus one) until TABLE_TOLERANCE holds
TABLE_MAX_POINTS = 5121

_EQ_TYPE = int(mujoco.mjtConstraint.mjCNSTR_EQUALITY)
_HINGE_SLIDE = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))


def _joint_ids(model: mujoco.MjModel, names: Sequence[str], what: str) -> np.ndarray:
    ids = []
    for name in names:
        j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if j < 0:
            valid = ", ".join(model.joint(k).name for k in range(model.njnt))
            raise ConfigError(f"gripper: {what} joint {name!r} is not in the model; valid joints: {valid}")
        if int(model.jnt_type[j]) not in _HINGE_SLIDE:
            raise ConfigError(f"gripper: {what} joint {name!r}: expected a hinge or slide joint, got {mujoco.mjtJoint(int(model.jnt_type[j])).name}")
        ids.append(j)
    return np.array(ids, dtype=int)


def _constraints(model: mujoco.MjModel, data: mujoco.MjData) -> None:
    """Positions, com-based Jacobian data, tendons and constraint rows, without collision."""
    mujoco.mj_kinematics(model, data)
    mujoco.mj_comPos(model, data)
    mujoco.mj_tendon(model, data)
    data.ncon = 0  # no contact rows: only the equality rows are read
    mujoco.mj_makeConstraint(model, data)


def _dense_J(model: mujoco.MjModel, data: mujoco.MjData) -> np.ndarray:
    if mujoco.mj_isSparse(model):
        J = np.zeros((data.nefc, model.nv))
        mujoco.mju_sparse2dense(J, data.efc_J, data.efc_J_rownnz, data.efc_J_rowadr, data.efc_J_colind)
        return J
    return data.efc_J[: data.nefc * model.nv].reshape(data.nefc, model.nv)


def _rows(model: mujoco.MjModel, data: mujoco.MjData, eq_ids: np.ndarray) -> np.ndarray:
    n = data.nefc
    return np.flatnonzero((data.efc_type[:n] == _EQ_TYPE) & np.isin(data.efc_id[:n], eq_ids))


def _touching_equalities(model: mujoco.MjModel, data: mujoco.MjData, dofs: np.ndarray) -> np.ndarray:
    """Ids of the active equalities whose rows move with any of `dofs` (at data's qpos)."""
    _constraints(model, data)
    n = data.nefc
    eq = np.flatnonzero(data.efc_type[:n] == _EQ_TYPE)
    if len(eq) == 0 or len(dofs) == 0:
        return np.zeros(0, dtype=int)
    J = _dense_J(model, data)[eq][:, dofs]
    return np.unique(data.efc_id[eq[np.any(J != 0, axis=1)]]).astype(int)


def equality_residuals(model: mujoco.MjModel, qpos: np.ndarray, *, joints: Sequence[str]) -> np.ndarray:
    """|efc_pos| of the active equality constraints that involve `joints`, at `qpos` (nq,).

    One entry per constraint row: 3 per connect [m], 1 per joint or tendon equality
    [rad or m]; empty when none involves them. Allocates a scratch MjData.
    """
    ids = _joint_ids(model, joints, "residual")
    data = mujoco.MjData(model)
    data.qpos[:] = np.asarray(qpos, dtype=float)
    eq_ids = _touching_equalities(model, data, model.jnt_dofadr[ids])
    _constraints(model, data)
    return np.abs(data.efc_pos[_rows(model, data, eq_ids)]).copy()


@dataclass(frozen=True)
class GripperSolver:
    """Opening fraction -> positions of all gripper joints, consistent with the equalities.

    joints: driver joints, then held joints, then coupled joints (names).
    qpos_adr: (n,) their addresses in qpos: `data.qpos[s.qpos_adr] = s.qpos(f)`.
    grid: (k,) openings of the table; table: (k, n_coupled) coupled joint positions.
    table_residual: the worst constraint residual found between table points.
    """

    joints: tuple[str, ...]
    qpos_adr: np.ndarray
    closed: np.ndarray  # (n_driver,)
    open: np.ndarray  # (n_driver,)
    held: np.ndarray  # (n_held,)
    grid: np.ndarray  # (k,)
    table: np.ndarray  # (k, n_coupled)
    table_residual: float
    n_driver: int

    @classmethod
    def from_model(
        cls,
        model: mujoco.MjModel,
        *,
        driver_joints: Sequence[str],
        closed: Sequence[float],
        open: Sequence[float],  # noqa: A002 - the robot TOML's name
        coupled_joints: Sequence[str] = (),
        held: Mapping[str, float] | None = None,
    ) -> GripperSolver:
        """Build the solver (and its table) for one compiled model.

        driver_joints, closed, open: the joints the opening drives and their values at
        0 and 1. held: joint -> fixed value. coupled_joints: joints solved from the
        equalities. Every other joint keeps the value it has in the caller's qpos; the
        table is built with the other joints at qpos0 (equalities inside a gripper do
        not depend on the arm's pose). Raises ConfigError when the listed joints leave
        an equality that involves them violated (a coupled joint missing from the list),
        or when the constraints cannot be met.
        """
        held = dict(held or {})
        drivers = _joint_ids(model, driver_joints, "driver")
        held_ids = _joint_ids(model, list(held), "held")
        coupled = _joint_ids(model, coupled_joints, "coupled")
        all_ids = np.concatenate([drivers, held_ids, coupled])
        names = (*driver_joints, *held, *coupled_joints)
        if len(set(all_ids.tolist())) != len(all_ids):
            raise ConfigError(f"gripper: expected each joint once among driver, held and coupled joints, got {list(names)}")
        closed_a, open_a = np.asarray(closed, dtype=float), np.asarray(open, dtype=float)
        if closed_a.shape != (len(drivers),) or open_a.shape != (len(drivers),):
            raise ConfigError(f"gripper: expected {len(drivers)} closed and open values (one per driver joint), got {closed_a.size} and {open_a.size}")
        held_a = np.array([float(v) for v in held.values()], dtype=float)
        adr = model.jnt_qposadr[all_ids].astype(int)
        data = mujoco.MjData(model)
        work = _Work(model=model, data=data, adr=adr, n_driver=len(drivers), n_held=len(held_ids),
                     closed=closed_a, open=open_a, held=held_a)
        eq_ids = _touching_equalities(model, data, model.jnt_dofadr[all_ids])
        work.eq_ids = eq_ids
        work.free_dofs = model.jnt_dofadr[coupled].astype(int)

        if len(coupled) == 0:
            grid, table = np.array([0.0, 1.0]), np.zeros((2, 0))
            worst = max(work.residual_at(f, np.zeros(0)) for f in np.linspace(0.0, 1.0, 11))
            if worst > TABLE_TOLERANCE:
                raise ConfigError(_missing_message(model, eq_ids, all_ids, worst))
            return cls(joints=names, qpos_adr=adr, closed=closed_a, open=open_a, held=held_a,
                       grid=grid, table=table, table_residual=float(worst), n_driver=len(drivers))

        # Start at the end of the sweep nearest qpos0 (the model's rest pose), then march.
        q0 = model.qpos0[adr[: len(drivers)]]
        start_open = np.linalg.norm(open_a - q0) < np.linalg.norm(closed_a - q0)
        k = TABLE_POINTS
        while True:
            grid = np.linspace(0.0, 1.0, k)
            table = np.zeros((k, len(coupled)))
            guess = model.qpos0[adr[len(drivers) + len(held_ids):]].copy()
            order = range(k - 1, -1, -1) if start_open else range(k)
            for i in order:
                guess = work.solve(grid[i], guess)
                table[i] = guess
            mid = (grid[:-1] + grid[1:]) / 2
            worst = max(work.residual_at(f, (table[i] + table[i + 1]) / 2) for i, f in enumerate(mid))
            if worst <= TABLE_TOLERANCE or k >= TABLE_MAX_POINTS:
                break
            k = 2 * k - 1
        if worst > TABLE_TOLERANCE:
            raise ConfigError(f"gripper: interpolating {k} table points leaves constraint residuals up to {worst:.2e}; expected below {TABLE_TOLERANCE:.0e}")
        return cls(joints=names, qpos_adr=adr, closed=closed_a, open=open_a, held=held_a,
                   grid=grid, table=table, table_residual=float(worst), n_driver=len(drivers))

    def qpos(self, open_fraction: float) -> np.ndarray:
        """(n,) positions of `joints` at an opening in [0, 1] (clipped)."""
        f = float(open_fraction)
        if not np.isfinite(f):
            raise ConfigError(f"expected an open fraction in [0, 1], got {open_fraction!r}")
        f = min(max(f, 0.0), 1.0)
        q_drive = self.closed + f * (self.open - self.closed)
        if self.table.shape[1] == 0:
            return np.concatenate([q_drive, self.held])
        u = f * (len(self.grid) - 1)
        i = min(int(u), len(self.grid) - 2)
        w = u - i
        return np.concatenate([q_drive, self.held, (1.0 - w) * self.table[i] + w * self.table[i + 1]])

    def apply(self, data: mujoco.MjData, open_fraction: float) -> None:
        """Write the gripper joints of `data.qpos` for `open_fraction` (no kinematics is run)."""
        data.qpos[self.qpos_adr] = self.qpos(open_fraction)

    def fraction(self, q_drivers: np.ndarray) -> float:
        """The opening (clipped to [0, 1]) of driver positions (n_driver,): the mean over drivers
        of (q - closed) / (open - closed), as statgen's gripper_open_fraction label."""
        q = np.asarray(q_drivers, dtype=float)
        span = self.open - self.closed
        moving = span != 0
        if q.shape != self.closed.shape or not moving.any():
            raise ConfigError(f"expected {self.n_driver} driver positions of a gripper that opens, got {q.shape[0] if q.ndim else 'a scalar'}")
        return float(np.clip(np.mean((q[moving] - self.closed[moving]) / span[moving]), 0.0, 1.0))

    def apply_drivers(self, data: mujoco.MjData, q_drivers: np.ndarray) -> None:
        """Write driver positions exactly as given (a stored state.qpos) and the held and coupled
        joints that go with them (from `fraction`); no kinematics is run."""
        q = np.asarray(q_drivers, dtype=float)
        full = self.qpos(self.fraction(q))
        full[: self.n_driver] = q
        data.qpos[self.qpos_adr] = full


@dataclass
class _Work:
    """Scratch state of a solver under construction."""

    model: mujoco.MjModel
    data: mujoco.MjData
    adr: np.ndarray
    n_driver: int
    n_held: int
    closed: np.ndarray
    open: np.ndarray
    held: np.ndarray
    eq_ids: np.ndarray = None  # type: ignore[assignment]
    free_dofs: np.ndarray = None  # type: ignore[assignment]

    def _set(self, f: float, coupled: np.ndarray) -> None:
        q = np.concatenate([self.closed + f * (self.open - self.closed), self.held, coupled])
        self.data.qpos[:] = self.model.qpos0
        self.data.qpos[self.adr] = q

    def residual_at(self, f: float, coupled: np.ndarray) -> float:
        self._set(f, coupled)
        _constraints(self.model, self.data)
        rows = _rows(self.model, self.data, self.eq_ids)
        return float(np.abs(self.data.efc_pos[rows]).max()) if len(rows) else 0.0

    def solve(self, f: float, guess: np.ndarray) -> np.ndarray:
        m, d = self.model, self.data
        q = guess.copy()
        worst = np.inf
        for _ in range(GN_MAX_ITER):
            self._set(f, q)
            _constraints(m, d)
            rows = _rows(m, d, self.eq_ids)
            r = d.efc_pos[rows]
            worst = float(np.abs(r).max()) if len(rows) else 0.0
            if worst < GN_TOLERANCE:
                return q
            J = _dense_J(m, d)[rows][:, self.free_dofs]
            q = q - np.linalg.lstsq(J, r, rcond=None)[0]
        if worst > TABLE_TOLERANCE:
            raise ConfigError(f"gripper: the equality constraints cannot be met at opening {f:.4f} (residual {worst:.2e} after {GN_MAX_ITER} Gauss-Newton steps); expected below {GN_TOLERANCE:.0e}: check the held values and the coupled joints")
        return q


def _missing_message(model: mujoco.MjModel, eq_ids: np.ndarray, listed: np.ndarray, worst: float) -> str:
    """Which joints of the violated equalities are not listed, in one line."""
    missing: list[str] = []
    for e in eq_ids:
        if int(model.eq_type[e]) == int(mujoco.mjtEq.mjEQ_JOINT):
            for j in (int(model.eq_obj1id[e]), int(model.eq_obj2id[e])):
                if j >= 0 and j not in listed and model.joint(j).name not in missing:
                    missing.append(model.joint(j).name)
    hint = f"add {', '.join(missing)} to the gripper joints" if missing else "list the joints these equalities couple as coupled joints"
    return f"gripper: the listed joints leave equality constraints violated by up to {worst:.2e}; expected below {TABLE_TOLERANCE:.0e}: {hint}"
