"""The driver's life cycle: stopping cleanly on SIGINT/SIGTERM, and taking the run's own Ray
processes down when the driver itself is killed.

Two mechanisms, both scoped to one `statgen.generate` call:

- `SignalGuard` turns SIGINT and SIGTERM into a `Stopped` exception in the main thread, so
  the run unwinds (Ray stopped, partial files swept, lock released) and the caller can
  report it. `ray.init` installs its own SIGTERM handlers (a Python one that calls
  `sys.exit`, and the C++ core worker's failure-signal handler that prints a
  `*** SIGTERM received` stack dump), so the guard takes SIGTERM back after `ray.init`.
  The handlers that were there before are restored when the guard closes.
- `RayWatchdog` covers SIGKILL, which no handler sees. Ray's kernel fate-sharing
  (PR_SET_PDEATHSIG) kills the GCS and the raylet with the driver, but the raylet's own
  children (the dashboard and runtime-env agents) were seen to outlive a killed driver by
  30-70 s, and the workers by a few seconds. The watchdog is a tiny child process holding the read end
  of a pipe; the driver keeps the write end. EOF on the pipe means the driver is gone
  (killed, or finished), and the watchdog then SIGKILLs every process of this run's Ray
  instance that is still alive: the processes `ray.init` started, and their descendants.
  It is only started for a Ray instance this run started itself, never for a cluster
  joined with --address.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from typing import Any, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """Raised in the main thread by SignalGuard. A BaseException (as KeyboardInterrupt is), so no
    `except Exception` on the way up swallows it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class SignalGuard:
    """While open (main thread only; elsewhere it does nothing): the first SIGINT or SIGTERM
    raises Stopped(signum); later ones are ignored so that the unwinding is not cut short
    (SIGKILL still works, and then the watchdog cleans up). `signum` records the first signal."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._saved: dict[int, Any] = {}
        self.active = False

    def _handler(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            return
        self.signum = signum
        raise Stopped(signum)

    def open(self) -> "SignalGuard":
        if threading.current_thread() is not threading.main_thread():
            return self
        for s in STOP_SIGNALS:
            self._saved[s] = signal.getsignal(s)
            signal.signal(s, self._handler)
        self.active = True
        return self

    def reclaim(self) -> None:
        """Install the guard's handlers again (after a library replaced them)."""
        if self.active:
            for s in STOP_SIGNALS:
                signal.signal(s, self._handler)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold SIGINT/SIGTERM back (blocked in this thread, so threads started inside inherit the
        block) while a library starts up and installs handlers; then reclaim the handlers and let a
        signal that arrived meanwhile through."""
        if not self.active:
            yield
            return
        old = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            yield
        finally:
            self.reclaim()
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def close(self) -> None:
        if self.active:
            for s, h in self._saved.items():
                signal.signal(s, h if h is not None else signal.SIG_DFL)
            self.active = False

    def __enter__(self) -> "SignalGuard":
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --------------------------------------------------------------------------- the watchdog

def _proc_table() -> dict[int, tuple[int, bytes]]:
    """pid -> (ppid, start time in clock ticks), from /proc."""
    out: dict[int, tuple[int, bytes]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as f:
                    s = f.read()
            except OSError:
                continue
            rest = s[s.rfind(b")") + 2:].split()
            out[int(d)] = (int(rest[1]), rest[19])
    return out


def _grow(known: dict[int, bytes], table: dict[int, tuple[int, bytes]]) -> None:
    """Add to `known` (pid -> start time) every descendant, in `table` (_proc_table), of a process it holds
    that is still the one recorded (same start time: a reused pid is never followed)."""
    todo = [p for p, st in known.items() if table.get(p, (0, b""))[1] == st]
    while todo:
        parent = todo.pop()
        for p, (pp, st) in table.items():
            if pp == parent and p not in known:
                known[p] = st
                todo.append(p)


def _watchdog_main() -> None:
    """The watchdog process (this file run as a script: standard library only). stdin carries lines
    of "pid:starttime ..." naming the run's root processes; every 0.5 s it records their
    descendants, with start times so that a reused pid is never touched. On EOF it SIGKILLs
    everything it recorded that is still alive."""
    import select

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    known: dict[int, bytes] = {}

    stdin = sys.stdin.buffer
    while True:
        ready, _, _ = select.select([stdin], [], [], 0.5)
        if ready:
            line = stdin.readline()
            if not line:
                break
            for tok in line.split():
                pid, st = tok.split(b":")
                known[int(pid)] = st
        _grow(known, _proc_table())
    table = _proc_table()
    _grow(known, table)
    for pid, st in known.items():
        if table.get(pid, (0, b""))[1] == st:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def children() -> dict[int, bytes]:
    """This process's direct children: pid -> start time."""
    me = os.getpid()
    return {p: st for p, (pp, st) in _proc_table().items() if pp == me}


class RayWatchdog:
    """A child process that SIGKILLs this run's Ray processes once the driver is gone. Usage:

        dog = RayWatchdog.start()      # before ray.init
        ray.init(...)
        dog.track_new_children()       # the processes ray.init started (and, later, their descendants)
        ...
        ray.shutdown(); dog.close()    # or the driver dies, which closes the pipe too
    """

    def __init__(self, proc: subprocess.Popen, before: dict[int, bytes]):
        self.proc, self.before = proc, before

    @classmethod
    def start(cls) -> "RayWatchdog | None":
        if not sys.platform.startswith("linux") or not os.path.isdir("/proc/self"):
            return None  # no /proc: rely on Ray's own fate-sharing
        before = children()
        try:
            proc = subprocess.Popen([sys.executable, "-I", "-S", os.path.abspath(__file__)], stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
        except OSError:
            return None  # no watchdog: the run goes on, relying on Ray's own fate-sharing
        before[proc.pid] = b""  # never its own target
        return cls(proc, before)

    def track_new_children(self) -> None:
        """Hand the watchdog every child started since start() (the GCS, the raylet, ...; never one that was
        there before) with the whole tree below it alive now. Called again before a stop that kills parents
        at once: their children (a worker started in the last half second, before the watchdog's next look)
        would otherwise be re-parented out of its sight."""
        me, table = os.getpid(), _proc_table()
        tree = {p: st for p, (pp, st) in table.items() if pp == me and p != self.proc.pid and self.before.get(p) != st}
        _grow(tree, table)
        if tree and self.proc.stdin is not None:
            try:
                self.proc.stdin.write(b" ".join(b"%d:%s" % (p, st) for p, st in tree.items()) + b"\n")
                self.proc.stdin.flush()
            except OSError:
                pass

    def close(self, timeout: float = 5.0) -> None:
        """EOF: the watchdog kills whatever of the run is still alive, then exits."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout)


if __name__ == "__main__":
    _watchdog_main()
