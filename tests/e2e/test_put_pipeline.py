"""Large single PUTs are sealed one batch behind the network (a batch in a worker thread while the next arrives).

These drive the failure paths of that pipeline over real TLS and check what is left on disk: a body cut off
mid-stream, a wrong Content-MD5 found after the last batch, and a declared length that is exceeded. Each time the
previous version stays readable, no new blob or temp file survives, and the server keeps serving.
"""

from __future__ import annotations

import base64
import hashlib
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.e2e

import tests.conftest as _ct  # noqa: E402

MIB = 1024 * 1024
BUCKET = "pipeline"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = _ct.start_server(tmp_path_factory.mktemp("pipeline") / "data")
    try:
        yield server
    finally:
        server.stop()


def disk_blobs(data: Path) -> set[str]:
    return {p.name for p in (data / "blobs").rglob("*") if p.is_file() and ".tmp" not in p.parts}


def temp_blobs(data: Path) -> list[Path]:
    return [p for p in (data / "blobs").glob("*/.tmp/*") if p.is_file()]


def referenced(data: Path) -> set[str]:
    db = sqlite3.connect(f"file:{data / 'strongroom.db'}?mode=ro", uri=True)
    try:
        return {r[0] for r in db.execute("SELECT blob_id FROM object_parts UNION SELECT blob_id FROM upload_parts")}
    finally:
        db.close()


def settle(data: Path, expect_blobs: set[str], timeout: float = 20.0) -> None:
    """The aborted write is cleaned up: only the expected blobs, no temp files (the server aborts asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if disk_blobs(data) == expect_blobs and not temp_blobs(data):
            return
        time.sleep(0.05)
    assert disk_blobs(data) == expect_blobs, f"blobs left behind: {disk_blobs(data) - expect_blobs}"
    assert temp_blobs(data) == [], f"temp files left behind: {temp_blobs(data)}"


@pytest.fixture(scope="module")
def v1(srv: Server) -> bytes:
    s3 = srv.client()
    s3.create_bucket(Bucket=BUCKET)
    body = random.Random(11).randbytes(3 * MIB + 17)
    s3.put_object(Bucket=BUCKET, Key="doc", Body=body)
    return body


def presigned_put(srv: Server, key: str, **params: str) -> str:
    return srv.client().generate_presigned_url(
        "put_object", Params={"Bucket": BUCKET, "Key": key, **params}, ExpiresIn=600
    )


def check_v1_intact(srv: Server, v1: bytes) -> None:
    got = srv.client().get_object(Bucket=BUCKET, Key="doc")
    assert got["ETag"] == f'"{hashlib.md5(v1).hexdigest()}"'
    assert got["Body"].read() == v1
    assert disk_blobs(srv.data_dir) == referenced(srv.data_dir)


def test_body_cut_off_after_several_batches_leaves_v1_and_nothing_else(srv: Server, v1: bytes) -> None:
    before = disk_blobs(srv.data_dir)
    url = presigned_put(srv, "doc")
    chunk = random.Random(12).randbytes(256 * 1024)

    class Cut(Exception):
        pass

    def body() -> Iterator[bytes]:
        for _ in range(14):  # 3.5 MiB of a declared 8 MiB: three batches sealed, then the client goes away
            yield chunk
        raise Cut

    with pytest.raises((Cut, httpx.HTTPError)):
        httpx.put(url, content=body(), headers={"content-length": str(8 * MIB)}, verify=srv.ca, timeout=30)
    settle(srv.data_dir, before)
    check_v1_intact(srv, v1)


def test_wrong_content_md5_found_after_the_last_batch_is_refused_and_cleaned_up(srv: Server, v1: bytes) -> None:
    before = disk_blobs(srv.data_dir)
    body = random.Random(13).randbytes(5 * MIB + 3)
    wrong = base64.b64encode(hashlib.md5(body + b"x").digest()).decode()
    r = httpx.put(
        presigned_put(srv, "doc", ContentMD5=wrong),
        content=body,
        headers={"content-md5": wrong},
        verify=srv.ca,
        timeout=60,
    )
    assert r.status_code == 400, r.text
    assert "<Code>BadDigest</Code>" in r.text
    settle(srv.data_dir, before)
    check_v1_intact(srv, v1)


def test_a_good_large_put_after_the_failures_replaces_v1(srv: Server, v1: bytes) -> None:
    body = random.Random(14).randbytes(4 * MIB + 1)
    s3 = srv.client()
    etag = s3.put_object(Bucket=BUCKET, Key="doc", Body=body)["ETag"]
    assert etag == f'"{hashlib.md5(body).hexdigest()}"'
    assert s3.get_object(Bucket=BUCKET, Key="doc")["Body"].read() == body
    # the replaced v1 blob is garbage now; what is referenced is on disk
    assert referenced(srv.data_dir) <= disk_blobs(srv.data_dir)
