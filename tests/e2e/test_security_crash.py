"""Security property: a crash in the middle of a PUT loses nothing that was committed and leaves nothing behind.

A dedicated server stores v1 of a key; a 64 MiB v2 is then streamed slowly through a presigned PUT URL and the server
is SIGKILLed (with any children) while v2 is half written. After a restart on the same data directory the key still
reads as v1 (body, listing size and ETag), and one sweeper pass (``strongroom.http.app.sweep_once`` with
``orphan_age=0``) removes the half-written temp blob, leaving only blobs that a metadata row references.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.e2e


import tests.conftest as _ct  # noqa: E402

MIB = 1024 * 1024
V2_SIZE = 64 * MIB
KILL_AFTER = 6 * MIB  # bytes of v2 sent before the kill
BUCKET = "sec-crash"

SWEEP = """
import sys
from pathlib import Path
from strongroom.bootstrap import build_runtime
from strongroom.config import load_settings
from strongroom.http.app import sweep_once

rt = build_runtime(load_settings(data_dir=Path(sys.argv[1])), run_migrations=False)
try:
    print(sweep_once(rt, orphan_age=0))
finally:
    rt.repo.close()
"""


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("STRONGROOM__RESOLVED_SETTINGS", None)
    return env


def _descendants(pid: int) -> list[int]:
    """Every live descendant of pid (from /proc), children first."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_hard(srv: Server) -> None:
    """SIGKILL the server process and all its descendants, by pid (never by name or group)."""
    victims = [*_descendants(srv.proc.pid), srv.proc.pid]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    srv.proc.wait(timeout=30)


@pytest.fixture()
def crash_server(tmp_path: Path) -> Iterator[Server]:
    srv = _ct.start_server(tmp_path / "data")
    try:
        yield srv
    finally:
        srv.stop()


def tmp_files(data: Path) -> list[Path]:
    return [p for p in (data / "blobs").glob("*/.tmp/*") if p.is_file()]


def inflight_blob_bytes(srv: Server) -> int:
    """The most bytes one in-flight blob write holds: a named temp file, or an anonymous (O_TMPFILE) file the
    gateway process has open under the blob directory."""
    sizes = [p.stat().st_size for p in tmp_files(srv.data_dir)]
    sizes += _ct.anonymous_file_sizes(srv.proc.pid, srv.data_dir / "blobs")
    return max(sizes, default=0)


def blob_files(data: Path) -> list[Path]:
    return [p for p in (data / "blobs").rglob("*") if p.is_file() and ".tmp" not in p.parts]


def referenced_blob_ids(data: Path) -> set[str]:
    db = sqlite3.connect(f"file:{data / 'strongroom.db'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT blob_id FROM object_parts UNION SELECT blob_id FROM upload_parts").fetchall()
    finally:
        db.close()
    return {r[0] for r in rows}


def test_sigkill_mid_put_keeps_v1_and_sweeper_cleans_up(crash_server: Server) -> None:
    srv = crash_server
    s3 = srv.client()
    s3.create_bucket(Bucket=BUCKET)
    v1 = random.Random(1).randbytes(300_000)
    v1_etag = s3.put_object(Bucket=BUCKET, Key="doc", Body=v1)["ETag"]
    assert v1_etag == f'"{hashlib.md5(v1).hexdigest()}"'
    blobs_before = {p.name for p in blob_files(srv.data_dir)}
    assert len(blobs_before) == 1

    url = s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "doc"}, ExpiresIn=600)
    sent = 0
    reached = threading.Event()
    killed = threading.Event()
    result: dict[str, Any] = {}
    chunk = random.Random(2).randbytes(256 * 1024)

    def body() -> Iterator[bytes]:
        nonlocal sent
        while sent < V2_SIZE:
            if sent >= KILL_AFTER:
                reached.set()
                killed.wait(30)  # hold the upload open until the server is gone
                time.sleep(0.05)
            yield chunk
            sent += len(chunk)

    def upload() -> None:
        try:
            r = httpx.put(
                url,
                content=body(),
                headers={"content-length": str(V2_SIZE)},
                verify=srv.ca,
                timeout=httpx.Timeout(60, connect=10),
            )
            result["status"] = r.status_code
        except Exception as exc:  # noqa: BLE001 - the connection is expected to die
            result["error"] = exc

    t = threading.Thread(target=upload, daemon=True)
    t.start()
    assert reached.wait(60), f"upload stalled after {sent} bytes: {result}"
    # wait until the server has sealed part of v2 into a temp blob: the crash must hit a half-written blob
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if inflight_blob_bytes(srv) >= MIB:
            break
        time.sleep(0.02)
    else:
        pytest.fail(f"no temp blob appeared while v2 was streaming: {list((srv.data_dir / 'blobs').rglob('*'))}")
    kill_hard(srv)
    killed.set()
    t.join(60)
    assert "status" not in result, f"the interrupted PUT got a response: {result}"
    # an anonymous (O_TMPFILE) temp blob dies with the process; a named one (no O_TMPFILE) waits for the sweeper
    leftovers = tmp_files(srv.data_dir)
    assert {p.name for p in blob_files(srv.data_dir)} == blobs_before, "the half-written v2 got a name"

    srv.restart()
    s3 = srv.client()
    got = s3.get_object(Bucket=BUCKET, Key="doc")
    assert got["ETag"] == v1_etag
    assert got["Body"].read() == v1
    listing = s3.list_objects_v2(Bucket=BUCKET)
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listing["Contents"]] == [("doc", len(v1), v1_etag)]
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []

    out = subprocess.run(
        [sys.executable, "-c", SWEEP, str(srv.data_dir)],
        cwd=srv.data_dir.parent,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert int(out.stdout.strip().splitlines()[-1]) >= len(leftovers)

    assert tmp_files(srv.data_dir) == [], "temp files survived the sweeper"
    on_disk = {p.name for p in blob_files(srv.data_dir)}
    referenced = referenced_blob_ids(srv.data_dir)
    assert on_disk <= referenced, f"unreferenced blobs after the sweep: {on_disk - referenced}"
    assert referenced <= on_disk, f"rows reference missing blobs: {referenced - on_disk}"
    assert on_disk == blobs_before
    # and v1 still reads after the sweep
    assert s3.get_object(Bucket=BUCKET, Key="doc")["Body"].read() == v1
    # the key can be written again
    v3 = b"v3" * 1000
    s3.put_object(Bucket=BUCKET, Key="doc", Body=v3)
    assert s3.get_object(Bucket=BUCKET, Key="doc")["Body"].read() == v3


def test_sigkill_mid_upload_part_keeps_the_upload_usable(crash_server: Server) -> None:
    """A crash while a multipart part streams: the upload survives with its earlier parts and completes."""
    srv = crash_server
    s3 = srv.client()
    s3.create_bucket(Bucket=BUCKET)
    up = s3.create_multipart_upload(Bucket=BUCKET, Key="mp")["UploadId"]
    p1 = random.Random(3).randbytes(5 * MIB)
    e1 = s3.upload_part(Bucket=BUCKET, Key="mp", UploadId=up, PartNumber=1, Body=p1)["ETag"]

    url = s3.generate_presigned_url(
        "upload_part", Params={"Bucket": BUCKET, "Key": "mp", "UploadId": up, "PartNumber": 2}, ExpiresIn=600
    )
    reached = threading.Event()
    killed = threading.Event()
    chunk = random.Random(4).randbytes(256 * 1024)

    def body() -> Iterator[bytes]:
        sent = 0
        while sent < 32 * MIB:
            if sent >= 4 * MIB:
                reached.set()
                killed.wait(30)
                time.sleep(0.05)
            yield chunk
            sent += len(chunk)

    def upload() -> None:
        try:
            httpx.put(url, content=body(), headers={"content-length": str(32 * MIB)}, verify=srv.ca, timeout=60)
        except Exception:  # noqa: BLE001, S110 - the connection is expected to die
            pass

    t = threading.Thread(target=upload, daemon=True)
    t.start()
    assert reached.wait(60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and inflight_blob_bytes(srv) < MIB:
        time.sleep(0.02)
    assert inflight_blob_bytes(srv) >= MIB, "part 2 never reached the disk before the kill"
    kill_hard(srv)
    killed.set()
    t.join(60)

    srv.restart()
    s3 = srv.client()
    parts = s3.list_parts(Bucket=BUCKET, Key="mp", UploadId=up).get("Parts", [])
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, e1, len(p1))]
    out = subprocess.run(
        [sys.executable, "-c", SWEEP, str(srv.data_dir)],
        cwd=srv.data_dir.parent,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert tmp_files(srv.data_dir) == []
    assert {p.name for p in blob_files(srv.data_dir)} == referenced_blob_ids(srv.data_dir)
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key="mp", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]}
    )
    assert s3.get_object(Bucket=BUCKET, Key="mp")["Body"].read() == p1
