"""Browser-based POST Object uploads against the real server."""

from __future__ import annotations

import hashlib
import time

import httpx
import pytest

pytestmark = pytest.mark.e2e


def _post(server, presigned, fields=None, content=b"data", filename="f.bin", ctype="application/octet-stream"):
    data = dict(presigned["fields"])
    data.update(fields or {})
    return httpx.post(presigned["url"], data=data, files={"file": (filename, content, ctype)}, verify=server.ca)


def test_post_object_201_stores_exact_bytes_and_content_type(server, s3, bucket):
    body = bytes(range(256)) * 1000
    p = s3.generate_presigned_post(
        bucket,
        "up/${filename}",
        Fields={"success_action_status": "201"},
        Conditions=[
            ["starts-with", "$key", "up/"],
            {"success_action_status": "201"},
            ["content-length-range", 1, 10_000_000],
        ],
    )
    r = _post(server, p, content=body, filename="a b.txt", ctype="text/plain")
    assert r.status_code == 201, r.text
    assert "<Key>up/a b.txt</Key>" in r.text
    assert r.headers["etag"] == f'"{hashlib.md5(body).hexdigest()}"'
    obj = s3.get_object(Bucket=bucket, Key="up/a b.txt")
    assert obj["Body"].read() == body
    assert obj["ContentType"] == "text/plain"
    assert obj["ServerSideEncryption"] == "AES256"


def test_post_object_default_204_and_metadata(server, s3, bucket):
    p = s3.generate_presigned_post(
        bucket,
        "k",
        Fields={"x-amz-meta-color": "blue"},
        Conditions=[{"x-amz-meta-color": "blue"}],
    )
    r = _post(server, p, content=b"hello")
    assert r.status_code == 204, r.text
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["Metadata"] == {"color": "blue"}
    assert head["ContentLength"] == 5


def test_post_object_policy_violations_are_refused(server, s3, bucket):
    p = s3.generate_presigned_post(
        bucket,
        "up/x",
        Conditions=[["content-length-range", 2, 10]],
    )
    r = _post(server, p, fields={"key": "elsewhere"})
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    r = _post(server, p, content=b"x" * 11)
    assert r.status_code == 400 and "<Code>EntityTooLarge</Code>" in r.text
    r = _post(server, p, content=b"x")
    assert r.status_code == 400 and "<Code>EntityTooSmall</Code>" in r.text
    bad = dict(p["fields"])
    bad["x-amz-signature"] = "0" * 64
    r = httpx.post(p["url"], data=bad, files={"file": ("f", b"abc")}, verify=server.ca)
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=bucket, Key="up/x")
    # the server keeps serving
    assert _post(server, p, content=b"12345").status_code == 204
    assert s3.get_object(Bucket=bucket, Key="up/x")["Body"].read() == b"12345"


def test_post_object_expired_policy(server, s3, bucket):
    p = s3.generate_presigned_post(bucket, "k", ExpiresIn=1)
    time.sleep(2.1)
    r = _post(server, p)
    assert r.status_code == 403 and "Policy expired" in r.text


def test_post_object_malformed_form(server, s3, bucket):
    r = httpx.post(
        f"{server.endpoint}/{bucket}",
        content=b"--x\r\nnot a form",
        verify=server.ca,
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code == 400
    assert "<Code>" in r.text


def test_post_object_fields_that_become_headers_are_header_values(server, s3, bucket):
    """Form fields are text and headers bytes: a field that becomes a header of the object (x-amz-meta-*,
    Content-Type, ...) is stored as its UTF-8 bytes, as a PUT header carrying them is, and one no header can carry
    is refused. (They were stored as they came: every GET and HEAD of the object then answered 500 or dropped.)"""
    p = s3.generate_presigned_post(bucket, "snow", Fields={"x-amz-meta-u": "☃"}, Conditions=[{"x-amz-meta-u": "☃"}])
    r = _post(server, p, content=b"hello")
    assert r.status_code == 204, r.text
    head = s3.head_object(Bucket=bucket, Key="snow")  # botocore reads header bytes as Latin-1
    assert head["Metadata"]["u"].encode("latin-1").decode("utf-8") == "☃"
    assert s3.get_object(Bucket=bucket, Key="snow")["Body"].read() == b"hello"
    for name, value in (
        ("x-amz-meta-u", "a\r\nx-injected: 1"),
        ("Content-Type", "text/plain\x00"),
        ("Cache-Control", "\x7f"),
    ):
        p = s3.generate_presigned_post(
            bucket, "bad", Fields={name: value}, Conditions=[["starts-with", f"${name}", ""]]
        )
        r = _post(server, p, content=b"hello")
        assert r.status_code == 400 and "<Code>InvalidArgument</Code>" in r.text, (name, r.text)
        assert f"<ArgumentName>{name.lower()}</ArgumentName>" in r.text
        with pytest.raises(s3.exceptions.ClientError):
            s3.head_object(Bucket=bucket, Key="bad")
    # the file part's own Content-Type header, as the form sends it
    p = s3.generate_presigned_post(bucket, "ctype", Conditions=[["starts-with", "$key", "ctype"]])
    r = _post(server, p, content=b"hello", ctype="text/plain\x01")
    assert r.status_code == 400 and "<Code>InvalidArgument</Code>" in r.text, r.text
