"""request_threads caps the worker threads that carry GET/PUT work, whatever the client concurrency."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

import tests.conftest as _ct  # noqa: E402


def threads_of(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def load(srv: _ct.Server, n: int = 48) -> None:
    s3 = srv.client(max_pool_connections=32)
    s3.create_bucket(Bucket="threads")

    def one(i: int) -> None:
        body = os.urandom(3000 + i)
        s3.put_object(Bucket="threads", Key=f"k{i}", Body=body)
        assert s3.get_object(Bucket="threads", Key=f"k{i}")["Body"].read() == body

    with ThreadPoolExecutor(32) as pool:
        list(pool.map(one, range(n)))


# the base: the event loop, the audit writer, anyio's pool for vault calls and the sweeper, the vault client.
# That the setting holds exactly that many steps at once (not fewer) is tests/service/test_runtime.py's: how many
# threads 32 connections make a loaded machine's gateway start is not deterministic.
def test_request_threads_bounds_the_gateway_threads(tmp_path: Path) -> None:
    srv = _ct.start_server(tmp_path / "data", env={"STRONGROOM_REQUEST_THREADS": "2"})
    try:
        load(srv)
        n = threads_of(srv.proc.pid)
        assert n <= 16, f"request_threads=2 under 32 connections: the gateway runs {n} threads"
    finally:
        srv.stop()
