"""What a worker is given and gives back: the Job (config, robot, task, model), the shard plan, a shard's result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from statgen.config import GenerateConfig, RobotSpec, TaskSpec
from statgen.schema import Acceptance, ShardInfo
from statgen.sim.assets import ResolvedModel
from statgen.sim.library import UserFiles


@dataclass(frozen=True)
class Job:
    """Everything a worker needs; picklable, shipped once through Ray's object store."""

    config: GenerateConfig
    robot: RobotSpec
    task: TaskSpec
    model: ResolvedModel
    user_files: UserFiles | None = None  # randomize.texture_dir and mesh_dir, read on the driver

    @property
    def rosa_ranges(self) -> np.ndarray:
        return np.array(self.config.rosa_ranges or self.robot.rosa_ranges, dtype=float)


@dataclass(frozen=True)
class ShardPlan:
    shard: int
    first_index: int
    count: int


@dataclass
class ShardResult:
    info: ShardInfo
    acceptance: Acceptance
    gl_renderer: str = ""
    peak_rss_mb: float = 0.0  # the worker process's peak resident memory so far
    index_sha256: str = ""
    worker_pid: int = 0
    seconds: tuple[float, float] = (0.0, 0.0)  # wall clock [s since the epoch] when the shard started and finished
    cpu_seconds: float = 0.0  # CPU time the worker process spent on the shard, all its threads [s] (bench/looks.py)

    def log_extra(self) -> dict[str, Any]:
        """What _run/shards.jsonl records of the shard beside its ShardInfo."""
        return {"acceptance": self.acceptance.as_dict(), "gl_renderer": self.gl_renderer, "worker_peak_rss_mb": round(self.peak_rss_mb, 1),
                "index_sha256": self.index_sha256, "worker_pid": self.worker_pid, "seconds": [round(t, 3) for t in self.seconds],
                "cpu_seconds": round(self.cpu_seconds, 3)}


def plan_shards(n: int, shard_size: int) -> list[ShardPlan]:
    return [ShardPlan(s, first, min(shard_size, n - first)) for s, first in enumerate(range(0, n, shard_size))]
