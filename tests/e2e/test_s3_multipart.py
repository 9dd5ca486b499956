"""End-to-end multipart uploads against the real server: exact bytes, ETags, error codes, paging,
UploadPartCopy, part-numbered GETs and a 100 MiB managed transfer through boto3's TransferManager."""

from __future__ import annotations

import base64
import hashlib
import random
import zlib
from pathlib import Path

import boto3.s3.transfer
import botocore.exceptions
import crc32c
import pytest
from tests.conftest import Server

pytestmark = pytest.mark.e2e

KiB = 1024
MiB = 1024 * KiB


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def multipart_etag(parts: list[bytes]) -> str:
    return '"' + hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + f'-{len(parts)}"'


def client_error(excinfo: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[str, int]:
    resp = excinfo.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


def blob(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


PART_SIZES = [5 * MiB, 5 * MiB, 1 * KiB]


@pytest.fixture(scope="module")
def parts() -> list[bytes]:
    return [blob(n, seed=i) for i, n in enumerate(PART_SIZES)]


def upload_parts(s3, bucket: str, key: str, parts: list[bytes], **create_kw) -> tuple[str, list[dict]]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, **create_kw)["UploadId"]
    done = []
    for n, data in enumerate(parts, start=1):
        resp = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=data)
        assert resp["ETag"] == f'"{md5_hex(data)}"'
        done.append({"PartNumber": n, "ETag": resp["ETag"]})
    return upload_id, done


def test_three_part_upload_exact(s3, bucket: str, parts: list[bytes]) -> None:
    resp = s3.create_multipart_upload(
        Bucket=bucket, Key="mp/obj", ContentType="application/x-test", Metadata={"kind": "multi"}
    )
    assert resp["Bucket"] == bucket and resp["Key"] == "mp/obj" and resp["UploadId"]
    upload_id = resp["UploadId"]
    done = []
    for n, data in enumerate(parts, start=1):
        r = s3.upload_part(Bucket=bucket, Key="mp/obj", UploadId=upload_id, PartNumber=n, Body=data)
        assert r["ETag"] == f'"{md5_hex(data)}"'
        done.append({"PartNumber": n, "ETag": r["ETag"]})
    resp = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp/obj", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    want_etag = multipart_etag(parts)
    assert resp["ETag"] == want_etag
    assert resp["Bucket"] == bucket and resp["Key"] == "mp/obj"
    assert resp["Location"].endswith(f"/{bucket}/mp/obj")
    whole = b"".join(parts)
    got = s3.get_object(Bucket=bucket, Key="mp/obj")
    assert got["ETag"] == want_etag
    assert got["ContentLength"] == len(whole)
    assert got["ContentType"] == "application/x-test" and got["Metadata"] == {"kind": "multi"}
    assert hashlib.sha256(got["Body"].read()).hexdigest() == hashlib.sha256(whole).hexdigest()
    head = s3.head_object(Bucket=bucket, Key="mp/obj")
    assert head["ETag"] == want_etag and head["ContentLength"] == len(whole)
    assert "PartsCount" not in head

    # a range across the part boundary
    lo, hi = 5 * MiB - 10, 5 * MiB + 9
    r = s3.get_object(Bucket=bucket, Key="mp/obj", Range=f"bytes={lo}-{hi}")
    assert r["Body"].read() == whole[lo : hi + 1]
    assert r["ContentRange"] == f"bytes {lo}-{hi}/{len(whole)}"

    # part-numbered GET and HEAD
    for n in (1, 2, 3):
        start = sum(PART_SIZES[: n - 1])
        end = start + PART_SIZES[n - 1] - 1
        r = s3.get_object(Bucket=bucket, Key="mp/obj", PartNumber=n)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert r["PartsCount"] == 3
        assert r["ContentLength"] == PART_SIZES[n - 1]
        assert r["ContentRange"] == f"bytes {start}-{end}/{len(whole)}"
        assert r["Body"].read() == parts[n - 1]
        h = s3.head_object(Bucket=bucket, Key="mp/obj", PartNumber=n)
        assert h["PartsCount"] == 3 and h["ContentLength"] == PART_SIZES[n - 1]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="mp/obj", PartNumber=4)
    assert client_error(ei) == ("InvalidPartNumber", 416)

    attrs = s3.get_object_attributes(
        Bucket=bucket, Key="mp/obj", ObjectAttributes=["ETag", "ObjectSize", "StorageClass", "ObjectParts"]
    )
    assert attrs["ETag"] == want_etag.strip('"')
    assert attrs["ObjectSize"] == len(whole)
    assert attrs["StorageClass"] == "STANDARD"
    assert attrs["ObjectParts"]["TotalPartsCount"] == 3

    listed = s3.list_objects_v2(Bucket=bucket, Prefix="mp/")["Contents"]
    assert [(o["Key"], o["ETag"], o["Size"]) for o in listed] == [("mp/obj", want_etag, len(whole))]
    # the upload is gone
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=upload_id)
    assert client_error(ei) == ("NoSuchUpload", 404)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_part_number_on_single_part_object(s3, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="single", Body=b"0123456789")
    r = s3.get_object(Bucket=bucket, Key="single", PartNumber=1)
    assert r["Body"].read() == b"0123456789"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.get_object(Bucket=bucket, Key="single", PartNumber=2)
    assert client_error(ei) == ("InvalidPartNumber", 416)


def test_complete_errors(s3, bucket: str, parts: list[bytes]) -> None:
    upload_id, done = upload_parts(s3, bucket, "errs", parts)
    # wrong ETag
    bad = [dict(p) for p in done]
    bad[1]["ETag"] = '"' + "0" * 32 + '"'
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key="errs", UploadId=upload_id, MultipartUpload={"Parts": bad})
    assert client_error(ei) == ("InvalidPart", 400)
    # a part that was never uploaded
    missing = [*done, {"PartNumber": 9, "ETag": done[0]["ETag"]}]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key="errs", UploadId=upload_id, MultipartUpload={"Parts": missing})
    assert client_error(ei) == ("InvalidPart", 400)
    # out of order
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="errs", UploadId=upload_id, MultipartUpload={"Parts": [done[1], done[0], done[2]]}
        )
    assert client_error(ei) == ("InvalidPartOrder", 400)
    # the failures left the upload intact: it still completes
    resp = s3.complete_multipart_upload(Bucket=bucket, Key="errs", UploadId=upload_id, MultipartUpload={"Parts": done})
    assert resp["ETag"] == multipart_etag(parts)
    assert s3.get_object(Bucket=bucket, Key="errs")["Body"].read() == b"".join(parts)


def test_entity_too_small(s3, bucket: str) -> None:
    small = [blob(1 * KiB, 1), blob(1 * KiB, 2)]
    upload_id, done = upload_parts(s3, bucket, "small", small)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=upload_id, MultipartUpload={"Parts": done})
    assert client_error(ei) == ("EntityTooSmall", 400)
    err = ei.value.response["Error"]
    assert err.get("ProposedSize") == "1024" and err.get("PartNumber") == "1"
    # a single small part is a valid object
    resp = s3.complete_multipart_upload(
        Bucket=bucket, Key="small", UploadId=upload_id, MultipartUpload={"Parts": done[1:]}
    )
    assert resp["ETag"] == multipart_etag(small[1:])
    assert s3.get_object(Bucket=bucket, Key="small")["Body"].read() == small[1]


def test_abort(s3, bucket: str) -> None:
    upload_id, done = upload_parts(s3, bucket, "gone", [b"abc"])
    resp = s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=upload_id)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    for call in (
        lambda: s3.list_parts(Bucket=bucket, Key="gone", UploadId=upload_id),
        lambda: s3.upload_part(Bucket=bucket, Key="gone", UploadId=upload_id, PartNumber=2, Body=b"x"),
        lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key="gone", UploadId=upload_id, MultipartUpload={"Parts": done}
        ),
        lambda: s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=upload_id),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            call()
        assert client_error(ei) == ("NoSuchUpload", 404)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.head_object(Bucket=bucket, Key="gone")
    assert client_error(ei) == ("404", 404)
    # the upload id belongs to its key
    other, _ = upload_parts(s3, bucket, "mine", [b"x"])
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.list_parts(Bucket=bucket, Key="not-mine", UploadId=other)
    assert client_error(ei) == ("NoSuchUpload", 404)


def test_upload_part_number_bounds(s3, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="bounds")["UploadId"]
    for n in (0, 10001):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            s3.upload_part(Bucket=bucket, Key="bounds", UploadId=upload_id, PartNumber=n, Body=b"x")
        assert client_error(ei) == ("InvalidArgument", 400)
    r = s3.upload_part(Bucket=bucket, Key="bounds", UploadId=upload_id, PartNumber=10000, Body=b"last")
    assert r["ETag"] == f'"{md5_hex(b"last")}"'
    # re-uploading a part replaces it
    s3.upload_part(Bucket=bucket, Key="bounds", UploadId=upload_id, PartNumber=10000, Body=b"again")
    listed = s3.list_parts(Bucket=bucket, Key="bounds", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [(10000, f'"{md5_hex(b"again")}"', 5)]


def test_upload_part_content_md5(s3, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="pmd5")["UploadId"]
    data = b"part data"
    good = base64.b64encode(hashlib.md5(data).digest()).decode()
    r = s3.upload_part(Bucket=bucket, Key="pmd5", UploadId=upload_id, PartNumber=1, Body=data, ContentMD5=good)
    assert r["ETag"] == f'"{md5_hex(data)}"'
    bad = base64.b64encode(hashlib.md5(b"nope").digest()).decode()
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.upload_part(Bucket=bucket, Key="pmd5", UploadId=upload_id, PartNumber=2, Body=data, ContentMD5=bad)
    assert client_error(ei) == ("BadDigest", 400)
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=bucket, Key="pmd5", UploadId=upload_id)["Parts"]] == [1]


def test_list_parts_paging(s3, bucket: str) -> None:
    datas = [f"part-{n}".encode() for n in range(1, 6)]
    upload_id, _ = upload_parts(s3, bucket, "paged", datas)
    resp = s3.list_parts(Bucket=bucket, Key="paged", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in resp["Parts"]] == [1, 2]
    assert resp["IsTruncated"] is True and resp["NextPartNumberMarker"] == 2 and resp["MaxParts"] == 2
    assert resp["Parts"][0]["ETag"] == f'"{md5_hex(datas[0])}"' and resp["Parts"][0]["Size"] == len(datas[0])
    assert resp["UploadId"] == upload_id and resp["Key"] == "paged" and resp["Bucket"] == bucket
    assert resp["StorageClass"] == "STANDARD"
    resp = s3.list_parts(Bucket=bucket, Key="paged", UploadId=upload_id, MaxParts=2, PartNumberMarker=2)
    assert [p["PartNumber"] for p in resp["Parts"]] == [3, 4]
    assert resp["PartNumberMarker"] == 2 and resp["NextPartNumberMarker"] == 4 and resp["IsTruncated"] is True
    resp = s3.list_parts(Bucket=bucket, Key="paged", UploadId=upload_id, MaxParts=2, PartNumberMarker=4)
    assert [p["PartNumber"] for p in resp["Parts"]] == [5] and resp["IsTruncated"] is False
    pages = s3.get_paginator("list_parts").paginate(
        Bucket=bucket, Key="paged", UploadId=upload_id, PaginationConfig={"PageSize": 2}
    )
    assert [p["PartNumber"] for page in pages for p in page["Parts"]] == [1, 2, 3, 4, 5]


def test_list_multipart_uploads(s3, bucket: str) -> None:
    ids = {}
    for key in ("logs/a", "logs/b", "logs/deep/c", "data/x", "top"):
        ids[key] = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    second_a = s3.create_multipart_upload(Bucket=bucket, Key="logs/a")["UploadId"]
    resp = s3.list_multipart_uploads(Bucket=bucket)
    assert sorted(u["Key"] for u in resp["Uploads"]) == sorted([*ids, "logs/a"])
    resp = s3.list_multipart_uploads(Bucket=bucket, Prefix="logs/")
    got = [(u["Key"], u["UploadId"]) for u in resp["Uploads"]]
    assert [k for k, _ in got] == ["logs/a", "logs/a", "logs/b", "logs/deep/c"]
    assert {u for k, u in got if k == "logs/a"} == {ids["logs/a"], second_a}
    assert resp["Prefix"] == "logs/"
    resp = s3.list_multipart_uploads(Bucket=bucket, Prefix="logs/", Delimiter="/")
    assert [u["Key"] for u in resp["Uploads"]] == ["logs/a", "logs/a", "logs/b"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["logs/deep/"]
    resp = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in resp["Uploads"]] == ["top"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["data/", "logs/"]
    # paging with key and upload-id markers
    seen = []
    kw: dict[str, str] = {}
    while True:
        page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=2, **kw)
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        kw = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert sorted(seen) == sorted([*((k, v) for k, v in ids.items()), ("logs/a", second_a)])
    assert len(seen) == len(set(seen))
    resp = s3.list_multipart_uploads(Bucket=bucket, Prefix="nothing/")
    assert "Uploads" not in resp


def test_upload_part_copy(s3, bucket: str) -> None:
    source = blob(6 * MiB + 100, seed=42)
    s3.put_object(Bucket=bucket, Key="copy-src", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="copy-dst")["UploadId"]
    first = source[: 5 * MiB]
    r1 = s3.upload_part_copy(
        Bucket=bucket,
        Key="copy-dst",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "copy-src"},
        CopySourceRange=f"bytes=0-{5 * MiB - 1}",
    )
    assert r1["CopyPartResult"]["ETag"] == f'"{md5_hex(first)}"'
    second = source[5 * MiB + 50 :]
    r2 = s3.upload_part_copy(
        Bucket=bucket,
        Key="copy-dst",
        UploadId=upload_id,
        PartNumber=2,
        CopySource={"Bucket": bucket, "Key": "copy-src"},
        CopySourceRange=f"bytes={5 * MiB + 50}-{len(source) - 1}",
    )
    assert r2["CopyPartResult"]["ETag"] == f'"{md5_hex(second)}"'
    r3 = s3.upload_part_copy(
        Bucket=bucket, Key="copy-dst", UploadId=upload_id, PartNumber=3, CopySource=f"{bucket}/copy-src"
    )
    assert r3["CopyPartResult"]["ETag"] == f'"{md5_hex(source)}"'
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.upload_part_copy(
            Bucket=bucket,
            Key="copy-dst",
            UploadId=upload_id,
            PartNumber=4,
            CopySource={"Bucket": bucket, "Key": "copy-src"},
            CopySourceRange=f"bytes=0-{len(source)}",
        )
    assert client_error(ei) == ("InvalidRange", 416)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.upload_part_copy(
            Bucket=bucket,
            Key="copy-dst",
            UploadId=upload_id,
            PartNumber=4,
            CopySource={"Bucket": bucket, "Key": "copy-src"},
            CopySourceIfMatch='"nope"',
        )
    assert client_error(ei) == ("PreconditionFailed", 412)
    parts = [
        {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]},
        {"PartNumber": 3, "ETag": r3["CopyPartResult"]["ETag"]},
    ]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        # part 2 is smaller than 5 MiB and not last
        s3.complete_multipart_upload(
            Bucket=bucket, Key="copy-dst", UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    assert client_error(ei) == ("EntityTooSmall", 400)
    resp = s3.complete_multipart_upload(
        Bucket=bucket, Key="copy-dst", UploadId=upload_id, MultipartUpload={"Parts": [parts[0], parts[1]]}
    )
    assert resp["ETag"] == multipart_etag([first, second])
    assert s3.get_object(Bucket=bucket, Key="copy-dst")["Body"].read() == first + second


def test_multipart_with_checksums(s3, bucket: str, parts: list[bytes]) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key="ck", ChecksumAlgorithm="CRC32")
    upload_id = up["UploadId"]
    assert up["ChecksumAlgorithm"] == "CRC32"
    done = []
    for n, data in enumerate(parts, start=1):
        r = s3.upload_part(
            Bucket=bucket, Key="ck", UploadId=upload_id, PartNumber=n, Body=data, ChecksumAlgorithm="CRC32"
        )
        want = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
        assert r["ChecksumCRC32"] == want
        done.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    listed = s3.list_parts(Bucket=bucket, Key="ck", UploadId=upload_id)
    assert [p["ChecksumCRC32"] for p in listed["Parts"]] == [p["ChecksumCRC32"] for p in done]
    resp = s3.complete_multipart_upload(Bucket=bucket, Key="ck", UploadId=upload_id, MultipartUpload={"Parts": done})
    composite = (
        base64.b64encode(
            zlib.crc32(b"".join(base64.b64decode(p["ChecksumCRC32"]) for p in done)).to_bytes(4, "big")
        ).decode()
        + "-3"
    )
    assert resp["ChecksumCRC32"] == composite
    assert resp["ETag"] == multipart_etag(parts)
    head = s3.head_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == composite
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-type"] == "COMPOSITE"
    attrs = s3.get_object_attributes(Bucket=bucket, Key="ck", ObjectAttributes=["Checksum", "ObjectParts"])
    assert attrs["Checksum"]["ChecksumCRC32"] == composite
    assert attrs["Checksum"]["ChecksumType"] == "COMPOSITE"
    assert attrs["ObjectParts"]["TotalPartsCount"] == 3
    assert [(p["PartNumber"], p["Size"], p["ChecksumCRC32"]) for p in attrs["ObjectParts"]["Parts"]] == [
        (n, len(d), done[n - 1]["ChecksumCRC32"]) for n, d in enumerate(parts, start=1)
    ]
    paged = s3.get_object_attributes(
        Bucket=bucket, Key="ck", ObjectAttributes=["ObjectParts"], MaxParts=1, PartNumberMarker=1
    )["ObjectParts"]
    assert [p["PartNumber"] for p in paged["Parts"]] == [2]
    assert paged["IsTruncated"] is True and paged["NextPartNumberMarker"] == 2 and paged["MaxParts"] == 1
    assert paged["PartNumberMarker"] == 1 and paged["TotalPartsCount"] == 3
    got = s3.get_object(Bucket=bucket, Key="ck", PartNumber=2, ChecksumMode="ENABLED")
    assert got["Body"].read() == parts[1]
    assert got["ChecksumCRC32"] == done[1]["ChecksumCRC32"]  # a part GET carries that part's checksum


@pytest.mark.slow
def test_transfer_100mib(server: Server, bucket: str, tmp_path: Path) -> None:
    s3 = server.client(max_pool_connections=16)
    size = 100 * MiB
    data = random.Random(20240601).randbytes(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    want = hashlib.sha256(data).hexdigest()
    config = boto3.s3.transfer.TransferConfig(
        multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=8
    )
    s3.upload_file(str(src), bucket, "big/file.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big/file.bin")
    assert head["ContentLength"] == size
    chunks = [data[i : i + 8 * MiB] for i in range(0, size, 8 * MiB)]
    assert head["ETag"] == multipart_etag(chunks)
    dst = tmp_path / "dst.bin"
    s3.download_file(bucket, "big/file.bin", str(dst), Config=config)
    assert hashlib.sha256(dst.read_bytes()).hexdigest() == want
    rng = random.Random(1234)
    for _ in range(200):
        start = rng.randrange(size)
        length = rng.choice([1, 17, 4096, 65536, 65537, rng.randrange(1, 3 * MiB)])
        end = min(size - 1, start + length - 1)
        r = s3.get_object(Bucket=bucket, Key="big/file.bin", Range=f"bytes={start}-{end}")
        assert r["ContentRange"] == f"bytes {start}-{end}/{size}"
        assert r["Body"].read() == data[start : end + 1], (start, end)
    s3.delete_object(Bucket=bucket, Key="big/file.bin")


def test_multipart_unique_keys_do_not_collide(s3, bucket: str) -> None:
    # two uploads to one key: completing one leaves the other usable
    a, a_parts = upload_parts(s3, bucket, "same", [b"from-a"])
    b, b_parts = upload_parts(s3, bucket, "same", [b"from-b"])
    s3.complete_multipart_upload(Bucket=bucket, Key="same", UploadId=a, MultipartUpload={"Parts": a_parts})
    assert s3.get_object(Bucket=bucket, Key="same")["Body"].read() == b"from-a"
    s3.complete_multipart_upload(Bucket=bucket, Key="same", UploadId=b, MultipartUpload={"Parts": b_parts})
    assert s3.get_object(Bucket=bucket, Key="same")["Body"].read() == b"from-b"


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C"])
def test_multipart_full_object_checksum(s3, bucket: str, algorithm: str) -> None:
    fn = zlib.crc32 if algorithm == "CRC32" else crc32c.crc32c
    field = "Checksum" + algorithm

    def crc(data: bytes) -> str:
        return base64.b64encode(fn(data).to_bytes(4, "big")).decode()

    datas = [blob(5 * MiB, 7), blob(5 * MiB + 3, 8), blob(777, 9)]
    up = s3.create_multipart_upload(Bucket=bucket, Key="full", ChecksumAlgorithm=algorithm, ChecksumType="FULL_OBJECT")
    assert up["ChecksumAlgorithm"] == algorithm and up["ChecksumType"] == "FULL_OBJECT"
    done = []
    for n, data in enumerate(datas, start=1):
        # an explicit value travels as a header; botocore computes CRC32C only with awscrt installed
        r = s3.upload_part(
            Bucket=bucket, Key="full", UploadId=up["UploadId"], PartNumber=n, Body=data, **{field: crc(data)}
        )
        assert r[field] == crc(data)
        done.append({"PartNumber": n, "ETag": r["ETag"], field: r[field]})
    whole = b"".join(datas)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="full",
            UploadId=up["UploadId"],
            MultipartUpload={"Parts": done},
            ChecksumType="FULL_OBJECT",
            **{field: crc(b"not the object")},
        )
    assert client_error(ei) == ("BadDigest", 400)
    resp = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="full",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": done},
        ChecksumType="FULL_OBJECT",
        **{field: crc(whole)},
    )
    assert resp[field] == crc(whole)  # the CRC of the whole object, no "-N" suffix
    assert resp["ChecksumType"] == "FULL_OBJECT"
    assert resp["ETag"] == multipart_etag(datas)
    head = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert head[field] == crc(whole) and head["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert got["Body"].read() == whole and got[field] == crc(whole)


def test_multipart_checksum_type_validation(s3, bucket: str) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        s3.create_multipart_upload(Bucket=bucket, Key="x", ChecksumAlgorithm="SHA256", ChecksumType="FULL_OBJECT")
    assert client_error(ei) == ("InvalidRequest", 400)
    up = s3.create_multipart_upload(Bucket=bucket, Key="x", ChecksumAlgorithm="SHA1")
    assert up["ChecksumType"] == "COMPOSITE"
    s3.abort_multipart_upload(Bucket=bucket, Key="x", UploadId=up["UploadId"])


def test_list_multipart_uploads_paging_same_key(s3, bucket: str) -> None:
    ids = {s3.create_multipart_upload(Bucket=bucket, Key="one/key")["UploadId"] for _ in range(6)}
    ids.add(s3.create_multipart_upload(Bucket=bucket, Key="one/later")["UploadId"])
    seen: list[str] = []
    kw: dict[str, str] = {}
    while True:
        page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=1, **kw)
        assert len(page.get("Uploads", [])) <= 1
        seen += [u["UploadId"] for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        kw = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)
