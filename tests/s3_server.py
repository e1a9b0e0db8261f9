"""A real S3 API on 127.0.0.1 for tests: moto in server mode, in a child process.

Register it with `pytest_plugins = ["s3_server"]` in tests/conftest.py, then ask for the
session-scoped `s3_server` fixture. It yields an S3Server with `.endpoint`
("http://127.0.0.1:PORT"), `.bucket` (already created) and `.env` (the variables a client
needs; apply them with monkeypatch.setenv or pass them to a subprocess).

moto runs in a child process, not in a thread of the test process: pyarrow's S3 client
sometimes calls out while holding the GIL (e.g. when a stream is closed by its
destructor), which would stall an in-process server until curl's timeout. The child
stops when the fixture ends, or when its stdin closes (the test process died).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field

import pytest

HOST = "127.0.0.1"

_SERVER = f"""
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address={HOST!r}, port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()          # until the parent closes stdin (fixture teardown, or it died)
server.stop()
"""


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    bucket: str
    env: dict[str, str] = field(default_factory=dict)


def _client_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        # Belt and braces: never route 127.0.0.1 through a proxy from the environment.
        "NO_PROXY": f"{HOST},localhost",
        "no_proxy": f"{HOST},localhost",
    }


@pytest.fixture(scope="session")
def s3_server():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(_client_env("http://unused"))
    env.pop("AWS_ENDPOINT_URL")
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
    )
    try:
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            proc.kill()
            proc.wait()
            log.seek(0)
            raise RuntimeError(f"moto server did not start: {log.read().decode(errors='replace')[-2000:]}")
        endpoint = f"http://{HOST}:{int(line)}"
        bucket = "statgen-test"
        # moto does not check signatures: an unsigned PUT creates the bucket. No proxies.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        opener.open(urllib.request.Request(f"{endpoint}/{bucket}", method="PUT"), timeout=10).close()
        yield S3Server(endpoint=endpoint, bucket=bucket, env=_client_env(endpoint))
    finally:
        if proc.poll() is None:
            proc.stdin.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
        log.close()
