"""Security property: no plaintext at rest.

A distinctive 37-byte marker (and 4 MiB made of it) is written through every write path strongroom has (SSE-S3 by
default and explicitly, SSE-KMS with a named key, SSE-C, multipart completed and in progress, CopyObject,
UploadPartCopy); then every file under the data directory (database with its -wal/-shm, blobs, temp directories, the
server's TMPDIR) is scanned for the marker and for every 16-byte window of it, while the server runs and again after it
stops. The SSE-C key (raw, hex, base64, and its MD5 raw/hex/base64) must appear nowhere either.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.e2e


import tests.conftest as _ct  # noqa: E402

MARKER = b"<<strongroom-PLAINTEXT-marker-0x37!>>"
assert len(MARKER) == 37
MIB = 1024 * 1024
BIG = (MARKER * (4 * MIB // len(MARKER) + 1))[: 4 * MIB]
# 5 MiB: the smallest allowed non-final multipart part.
PART1 = (MARKER * (5 * MIB // len(MARKER) + 1))[: 5 * MIB]
# Every 16-byte window of the periodic marker stream (37 distinct rotations).
WINDOWS = {(MARKER * 2)[i : i + 16] for i in range(len(MARKER))}
SSEC_KEY = hashlib.sha256(b"strongroom security test SSE-C key").digest()
SSEC_KEY2 = hashlib.sha256(b"strongroom security test SSE-C key 2").digest()
KMS_KEY = "sec-at-rest-kms"


def _clean_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("STRONGROOM__RESOLVED_SETTINGS", None)
    return env


def _key_needles(name: str, key: bytes) -> dict[str, bytes]:
    md5 = hashlib.md5(key).digest()
    return {
        f"{name} raw": key,
        f"{name} hex": key.hex().encode(),
        f"{name} base64": base64.b64encode(key),
        f"{name} urlsafe-base64": base64.urlsafe_b64encode(key),
        f"{name} md5 raw": md5,
        f"{name} md5 hex": md5.hex().encode(),
        f"{name} md5 base64": base64.b64encode(md5),
    }


def _scan(root: Path, needles: dict[str, bytes]) -> tuple[list[str], int, int]:
    """Find every needle in every regular file under root. Returns (hits, files scanned, bytes scanned)."""
    hits: list[str] = []
    files = total = 0
    for p in sorted(root.rglob("*")):
        try:
            if p.is_symlink() or not p.is_file():
                continue
            data = p.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed while scanning (temp file, WAL checkpoint)
        files += 1
        total += len(data)
        for name, needle in needles.items():
            i = data.find(needle)
            if i >= 0:
                hits.append(f"{p.relative_to(root)} at offset {i}: {name}")
    return hits, files, total


@pytest.fixture()
def at_rest_server(tmp_path: Path) -> Iterator[Server]:
    data = tmp_path / "data"
    tmpdir = data / "tmp"
    tmpdir.mkdir(parents=True)
    # any temp file the server process makes lands inside the scanned tree
    srv = _ct.start_server(data, env={"TMPDIR": str(tmpdir), "TEMP": str(tmpdir), "TMP": str(tmpdir)})
    try:
        yield srv
    finally:
        srv.stop()


def _write_everything(srv: Server) -> list[tuple[str, str, bytes, dict[str, Any]]]:
    """Write the marker through every write path. Returns (bucket, key, expected body, get kwargs) to read back."""
    out = subprocess.run(
        [sys.executable, "-m", "strongroom", "key", "create", KMS_KEY, "--data-dir", str(srv.data_dir)],
        cwd=srv.data_dir.parent,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr

    s3 = srv.client()
    b = "sec-at-rest"
    s3.create_bucket(Bucket=b)
    ssec: dict[str, Any] = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSEC_KEY}
    ssec2: dict[str, Any] = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSEC_KEY2}
    reads: list[tuple[str, str, bytes, dict[str, Any]]] = []

    modes: dict[str, dict[str, Any]] = {
        "default": {},
        "aes256": {"ServerSideEncryption": "AES256"},
        "kms": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY},
        "ssec": ssec,
    }
    for mode, extra in modes.items():
        for size_name, body in (("big", BIG), ("small", MARKER)):
            key = f"{mode}-{size_name}"
            resp = s3.put_object(Bucket=b, Key=key, Body=body, **extra)
            if mode == "kms":
                assert resp["ServerSideEncryption"] == "aws:kms"
                assert resp["SSEKMSKeyId"] == KMS_KEY
            elif mode == "ssec":
                assert resp["SSECustomerAlgorithm"] == "AES256"
            else:
                assert resp["ServerSideEncryption"] == "AES256"
            reads.append((b, key, body, ssec if mode == "ssec" else {}))

    # multipart, completed: 5 MiB + 4 MiB (SSE-S3) and the same under SSE-C
    for name, extra in (("mpu", {}), ("mpu-ssec", ssec)):
        up = s3.create_multipart_upload(Bucket=b, Key=name, **extra)["UploadId"]
        e1 = s3.upload_part(Bucket=b, Key=name, UploadId=up, PartNumber=1, Body=PART1, **extra)["ETag"]
        e2 = s3.upload_part(Bucket=b, Key=name, UploadId=up, PartNumber=2, Body=BIG, **extra)["ETag"]
        s3.complete_multipart_upload(
            Bucket=b,
            Key=name,
            UploadId=up,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
            **extra,
        )
        reads.append((b, name, PART1 + BIG, extra))

    # multipart left in progress: its parts are blobs too
    up = s3.create_multipart_upload(Bucket=b, Key="mpu-pending")["UploadId"]
    s3.upload_part(Bucket=b, Key="mpu-pending", UploadId=up, PartNumber=1, Body=BIG)
    s3.upload_part(Bucket=b, Key="mpu-pending", UploadId=up, PartNumber=2, Body=MARKER)

    # CopyObject: plain -> plain, plain -> SSE-C, SSE-C -> plain, SSE-C -> other SSE-C key, small too
    s3.copy_object(Bucket=b, Key="copy-plain", CopySource={"Bucket": b, "Key": "default-big"})
    reads.append((b, "copy-plain", BIG, {}))
    s3.copy_object(Bucket=b, Key="copy-small", CopySource={"Bucket": b, "Key": "default-small"})
    reads.append((b, "copy-small", MARKER, {}))
    s3.copy_object(Bucket=b, Key="copy-to-ssec", CopySource={"Bucket": b, "Key": "aes256-big"}, **ssec)
    reads.append((b, "copy-to-ssec", BIG, ssec))
    src_key = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": SSEC_KEY}
    s3.copy_object(Bucket=b, Key="copy-from-ssec", CopySource={"Bucket": b, "Key": "ssec-big"}, **src_key)
    reads.append((b, "copy-from-ssec", BIG, {}))
    s3.copy_object(Bucket=b, Key="copy-ssec-rekey", CopySource={"Bucket": b, "Key": "ssec-small"}, **src_key, **ssec2)
    reads.append((b, "copy-ssec-rekey", MARKER, ssec2))
    s3.copy_object(
        Bucket=b,
        Key="copy-to-kms",
        CopySource={"Bucket": b, "Key": "default-big"},
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=KMS_KEY,
    )
    reads.append((b, "copy-to-kms", BIG, {}))

    # UploadPartCopy from an SSE-C source into a plain upload
    up = s3.create_multipart_upload(Bucket=b, Key="mpu-copy")["UploadId"]
    e1 = s3.upload_part_copy(
        Bucket=b, Key="mpu-copy", UploadId=up, PartNumber=1, CopySource={"Bucket": b, "Key": "mpu-ssec"}, **src_key
    )["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(
        Bucket=b, Key="mpu-copy", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]}
    )
    reads.append((b, "mpu-copy", PART1 + BIG, {}))

    # overwrite one object (the old version's blob is garbage) and delete another
    s3.put_object(Bucket=b, Key="overwritten", Body=BIG)
    s3.put_object(Bucket=b, Key="overwritten", Body=MARKER * 3)
    reads.append((b, "overwritten", MARKER * 3, {}))
    s3.put_object(Bucket=b, Key="deleted", Body=BIG)
    s3.delete_object(Bucket=b, Key="deleted")
    return reads


def test_no_plaintext_and_no_customer_key_under_data_dir(at_rest_server: Server) -> None:
    srv = at_rest_server
    reads = _write_everything(srv)
    s3 = srv.client()
    # sanity: everything really was stored and reads back (the scan below would be vacuous otherwise)
    for bucket, key, body, extra in reads:
        got = s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
        assert got == body, f"{key}: read back {len(got)} bytes, expected {len(body)}"

    marker_needles = {f"marker window {i}": w for i, w in enumerate(sorted(WINDOWS))}
    marker_needles["whole marker"] = MARKER
    key_needles = {**_key_needles("SSE-C key", SSEC_KEY), **_key_needles("second SSE-C key", SSEC_KEY2)}
    needles = {**marker_needles, **key_needles}

    data = srv.data_dir
    # self-check of the scanner: a canary holding one window and the key's base64 must be reported
    canary = data / "tmp" / "scanner-canary"
    canary.write_bytes(b"..." + sorted(WINDOWS)[5][:16] + b"..." + base64.b64encode(SSEC_KEY) + b"...")
    canary_hits, _, _ = _scan(data, needles)
    canary.unlink()
    assert {h.split(" at offset ")[0] for h in canary_hits} >= {str(canary.relative_to(data))}
    assert sum("scanner-canary" in h for h in canary_hits) == 2, canary_hits

    hits_running, files, total = _scan(data, needles)
    blobs = [p for p in (data / "blobs").rglob("*") if p.is_file() and ".tmp" not in p.parts]
    # 8 single PUTs + 2x2 multipart parts + 2 pending parts + 6 copies + 1 part copy + overwritten: at least 20 blobs
    assert len(blobs) >= 20, f"expected the workload's blobs under {data / 'blobs'}, found {len(blobs)}"
    assert total >= 40 * 1024 * 1024, f"scanned only {total} bytes in {files} files"
    assert (data / "strongroom.db").exists()

    srv.stop()
    hits_stopped, _files, _total = _scan(data, needles)

    problems = [f"while running: {h}" for h in hits_running] + [f"after stop: {h}" for h in hits_stopped]
    assert not problems, "plaintext or SSE-C key material found at rest:\n" + "\n".join(problems)


def test_customer_key_not_in_server_log(at_rest_server: Server) -> None:
    """SSE-C keys must not be logged either (the log sits next to the data directory)."""
    srv = at_rest_server
    s3 = srv.client()
    s3.create_bucket(Bucket="sec-at-rest-log")
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSEC_KEY}
    s3.put_object(Bucket="sec-at-rest-log", Key="k", Body=MARKER, **ssec)
    # a wrong key and a missing key produce errors; the errors must not echo key material either
    wrong = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSEC_KEY2}
    for extra in (wrong, {}):
        with pytest.raises(Exception):  # noqa: B017 - any client error
            s3.get_object(Bucket="sec-at-rest-log", Key="k", **extra)
    assert s3.get_object(Bucket="sec-at-rest-log", Key="k", **ssec)["Body"].read() == MARKER
    srv.stop()
    log = srv.log_path.read_bytes()
    needles = {
        **_key_needles("SSE-C key", SSEC_KEY),
        **_key_needles("second SSE-C key", SSEC_KEY2),
        "marker": MARKER,
    }
    found = [name for name, n in needles.items() if n in log]
    assert not found, f"server log contains {found}"
