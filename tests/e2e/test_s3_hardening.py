"""Hostile input the S3 endpoint must answer with the S3 error, never a 500 or a dropped connection (issue 12's
hardening list): GetObject ``response-*`` overrides that cannot be headers, and paths that begin with ``//``."""

from __future__ import annotations

import ssl
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
from tests.conftest import Server

pytestmark = pytest.mark.e2e


def error_code(body: bytes) -> str:
    return ET.fromstring(body).findtext("Code") or ""


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("ResponseContentType", "text/plain\r\nX-Injected: 1"),
        ("ResponseContentDisposition", "attachment\nset-cookie: a=b"),
        ("ResponseCacheControl", "no-cache\x00"),
        ("ResponseContentLanguage", "日本語"),
        ("ResponseContentEncoding", "gzip\x7f"),
    ],
)
def test_response_overrides_that_cannot_be_headers_are_invalid_argument(
    s3: Any, bucket: str, server: Server, param: str, value: str
) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"payload")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k", param: value}, ExpiresIn=60)
    r = httpx.get(url, verify=ssl.create_default_context(cafile=server.ca))
    assert r.status_code == 400, r.text
    assert error_code(r.content) == "InvalidArgument"
    assert "x-injected" not in r.headers and "set-cookie" not in r.headers
    # a value that is a header works, byte for byte
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k", param: "fine; v=1"}, ExpiresIn=60
    )
    ok = httpx.get(url, verify=ssl.create_default_context(cafile=server.ca))
    assert ok.status_code == 200 and ok.content == b"payload"


def test_a_latin1_override_is_passed_through(s3: Any, bucket: str, server: Server) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    got = s3.get_object(Bucket=bucket, Key="k", ResponseContentLanguage="fr-CA")
    assert got["ContentLanguage"] == "fr-CA"
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k", "ResponseContentDisposition": "inline; é"}, ExpiresIn=60
    )
    r = httpx.get(url, verify=ssl.create_default_context(cafile=server.ca))
    assert r.status_code == 200 and r.headers.raw[0] is not None
    assert dict(r.headers.raw)[b"content-disposition"] == "inline; é".encode("latin-1")


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "POST"])
@pytest.mark.parametrize("path", ["//bucket/key", "//", "//bucket"])
def test_a_path_that_begins_with_two_slashes_is_an_invalid_bucket_name(server: Server, method: str, path: str) -> None:
    with httpx.Client(verify=ssl.create_default_context(cafile=server.ca)) as c:
        r = c.request(method, server.endpoint + path, content=b"x" if method in ("PUT", "POST") else None)
    assert r.status_code == 400, (method, path, r.status_code, r.text)
    if method != "HEAD":
        assert error_code(r.content) == "InvalidBucketName"
        assert ET.fromstring(r.content).findtext("BucketName") == ""


def _error(call: Any) -> tuple[int, str, dict[str, Any]]:
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Code"], exc.response["Error"]
    raise AssertionError("the request succeeded")


def test_headers_for_what_is_not_built_are_refused_not_ignored(s3: Any, bucket: str) -> None:
    import datetime as dt

    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    s3.put_object(Bucket=bucket, Key="src", Body=b"s")
    cases = [
        (lambda: s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="team=a"), 501, "NotImplemented"),
        (lambda: s3.create_multipart_upload(Bucket=bucket, Key="t", Tagging="team=a"), 501, "NotImplemented"),
        (
            lambda: s3.copy_object(
                Bucket=bucket,
                Key="t",
                CopySource={"Bucket": bucket, "Key": "src"},
                TaggingDirective="REPLACE",
                Tagging="team=a",
            ),
            501,
            "NotImplemented",
        ),
        (
            lambda: s3.put_object(
                Bucket=bucket, Key="t", Body=b"x", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until
            ),
            400,
            "InvalidRequest",
        ),
        (
            lambda: s3.put_object(Bucket=bucket, Key="t", Body=b"x", ObjectLockLegalHoldStatus="ON"),
            400,
            "InvalidRequest",
        ),
    ]
    for call, status, code in cases:
        got = _error(call)
        assert got[:2] == (status, code), got
        if code == "NotImplemented":
            assert got[2]["Header"] == "x-amz-tagging"
        else:
            assert got[2]["Message"] == "Bucket is missing Object Lock Configuration"
    assert _error(lambda: s3.head_object(Bucket=bucket, Key="t"))[:2] == (404, "404")  # nothing was written
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    locked = f"{bucket[:40]}-lock"
    got = _error(lambda: s3.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True))
    assert got[:2] == (501, "NotImplemented") and got[2]["Header"] == "x-amz-bucket-object-lock-enabled"
    assert _error(lambda: s3.head_bucket(Bucket=locked))[0] == 404
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x", Tagging="")  # no tags asked: fine
