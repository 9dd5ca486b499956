"""Security property: a tampered blob makes GET fail, and GET never returns wrong bytes.

Each case stores a fresh object of 3 full 64 KiB segments plus 8 KiB (4 segments), finds its blob through the SQLite
metadata (objects.key -> object_parts.blob_id), damages the blob on disk the way an attacker with write access to the
blob store could (bit flips, truncation, reordering, appending, splicing another object's or an older version's blob),
then reads it back. Full GETs must fail: a 500 InternalError before the body starts, or a broken, short stream; either
way the bytes received before the failure must be a prefix of the true plaintext. Ranged GETs that touch only intact
segments return the right bytes; ranged GETs that touch a damaged segment fail. The server keeps serving.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.e2e


import tests.conftest as _ct  # noqa: E402

P = 64 * 1024  # plaintext segment size (docs/FORMAT.md section 5)
HDR = 48  # outer header
SEG = P + 32  # sealed non-final segment (16-byte tag per layer)
SIZE = 3 * P + 8 * 1024  # 200 KiB: segments 0..2 full, segment 3 holds 8 KiB
LAST = 3
BUCKET = "sec-tamper"
OTHER_BUCKET = "sec-tamper-other"


def seg_offset(i: int) -> int:
    return HDR + i * SEG


SEALED_SIZE = HDR + 4 * 32 + SIZE


def plain(seed: int, size: int = SIZE) -> bytes:
    return random.Random(seed).randbytes(size)


def rng(i: int) -> tuple[int, int]:
    """A small range inside plaintext segment i."""
    start = i * P + 100
    return start, min(start + 999, SIZE - 1)


@pytest.fixture(scope="module")
def tamper_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = _ct.start_server(tmp_path_factory.mktemp("sec-tamper") / "data")
    try:
        srv.client().create_bucket(Bucket=BUCKET)
        srv.client().create_bucket(Bucket=OTHER_BUCKET)
        yield srv
    finally:
        srv.stop()


def blob_path(srv: Server, key: str, bucket: str = BUCKET) -> Path:
    db = sqlite3.connect(f"file:{srv.data_dir / 'strongroom.db'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT p.blob_id FROM objects o JOIN object_parts p ON p.object_id = o.id "
            "JOIN buckets b ON b.id = o.bucket_id WHERE b.name = ? AND o.key = ? ORDER BY p.part_number",
            (bucket, key),
        ).fetchall()
    finally:
        db.close()
    assert len(rows) == 1, f"expected one part for {key}, got {rows}"
    blob_id = rows[0][0]
    path = srv.data_dir / "blobs" / "local" / blob_id[:2] / blob_id[2:4] / blob_id
    assert path.is_file(), path
    return path


def put(srv: Server, key: str, data: bytes) -> Path:
    srv.client().put_object(Bucket=BUCKET, Key=key, Body=data)
    path = blob_path(srv, key)
    assert path.stat().st_size == HDR + 32 * (-(-len(data) // P)) + len(data)
    return path


@dataclass(repr=False)
class Outcome:
    ok: bool
    body: bytes
    status: int | None
    code: str | None
    error: str | None

    def __repr__(self) -> str:
        return f"Outcome(ok={self.ok}, {len(self.body)} bytes, status={self.status}, code={self.code}, {self.error})"


def fetch(srv: Server, key: str, byte_range: tuple[int, int] | None = None) -> Outcome:
    """GET through boto3, collecting whatever bytes arrive before a failure."""
    s3 = srv.client()
    kwargs: dict[str, Any] = {"Bucket": BUCKET, "Key": key}
    if byte_range is not None:
        kwargs["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
    try:
        resp = s3.get_object(**kwargs)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return Outcome(False, b"", status, err.get("Code"), str(exc))
    got = bytearray()
    status = resp["ResponseMetadata"]["HTTPStatusCode"]
    try:
        for chunk in resp["Body"].iter_chunks(64 * 1024):
            got += chunk
    except (BotoCoreError, OSError, ValueError) as exc:  # short or broken stream
        return Outcome(False, bytes(got), status, None, f"{type(exc).__name__}: {exc}")
    return Outcome(True, bytes(got), status, None, None)


def check_fails(srv: Server, key: str, truth: bytes, byte_range: tuple[int, int] | None, what: str) -> None:
    out = fetch(srv, key, byte_range)
    expected = truth if byte_range is None else truth[byte_range[0] : byte_range[1] + 1]
    where = f"{what}, GET {'whole object' if byte_range is None else f'bytes={byte_range[0]}-{byte_range[1]}'}"
    assert expected.startswith(out.body), (
        f"{where}: returned {len(out.body)} bytes that are NOT a prefix of the true plaintext"
    )
    assert not out.ok, (
        f"{where}: tampering went undetected; GET returned {len(out.body)} bytes with status {out.status}"
    )
    if out.code is not None:  # failure before the body started: a clean S3 error
        assert (out.status, out.code) == (500, "InternalError"), f"{where}: {out.error}"
    else:  # failure mid-stream: strictly short
        assert len(out.body) < len(expected), f"{where}: {out.error}"


def check_reads(srv: Server, key: str, truth: bytes, byte_range: tuple[int, int], what: str, must: bool) -> None:
    out = fetch(srv, key, byte_range)
    expected = truth[byte_range[0] : byte_range[1] + 1]
    where = f"{what}, GET bytes={byte_range[0]}-{byte_range[1]}"
    assert expected.startswith(out.body), f"{where}: returned bytes that are NOT the true plaintext"
    if out.ok:
        assert out.body == expected, f"{where}: wrong bytes"
    elif must:
        pytest.fail(f"{where}: a range over intact segments should read ({out.status} {out.code} {out.error})")


def flip(path: Path, offset: int, bit: int = 0) -> None:
    with path.open("r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ (1 << bit)]))


def truncate(path: Path, size: int) -> None:
    with path.open("r+b") as fh:
        fh.truncate(size)


def swap_segments(path: Path, a: int, b: int) -> None:
    data = bytearray(path.read_bytes())
    sa = bytes(data[seg_offset(a) : seg_offset(a) + SEG])
    sb = bytes(data[seg_offset(b) : seg_offset(b) + SEG])
    data[seg_offset(a) : seg_offset(a) + SEG] = sb
    data[seg_offset(b) : seg_offset(b) + SEG] = sa
    path.write_bytes(bytes(data))


def append(path: Path, extra: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(extra)


@dataclass
class Case:
    """tamper(srv, key, blob) damages the stored object; returns the true plaintext if it changed it (else None)."""

    tamper: Callable[[Server, str, Path], bytes | None]
    broken_segments: set[int]
    # ranges over intact segments must read (True) or may fail (False: the damage is outside any segment)
    intact_must_read: bool = True


def _splice_other(srv: Server, key: str, blob: Path) -> None:
    other = put(srv, key + "-donor", plain(99_999))
    shutil.copyfile(other, blob)


def _splice_same_key_other_bucket(srv: Server, key: str, blob: Path) -> None:
    """Same key, same plaintext, same size, other bucket: only the bucket id in the identity differs."""
    srv.client().put_object(Bucket=OTHER_BUCKET, Key=key, Body=plain(1))
    shutil.copyfile(blob_path(srv, key, OTHER_BUCKET), blob)


def _older_version(srv: Server, key: str, blob: Path) -> bytes:
    old = blob.read_bytes()  # the blob of v1, copied before the overwrite garbage-collects it
    v2 = plain(123_456)
    new_blob = put(srv, key, v2)
    assert new_blob != blob and new_blob.stat().st_size == len(old)
    new_blob.write_bytes(old)  # roll v2's blob back to v1's ciphertext
    return v2


def _rewind_to_same_object_other_blob(srv: Server, key: str, blob: Path) -> bytes:
    """Same key, same plaintext, re-PUT: the old blob of identical content still must not open."""
    data = plain(1)
    old = blob.read_bytes()
    new_blob = put(srv, key, data)
    new_blob.write_bytes(old)
    return data


ALL = {0, 1, 2, 3}
CASES: dict[str, Case] = {
    # the blob's copy of the outer header is redundant with metadata, but FORMAT.md section 6/7 says a whole read
    # checks it; nothing returned can be wrong either way
    "header_bitflip": Case(lambda s, k, b: flip(b, 10, 3), set(), intact_must_read=False),
    "header_magic_bitflip": Case(lambda s, k, b: flip(b, 0, 0), set(), intact_must_read=False),
    "segment0_bitflip": Case(lambda s, k, b: flip(b, seg_offset(0) + 1234, 5), {0}),
    "segment0_tag_bitflip": Case(lambda s, k, b: flip(b, seg_offset(1) - 1, 7), {0}),
    "last_segment_bitflip": Case(lambda s, k, b: flip(b, seg_offset(LAST) + 4000, 1), {LAST}),
    "last_byte_bitflip": Case(lambda s, k, b: flip(b, SEALED_SIZE - 1, 0), {LAST}),
    "truncate_at_segment_boundary": Case(lambda s, k, b: truncate(b, seg_offset(LAST)), {LAST}),
    "truncate_inside_segment": Case(lambda s, k, b: truncate(b, seg_offset(1) + 5000), {1, 2, 3}),
    "truncate_to_header": Case(lambda s, k, b: truncate(b, HDR), ALL),
    "truncate_to_empty": Case(lambda s, k, b: truncate(b, 0), ALL),
    "swap_segments_0_1": Case(lambda s, k, b: swap_segments(b, 0, 1), {0, 1}),
    # appended bytes lie outside every segment: ranges may ignore them, a whole read must not (FORMAT.md section 7)
    "append_bytes": Case(lambda s, k, b: append(b, b"\x00" * 100), set(), intact_must_read=False),
    "append_duplicate_final_segment": Case(
        lambda s, k, b: append(b, b.read_bytes()[seg_offset(LAST) :]), set(), intact_must_read=False
    ),
    "splice_other_objects_blob": Case(_splice_other, ALL),
    "splice_same_key_other_bucket": Case(_splice_same_key_other_bucket, ALL),
    "replace_with_older_version_blob": Case(_older_version, ALL),
    "replace_with_same_content_earlier_blob": Case(_rewind_to_same_object_other_blob, ALL),
    "delete_blob": Case(lambda s, k, b: b.unlink(), ALL),
}


@pytest.mark.parametrize("case", list(CASES))
def test_tampered_blob_never_yields_wrong_bytes(tamper_server: Server, case: str) -> None:
    srv = tamper_server
    spec = CASES[case]
    key = f"obj-{case}"
    truth = plain(1)
    blob = put(srv, key, truth)
    control_key = f"control-{case}"
    control = plain(2, 70_000)
    put(srv, control_key, control)
    assert fetch(srv, key).body == truth

    changed = spec.tamper(srv, key, blob)
    if changed is not None:
        truth = changed

    check_fails(srv, key, truth, None, case)
    for i in range(4):
        if i in spec.broken_segments:
            check_fails(srv, key, truth, rng(i), case)
        else:
            check_reads(srv, key, truth, rng(i), case, must=spec.intact_must_read)
    if spec.broken_segments and spec.broken_segments != ALL:
        # a range that spans an intact and a broken segment fails as a whole
        lo = min(set(range(4)) - spec.broken_segments)
        hi = max(spec.broken_segments)
        if lo < hi:
            check_fails(srv, key, truth, (lo * P + 10, hi * P + 10), case)

    # HEAD needs no blob, and the server keeps serving other objects
    assert srv.client().head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(truth)
    out = fetch(srv, control_key)
    assert out.ok and out.body == control
    assert srv.proc.poll() is None


def put_multipart(srv: Server, key: str, parts: list[bytes]) -> list[Path]:
    """Upload ``parts`` as one multipart object; the paths of its part blobs, in part order."""
    s3 = srv.client()
    up = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    etags = [
        s3.upload_part(Bucket=BUCKET, Key=key, UploadId=up, PartNumber=n, Body=body)["ETag"]
        for n, body in enumerate(parts, 1)
    ]
    s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key=key,
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    db = sqlite3.connect(f"file:{srv.data_dir / 'strongroom.db'}?mode=ro", uri=True)
    try:
        ids = [
            r[0]
            for r in db.execute(
                "SELECT p.blob_id FROM objects o JOIN object_parts p ON p.object_id = o.id "
                "JOIN buckets b ON b.id = o.bucket_id WHERE b.name = ? AND o.key = ? ORDER BY p.part_number",
                (BUCKET, key),
            )
        ]
    finally:
        db.close()
    return [srv.data_dir / "blobs" / "local" / i[:2] / i[2:4] / i for i in ids]


def test_swapped_multipart_part_blobs(tamper_server: Server) -> None:
    """Two equal-size parts of one object: the part number is in the identity, so swapping their blobs fails."""
    srv = tamper_server
    part = 5 * 1024 * 1024
    p1, p2 = plain(5, part), plain(6, part)
    blobs = put_multipart(srv, "mp", [p1, p2])
    assert len(blobs) == 2
    a, b = blobs
    blob_a, blob_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(blob_b)
    b.write_bytes(blob_a)
    truth = p1 + p2
    check_fails(srv, "mp", truth, None, "swapped parts")
    check_fails(srv, "mp", truth, (10, 20), "swapped parts")
    check_fails(srv, "mp", truth, (part + 10, part + 20), "swapped parts")
    assert srv.proc.poll() is None


def test_late_tamper_breaks_the_stream_after_a_true_prefix(tamper_server: Server) -> None:
    """A 3 MiB object with its last segment damaged: the failure comes after the response started (the server
    decrypts about 1 MiB at a time), so the client must see a short, broken stream whose bytes are a true prefix."""
    srv = tamper_server
    size = 3 * 1024 * 1024 + 777
    truth = plain(3, size)
    blob = put(srv, "late", truth)
    flip(blob, blob.stat().st_size - 50, 2)
    out = fetch(srv, "late")
    assert truth.startswith(out.body), "bytes before the failure are not a prefix of the plaintext"
    assert not out.ok, "damage in the last segment went undetected"
    assert len(out.body) < size
    assert out.code is None or (out.status, out.code) == (500, "InternalError")
    # a raw httpx read sees the same: the stream breaks (never a clean end), after a true prefix
    url = srv.client().generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "late"})
    got = bytearray()
    error: Exception | None = None
    try:
        with httpx.stream("GET", url, verify=_ssl(srv), timeout=30) as r:
            assert r.status_code == 200
            assert r.headers["content-length"] == str(size)
            for chunk in r.iter_raw():
                got += chunk
    except httpx.HTTPError as exc:
        error = exc
    assert truth.startswith(bytes(got)), "raw stream: bytes are not a prefix of the plaintext"
    assert error is not None, f"raw stream ended cleanly after {len(got)} of {size} bytes"
    assert len(got) < size
    # the first megabytes were fine, so a range over them reads
    assert fetch(srv, "late", (0, 1024 * 1024 - 1)).body == truth[: 1024 * 1024]
    assert srv.proc.poll() is None


@pytest.mark.parametrize(
    "damage",
    ["truncated_after_1_5_MiB", "bytes_appended", "header_bitflip", "blob_of_another_object"],
)
def test_damage_to_a_large_blobs_length_or_header_is_an_error_before_the_answer(
    tamper_server: Server, damage: str
) -> None:
    """A GET too large to decrypt before answering still checks each blob's length and header first: damage of
    that kind after the first MiB is a clean 500 InternalError, never a 200 with the full Content-Length that is
    then cut off (issue 12)."""
    srv = tamper_server
    size = 3 * 1024 * 1024 + 777
    truth = plain(7, size)
    key = f"large-{damage}"
    blob = put(srv, key, truth)
    if damage == "truncated_after_1_5_MiB":
        truncate(blob, 3 * 1024 * 1024 // 2)
    elif damage == "bytes_appended":
        append(blob, b"\x00" * 10)
    elif damage == "header_bitflip":
        flip(blob, 20, 1)
    else:
        donor = put(srv, key + "-donor", plain(8, size))
        shutil.copyfile(donor, blob)
    for byte_range in (None, (1024 * 1024, size - 1)):
        out = fetch(srv, key, byte_range)
        assert (out.ok, out.status, out.code) == (False, 500, "InternalError"), (byte_range, out.error)
        assert out.body == b""
    url = srv.client().generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key})
    r = httpx.get(url, verify=_ssl(srv), timeout=30)  # a whole, clean error document
    assert r.status_code == 500 and b"<Code>InternalError</Code>" in r.content
    assert r.headers["content-length"] == str(len(r.content))
    assert srv.proc.poll() is None


def test_a_truncated_later_part_of_a_multipart_object_is_an_error_before_the_answer(tamper_server: Server) -> None:
    srv = tamper_server
    part = 5 * 1024 * 1024
    p1, p2 = plain(11, part), plain(12, 1234)
    truncate(put_multipart(srv, "mp-trunc", [p1, p2])[1], 100)
    out = fetch(srv, "mp-trunc")
    assert (out.ok, out.status, out.code) == (False, 500, "InternalError"), out.error
    # a range inside the intact first part still reads
    assert fetch(srv, "mp-trunc", (0, 2 * 1024 * 1024)).body == p1[: 2 * 1024 * 1024 + 1]


def _ssl(srv: Server) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=srv.ca)


def test_error_does_not_leak_internals(tamper_server: Server) -> None:
    """The integrity error is opaque: no blob id, path, or crypto detail in the response."""
    srv = tamper_server
    truth = plain(4)
    blob = put(srv, "leak", truth)
    flip(blob, seg_offset(0) + 10)
    url = srv.client().generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "leak"})
    r = httpx.get(url, verify=_ssl(srv), timeout=30)
    assert r.status_code == 500
    assert "<Code>InternalError</Code>" in r.text
    for secret in (blob.name, str(srv.data_dir), "segment", "tag", "Traceback", "DecryptionFailed"):
        assert secret not in r.text, f"error response leaks {secret!r}: {r.text}"
