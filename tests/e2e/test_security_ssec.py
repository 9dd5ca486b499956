"""Security property: an SSE-C object is readable only with its customer key.

Without the key GET and HEAD answer 400 (InvalidRequest), with a wrong key 403 (AccessDenied), with the right key the
object reads. Copies out of an SSE-C source (CopyObject, UploadPartCopy) need x-amz-copy-source-server-side-encryption-
customer-*; multipart parts need the upload's key. The ETag does not reveal the plaintext's MD5. SSE-C is refused over
plain HTTP (README: "TLS only").
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.e2e


import tests.conftest as _ct  # noqa: E402

KEY_A = hashlib.sha256(b"ssec key A").digest()
KEY_B = hashlib.sha256(b"ssec key B").digest()
_ct.register_secret(KEY_A, "SSE-C key A")  # the session's log scan fails if a server logs either
_ct.register_secret(KEY_B, "SSE-C key B")
DATA = hashlib.sha256(b"seed").digest() * 4096  # 128 KiB: three segments
SSE_A = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY_A}
SSE_B = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY_B}
SRC_A = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": KEY_A}
SRC_B = {"CopySourceSSECustomerAlgorithm": "AES256", "CopySourceSSECustomerKey": KEY_B}


def error_of(exc: ClientError) -> tuple[int, str]:
    return exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Code"]


def expect_error(fn: Any, status: int, code: str | None, **kwargs: Any) -> None:
    with pytest.raises(ClientError) as info:
        fn(**kwargs)
    got_status, got_code = error_of(info.value)
    assert got_status == status, f"{fn.__name__}: expected {status} {code}, got {got_status} {got_code}"
    if code is not None:
        assert got_code == code, f"{fn.__name__}: expected {status} {code}, got {got_status} {got_code}"


def test_ssec_object_needs_its_key(s3: Any, bucket: str) -> None:
    resp = s3.put_object(Bucket=bucket, Key="secret", Body=DATA, **SSE_A)
    assert resp["SSECustomerAlgorithm"] == "AES256"
    assert resp["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(KEY_A).digest()).decode()

    # no key: 400 InvalidRequest (HEAD: 400 without a body)
    expect_error(s3.get_object, 400, "InvalidRequest", Bucket=bucket, Key="secret")
    expect_error(s3.get_object, 400, "InvalidRequest", Bucket=bucket, Key="secret", Range="bytes=0-9")
    expect_error(s3.head_object, 400, None, Bucket=bucket, Key="secret")
    expect_error(s3.get_object, 400, "InvalidRequest", Bucket=bucket, Key="secret", PartNumber=1)
    # wrong key: 403 AccessDenied
    expect_error(s3.get_object, 403, "AccessDenied", Bucket=bucket, Key="secret", **SSE_B)
    expect_error(s3.get_object, 403, "AccessDenied", Bucket=bucket, Key="secret", Range="bytes=0-9", **SSE_B)
    expect_error(s3.head_object, 403, None, Bucket=bucket, Key="secret", **SSE_B)
    # GetObjectAttributes also needs the key
    expect_error(
        s3.get_object_attributes, 400, "InvalidRequest", Bucket=bucket, Key="secret", ObjectAttributes=["ETag"]
    )
    # the right key reads, whole and ranged
    got = s3.get_object(Bucket=bucket, Key="secret", **SSE_A)
    assert got["Body"].read() == DATA
    assert got["SSECustomerKeyMD5"] == resp["SSECustomerKeyMD5"]
    part = s3.get_object(Bucket=bucket, Key="secret", Range="bytes=70000-70099", **SSE_A)["Body"].read()
    assert part == DATA[70000:70100]
    assert s3.head_object(Bucket=bucket, Key="secret", **SSE_A)["ContentLength"] == len(DATA)


def test_ssec_etag_is_not_the_plaintext_md5(s3: Any, bucket: str) -> None:
    """A plaintext MD5 would let anyone who can list the bucket confirm a guess of the content."""
    etag = s3.put_object(Bucket=bucket, Key="e", Body=DATA, **SSE_A)["ETag"].strip('"')
    assert etag != hashlib.md5(DATA).hexdigest()
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]["ETag"].strip('"')
    assert listed != hashlib.md5(DATA).hexdigest()
    # and the same plaintext under another key gets another ETag
    etag_b = s3.put_object(Bucket=bucket, Key="e2", Body=DATA, **SSE_B)["ETag"].strip('"')
    assert etag_b != etag


def test_key_sent_for_a_non_ssec_object_is_rejected(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    expect_error(s3.get_object, 400, "InvalidRequest", Bucket=bucket, Key="plain", **SSE_A)


def test_copy_object_from_ssec_source_needs_the_source_key(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=DATA, **SSE_A)
    src = {"Bucket": bucket, "Key": "src"}
    # no source key; destination key alone is not the source key
    expect_error(s3.copy_object, 400, "InvalidRequest", Bucket=bucket, Key="dst", CopySource=src)
    expect_error(s3.copy_object, 400, "InvalidRequest", Bucket=bucket, Key="dst", CopySource=src, **SSE_A)
    # wrong source key
    expect_error(s3.copy_object, 403, "AccessDenied", Bucket=bucket, Key="dst", CopySource=src, **SRC_B)
    expect_error(s3.copy_object, 403, "AccessDenied", Bucket=bucket, Key="dst", CopySource=src, **SRC_B, **SSE_A)
    # nothing was written by the refused copies
    expect_error(s3.head_object, 404, None, Bucket=bucket, Key="dst")

    # right source key, destination SSE-S3: readable without a key
    s3.copy_object(Bucket=bucket, Key="dst-plain", CopySource=src, **SRC_A)
    assert s3.get_object(Bucket=bucket, Key="dst-plain")["Body"].read() == DATA
    # right source key, destination under another customer key: only that key opens it
    s3.copy_object(Bucket=bucket, Key="dst-b", CopySource=src, **SRC_A, **SSE_B)
    expect_error(s3.get_object, 400, "InvalidRequest", Bucket=bucket, Key="dst-b")
    expect_error(s3.get_object, 403, "AccessDenied", Bucket=bucket, Key="dst-b", **SSE_A)
    assert s3.get_object(Bucket=bucket, Key="dst-b", **SSE_B)["Body"].read() == DATA
    # in-place copy that changes the key (rotation) needs the old one
    expect_error(s3.copy_object, 400, "InvalidRequest", Bucket=bucket, Key="src", CopySource=src, **SSE_B)
    s3.copy_object(Bucket=bucket, Key="src", CopySource=src, **SRC_A, **SSE_B)
    expect_error(s3.get_object, 403, "AccessDenied", Bucket=bucket, Key="src", **SSE_A)
    assert s3.get_object(Bucket=bucket, Key="src", **SSE_B)["Body"].read() == DATA


def test_upload_part_copy_from_ssec_source_needs_the_source_key(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=DATA, **SSE_A)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    src = {"Bucket": bucket, "Key": "src"}
    common = {"Bucket": bucket, "Key": "mp", "UploadId": up, "PartNumber": 1, "CopySource": src}
    expect_error(s3.upload_part_copy, 400, "InvalidRequest", **common)
    expect_error(s3.upload_part_copy, 403, "AccessDenied", **common, **SRC_B)
    etag = s3.upload_part_copy(**common, **SRC_A)["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == DATA


def test_ssec_multipart_parts_need_the_uploads_key(s3: Any, bucket: str) -> None:
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", **SSE_A)["UploadId"]
    part = {"Bucket": bucket, "Key": "mp", "UploadId": up, "PartNumber": 1, "Body": DATA}
    expect_error(s3.upload_part, 400, "InvalidRequest", **part)
    expect_error(s3.upload_part, 403, "AccessDenied", **part, **SSE_B)
    etag = s3.upload_part(**part, **SSE_A)["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        **SSE_A,
    )
    expect_error(s3.get_object, 400, "InvalidRequest", Bucket=bucket, Key="mp")
    expect_error(s3.get_object, 403, "AccessDenied", Bucket=bucket, Key="mp", **SSE_B)
    assert s3.get_object(Bucket=bucket, Key="mp", **SSE_A)["Body"].read() == DATA


# --- plain HTTP -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = _ct.start_server(tmp_path_factory.mktemp("sec-ssec-http") / "data", ["--insecure-http"])
    try:
        yield srv
    finally:
        srv.stop()


def _signed(srv: Server, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    url = f"http://localhost:{srv.port}{path}"
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    S3SigV4Auth(Credentials(_ct.ROOT_ACCESS, _ct.ROOT_SECRET), "s3", "local").add_auth(req)
    return httpx.request(method, url, headers=dict(req.headers.items()), content=body, timeout=30)


def test_ssec_is_refused_over_plain_http(http_server: Server) -> None:
    """README: SSE-C is TLS only. Over --insecure-http the customer key would cross the network in the clear, so the
    request must be refused (S3: 400 InvalidRequest) and nothing stored."""
    srv = http_server
    assert _signed(srv, "PUT", "/sec-ssec-http").status_code == 200
    key_headers = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": base64.b64encode(KEY_A).decode(),
        "x-amz-server-side-encryption-customer-key-md5": base64.b64encode(hashlib.md5(KEY_A).digest()).decode(),
    }
    r = _signed(srv, "PUT", "/sec-ssec-http/k", b"secret", key_headers)
    assert r.status_code == 400, f"SSE-C PUT over plain HTTP was accepted: {r.status_code} {r.text[:300]}"
    assert "<Code>InvalidRequest</Code>" in r.text
    assert _signed(srv, "HEAD", "/sec-ssec-http/k").status_code == 404
