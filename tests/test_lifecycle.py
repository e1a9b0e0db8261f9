"""statgen.lifecycle.RayWatchdog on its own, with plain `sleep` processes standing in for Ray's."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from statgen.lifecycle import RayWatchdog

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watchdog reads /proc")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_the_hand_over_includes_grandchildren_that_outlive_their_parent():
    """A child started before the watchdog is never touched. A child started after it, with a grandchild
    that the watchdog's half-second look has not seen yet: after track_new_children(), the child is SIGKILLed (as
    Ray's shutdown now does to the raylet at once) and its orphaned grandchild is still killed on close()."""
    before = subprocess.Popen(["sleep", "60"])
    dog = RayWatchdog.start()
    assert dog is not None
    try:
        parent = subprocess.Popen(["sh", "-c", "sleep 60 & echo $!; wait"], stdout=subprocess.PIPE, text=True)
        grandchild = int(parent.stdout.readline())
        dog.track_new_children()  # at once: the watchdog has had no half second to find the grandchild itself
        parent.kill()
        parent.wait()
        assert _alive(grandchild)  # re-parented, out of the dead parent's tree
        dog.close()
        assert _wait_gone(grandchild), "the orphaned grandchild outlived the watchdog"
        assert _alive(before.pid), "a child from before the watchdog was killed"
    finally:
        before.kill()
        before.wait()
        if _alive(grandchild):
            os.kill(grandchild, 9)
