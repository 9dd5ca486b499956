"""Rotating a bucket key and `strongroom key rewrap --bucket B` rewrap every DEK without rewriting a blob."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def _cli(server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "strongroom", *args, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _blob_digests(server, bucket: str) -> dict[str, str]:
    """The bucket's blobs on disk by id (other tests' replaced blobs may be swept meanwhile: not these)."""
    db = sqlite3.connect(server.data_dir / "strongroom.db")
    try:
        ids = {
            r[0]
            for r in db.execute(
                "SELECT p.blob_id FROM object_parts p JOIN objects o ON o.id = p.object_id "
                "JOIN buckets b ON b.id = o.bucket_id WHERE b.name = ?",
                (bucket,),
            )
        }
    finally:
        db.close()
    out = {}
    for f in (server.data_dir / "blobs").rglob("*"):
        if f.is_file() and ".tmp" not in f.parts and f.name in ids:
            out[f.name] = hashlib.sha256(f.read_bytes()).hexdigest()
    assert set(out) == ids  # every referenced blob is on disk
    return out


def _versions(server, bucket: str) -> list[int]:
    db = sqlite3.connect(server.data_dir / "strongroom.db")
    try:
        rows = db.execute(
            "SELECT p.kek_version FROM object_parts p JOIN objects o ON o.id = p.object_id "
            "JOIN buckets b ON b.id = o.bucket_id WHERE b.name = ? ORDER BY o.key, p.part_number",
            (bucket,),
        ).fetchall()
    finally:
        db.close()
    return [r[0] for r in rows]


def test_rotate_then_rewrap_keeps_blobs_and_reads(server, s3, bucket):
    bodies = {f"obj-{i}": (f"payload {i} ".encode() * (1000 * (i + 1))) for i in range(5)}
    for k, b in bodies.items():
        s3.put_object(Bucket=bucket, Key=k, Body=b)
    # one multipart object too (2 parts)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    p1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"a" * (5 << 20))
    p2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=2, Body=b"b" * 1000)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]},
    )
    assert set(_versions(server, bucket)) == {1}
    before = _blob_digests(server, bucket)

    rot = _cli(server, "key", "rotate", "--bucket", bucket, "--json")
    assert rot.returncode == 0, rot.stderr
    assert json.loads(rot.stdout)["latest_version"] == 2

    rw = _cli(server, "key", "rewrap", "--bucket", bucket, "--json")
    assert rw.returncode == 0, rw.stderr
    final = json.loads(rw.stdout)
    assert final["total"] == 7 and final["rewrapped"] == 7 and final["unchanged"] == 0
    assert set(_versions(server, bucket)) == {2}
    assert _blob_digests(server, bucket) == before  # not one data blob changed

    for k, b in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == b
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"a" * (5 << 20) + b"b" * 1000

    again = json.loads(_cli(server, "key", "rewrap", "--bucket", bucket, "--json").stdout)
    assert again["rewrapped"] == 0 and again["unchanged"] == 7


def test_rewrap_unknown_bucket_fails_cleanly(server):
    out = _cli(server, "key", "rewrap", "--bucket", "no-such-bucket-xyz")
    assert out.returncode == 2
    assert "Error" in out.stderr
