"""Fault injection for the fault tests: SIGKILL this process at a named point.

Inert unless STATGEN_FAULT_KILL_AT names the point. With STATGEN_FAULT_ONCE set to a
file path, only the first process to arrive there dies (the file marks it), so a
retried worker or a resumed run goes on.

Points: driver "after_run_json", "after_shard_record", "before_dataset_json";
worker "mid_shard" (half of a shard's samples written), "after_shard_rename".
"""

from __future__ import annotations

import os
import signal

ENV_POINT = "STATGEN_FAULT_KILL_AT"
ENV_ONCE = "STATGEN_FAULT_ONCE"


def maybe_kill(point: str) -> None:
    if os.environ.get(ENV_POINT) != point:
        return
    marker = os.environ.get(ENV_ONCE)
    if marker:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    os.kill(os.getpid(), signal.SIGKILL)
