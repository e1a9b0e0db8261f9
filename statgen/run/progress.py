"""Progress of a run: one line on stderr, samples, samples/s and ETA, never going back."""

from __future__ import annotations

import sys
import time
from typing import IO, Callable


class Progress:
    """A one-line progress report: samples, samples/s, ETA. The count never goes back (workers report
    partial shards, and a shard's samples move from "partial" to "finished" between two polls), and
    finish() prints the final count. On a terminal the line is redrawn (at most every 0.5 s);
    elsewhere a line is printed every 10 s. `stream`, `tty` and `clock` are there for tests."""

    def __init__(self, *, total: int, done: int, label: str, enabled: bool = True, stream: IO[str] | None = None,
                 tty: bool | None = None, clock: Callable[[], float] = time.monotonic):
        self.total, self.done0, self.done, self.label, self.enabled = total, done, done, label, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(self.stream.isatty()) if tty is None else tty
        self.clock = clock
        self.t0 = self.last = clock()
        self.drawn = False  # a redrawn line is on the terminal

    def rate(self) -> float:
        return (self.done - self.done0) / max(self.clock() - self.t0, 1e-9)

    def update(self, done: int, *, force: bool = False) -> None:
        self.done = min(self.total, max(self.done, done))
        now = self.clock()
        if not self.enabled or (not force and now - self.last < (0.5 if self.tty else 10.0)):
            return
        self.last = now
        rate = self.rate()
        left = self.total - self.done
        eta = "--" if rate <= 0 else _hms(left / rate)
        line = f"{self.label}: {self.done}/{self.total} samples ({100 * self.done / self.total:.0f}%)  {rate:.1f} samples/s  ETA {eta}"
        self.stream.write(("\r" + line + "   ") if self.tty else line + "\n")
        self.stream.flush()
        self.drawn = self.tty

    def end_line(self) -> None:
        """End a redrawn line, so that what comes next (a failed or stopped run's message) starts on
        a line of its own."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False

    def note(self, text: str) -> None:
        """A line of its own (e.g. what a resume kept), below any progress line."""
        if self.enabled:
            self.stream.write(("\n" if self.drawn else "") + f"{self.label}: {text}\n")
            self.stream.flush()
            self.drawn = False

    def finish(self, done: int) -> float:
        """The final count (exact: it may be lower than a partial count seen before only if work
        was lost and redone, which cannot happen once every shard is finished). Returns samples/s."""
        self.done = done
        self.update(done, force=True)
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
        return self.rate()


def _hms(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
