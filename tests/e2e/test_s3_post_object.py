"""Browser-based POST Object uploads against the real server."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

import boto3
import crc32c
import httpx
import pytest
from botocore.config import Config
from tests.conftest import ROOT_ACCESS, ROOT_SECRET, register_secret
from tests.e2e.test_s3_operations import create_kms_key, unique

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


# --- issue 12 item 2: POST Object as AWS documents it ------------------------------------------------------------


def _fields_of(p, **extra):
    data = dict(p["fields"])
    data.update(extra)
    return data


def _error(r: httpx.Response) -> dict[str, str]:
    """The elements of an S3 error document but the per-request ids."""
    root = ET.fromstring(r.content)
    assert root.tag == "Error", r.text
    return {child.tag: child.text or "" for child in root if child.tag not in ("RequestId", "HostId")}


def _multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "strongroom-post-boundary") -> bytes:
    """A multipart/form-data body in the given order: (name, file name or None, value)."""
    out = b""
    for name, filename, value in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def _post_raw(server, url: str, body: bytes, boundary: str = "strongroom-post-boundary") -> httpx.Response:
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    return httpx.post(url, content=body, headers=headers, verify=server.ca)


def _md5_etag(body: bytes) -> str:
    return f'"{hashlib.md5(body).hexdigest()}"'


def _absent(s3, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    return False


def test_post_object_success_action_status(server, s3, bucket):
    """200 and 204 answer an empty document, 201 the PostResponse XML; a value that is none of them is 204, as S3
    answers "if it is set to an invalid value"."""
    body = b"status body"
    for status, expected in (("200", 200), ("201", 201), ("204", 204), ("302", 204), ("created", 204)):
        key = f"status-{status}"
        p = s3.generate_presigned_post(
            bucket, key, Fields={"success_action_status": status}, Conditions=[{"success_action_status": status}]
        )
        r = _post(server, p, content=body)
        assert r.status_code == expected, (status, r.text)
        location = f"{server.endpoint}/{bucket}/{key}"
        assert r.headers["etag"] == _md5_etag(body) and r.headers["location"] == location
        if expected == 201:
            assert r.headers["content-type"] == "application/xml"
            doc = ET.fromstring(r.content)
            assert doc.tag == "PostResponse" and doc.attrib == {}  # no namespace, as S3 sends it
            assert [(c.tag, c.text) for c in doc] == [
                ("Location", location),
                ("Bucket", bucket),
                ("Key", key),
                ("ETag", _md5_etag(body)),
            ]
        else:
            assert r.content == b""
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body


def test_post_object_201_location_of_a_virtual_hosted_bucket(server, s3, bucket):
    p = s3.generate_presigned_post(
        bucket, "vh/x.txt", Fields={"success_action_status": "201"}, Conditions=[{"success_action_status": "201"}]
    )
    port = server.endpoint.rsplit(":", 1)[1]
    host = f"{bucket}.s3.localhost:{port}"
    r = httpx.post(
        f"{server.endpoint}/",
        data=p["fields"],
        files={"file": ("x.txt", b"virtual", "text/plain")},
        headers={"host": host},
        verify=server.ca,
    )
    assert r.status_code == 201, r.text
    assert ET.fromstring(r.content).findtext("Location") == f"https://{host}/vh/x.txt"
    assert r.headers["location"] == f"https://{host}/vh/x.txt"
    assert s3.get_object(Bucket=bucket, Key="vh/x.txt")["Body"].read() == b"virtual"


def test_post_object_redirects(server, s3, bucket):
    """success_action_redirect and the legacy redirect: 303 to the URL with bucket, key and etag added to its query
    (after any query it has, before its fragment); a URL S3 cannot interpret is ignored."""
    body = b"redirect me"
    etag_q = urllib.parse.quote(_md5_etag(body))
    cases = (
        ("success_action_redirect", "https://app.example/done", "https://app.example/done?"),
        (
            "success_action_redirect",
            "https://app.example/done?from=form&x=1",
            "https://app.example/done?from=form&x=1&",
        ),
        ("redirect", "http://app.example:8080/legacy", "http://app.example:8080/legacy?"),
    )
    for i, (field, url, prefix) in enumerate(cases):
        key = f"redir/{i} a.txt"
        p = s3.generate_presigned_post(bucket, key, Fields={field: url}, Conditions=[{field: url}])
        r = _post(server, p, content=body)
        assert r.status_code == 303, r.text
        query = f"bucket={bucket}&key={urllib.parse.quote_plus(key)}&etag={etag_q}"
        assert r.headers["location"] == prefix + query, r.headers["location"]
        assert r.headers["etag"] == _md5_etag(body)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    # a fragment stays last
    url = "https://app.example/done?a=1#top"
    p = s3.generate_presigned_post(
        bucket, "frag", Fields={"success_action_redirect": url}, Conditions=[{"success_action_redirect": url}]
    )
    r = _post(server, p, content=body)
    assert r.status_code == 303
    assert r.headers["location"] == f"https://app.example/done?a=1&bucket={bucket}&key=frag&etag={etag_q}#top"
    # not a URL: ignored, and success_action_status answers
    for url in ("not a url", "javascript:alert(1)", "/relative/path"):
        p = s3.generate_presigned_post(
            bucket,
            "ignored",
            Fields={"success_action_redirect": url, "success_action_status": "201"},
            Conditions=[{"success_action_redirect": url}, {"success_action_status": "201"}],
        )
        r = _post(server, p, content=body)
        assert r.status_code == 201, (url, r.status_code, r.text)
        assert ET.fromstring(r.content).findtext("Key") == "ignored"


def test_post_object_filename_variable(server, s3, bucket):
    """${filename} is the name of the file (what follows any path the client sent), in every field, and is expanded
    before the policy is checked."""
    p = s3.generate_presigned_post(
        bucket, "up/${filename}", Fields={"success_action_status": "201"}, Conditions=[{"success_action_status": "201"}]
    )
    for filename, key in (
        ("holiday photo.jpg", "up/holiday photo.jpg"),
        ("naïve résumé ☃.txt", "up/naïve résumé ☃.txt"),
        ("C:\\Users\\me\\report 1.pdf", "up/report 1.pdf"),
        ("dir/sub/notes.txt", "up/notes.txt"),
    ):
        r = _post(server, p, content=filename.encode(), filename=filename)
        assert r.status_code == 201, (filename, r.text)
        assert ET.fromstring(r.content).findtext("Key") == key
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == filename.encode()
    # in another field, and the policy sees the expanded value
    p = s3.generate_presigned_post(
        bucket,
        "meta/${filename}",
        Fields={"x-amz-meta-original": "${filename}", "Content-Disposition": 'attachment; filename="${filename}"'},
        Conditions=[
            ["starts-with", "$key", "meta/"],
            ["eq", "$x-amz-meta-original", "cat.gif"],
            ["starts-with", "$Content-Disposition", "attachment; "],
        ],
    )
    r = _post(server, p, content=b"GIF89a", filename="cat.gif")
    assert r.status_code == 204, r.text
    head = s3.head_object(Bucket=bucket, Key="meta/cat.gif")
    assert head["Metadata"] == {"original": "cat.gif"}
    assert head["ContentDisposition"] == 'attachment; filename="cat.gif"'
    r = _post(server, p, content=b"GIF89a", filename="dog.gif")
    assert (r.status_code, _error(r)) == (
        403,
        {
            "Code": "AccessDenied",
            "Message": 'Invalid according to Policy: Policy Condition failed: ["eq", "$x-amz-meta-original", "cat.gif"]',
            "Resource": f"/{bucket}",
        },
    )
    assert _absent(s3, bucket, "meta/dog.gif")


def test_post_object_condition_matching(server, s3, bucket):
    """Names case-insensitive ($Content-Type matches a content-type field), values exact; starts-with on
    Content-Type (every entry of a comma-separated list) and on x-amz-meta-*."""
    p = s3.generate_presigned_post(
        bucket,
        "img",
        Fields={"content-type": "image/png", "x-amz-meta-project": "alpha-7"},
        Conditions=[["starts-with", "$Content-Type", "image/"], ["starts-with", "$X-Amz-Meta-Project", "alpha-"]],
    )
    assert _post(server, p, content=b"png").status_code == 204
    head = s3.head_object(Bucket=bucket, Key="img")
    assert head["ContentType"] == "image/png" and head["Metadata"] == {"project": "alpha-7"}
    # the field's name in another case is the same field
    data = {k: v for k, v in p["fields"].items() if k != "content-type"} | {"Content-Type": "image/gif"}
    r = httpx.post(p["url"], data=data, files={"file": ("f", b"gif")}, verify=server.ca)
    assert r.status_code == 204, r.text
    assert s3.head_object(Bucket=bucket, Key="img")["ContentType"] == "image/gif"
    # so sent in two cases, it is one field sent twice: its values joined by a comma, each meeting starts-with
    r = _post(server, p, fields={"CONTENT-TYPE": "image/jpeg"}, content=b"jpeg")
    assert r.status_code == 204, r.text
    assert s3.head_object(Bucket=bucket, Key="img")["ContentType"] == "image/png,image/jpeg"
    r = _post(server, p, fields={"content-type": "image/png, image/jpeg"})
    assert r.status_code == 204, r.text
    refusals = (
        ({"content-type": "text/html"}, '["starts-with", "$Content-Type", "image/"]'),
        ({"content-type": "image/png, text/html"}, '["starts-with", "$Content-Type", "image/"]'),
        ({"content-type": "Image/png"}, '["starts-with", "$Content-Type", "image/"]'),
        ({"x-amz-meta-project": "beta-1"}, '["starts-with", "$X-Amz-Meta-Project", "alpha-"]'),
    )
    for fields, condition in refusals:
        r = _post(server, p, fields=fields)
        assert (r.status_code, _error(r)) == (
            403,
            {
                "Code": "AccessDenied",
                "Message": f"Invalid according to Policy: Policy Condition failed: {condition}",
                "Resource": f"/{bucket}",
            },
        ), fields


def test_post_object_content_length_range(server, s3, bucket):
    p = s3.generate_presigned_post(bucket, "sized", Conditions=[["content-length-range", 10, 20]])
    for size in (10, 20):
        assert _post(server, p, content=b"s" * size).status_code == 204
        assert s3.head_object(Bucket=bucket, Key="sized")["ContentLength"] == size
    s3.delete_object(Bucket=bucket, Key="sized")
    r = _post(server, p, content=b"s" * 9)
    assert (r.status_code, _error(r)) == (
        400,
        {
            "Code": "EntityTooSmall",
            "Message": "Your proposed upload is smaller than the minimum allowed size",
            "ProposedSize": "9",
            "MinSizeAllowed": "10",
            "Resource": f"/{bucket}/sized",
        },
    )
    for size in (21, 3 * 1024 * 1024 + 5):  # the size of the whole file, past what is sealed
        r = _post(server, p, content=b"s" * size)
        assert (r.status_code, _error(r)) == (
            400,
            {
                "Code": "EntityTooLarge",
                "Message": "Your proposed upload exceeds the maximum allowed size",
                "ProposedSize": str(size),
                "MaxSizeAllowed": "20",
                "Resource": f"/{bucket}/sized",
            },
        )
    assert _absent(s3, bucket, "sized")


def test_post_object_checksum_fields(server, s3, bucket):
    """x-amz-checksum-* fields are checked, stored and returned (HeadObject with ChecksumMode=ENABLED), as the
    headers of a PUT are; a wrong one is BadDigest and stores nothing. Content-MD5 too."""
    body = bytes(range(256)) * 40
    crc32 = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    sha256 = base64.b64encode(hashlib.sha256(body).digest()).decode()
    sha1 = base64.b64encode(hashlib.sha1(body).digest()).decode()
    for field, value, attr in (
        ("x-amz-checksum-crc32", crc32, "ChecksumCRC32"),
        ("x-amz-checksum-sha256", sha256, "ChecksumSHA256"),
        ("x-amz-checksum-sha1", sha1, "ChecksumSHA1"),
        ("x-amz-checksum-crc32c", base64.b64encode(crc32c.crc32c(body).to_bytes(4, "big")).decode(), "ChecksumCRC32C"),
    ):
        key = f"sum-{field}"
        p = s3.generate_presigned_post(bucket, key, Fields={field: value}, Conditions=[{field: value}])
        r = _post(server, p, content=body)
        assert r.status_code == 204, r.text
        assert r.headers[field] == value and r.headers["x-amz-checksum-type"] == "FULL_OBJECT"
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        assert head[attr] == value and head["ChecksumType"] == "FULL_OBJECT"
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
        # the same form with another file
        r = _post(server, p, content=body + b"!")
        assert (r.status_code, _error(r)) == (
            400,
            {
                "Code": "BadDigest",
                "Message": f"The {field.rsplit('-', 1)[1].upper()} you specified did not match the calculated checksum.",
                "Resource": f"/{bucket}/{key}",
            },
        )
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body  # the refused upload replaced nothing
    # an algorithm alone: computed and stored
    p = s3.generate_presigned_post(
        bucket,
        "sum-alg",
        Fields={"x-amz-checksum-algorithm": "SHA256"},
        Conditions=[{"x-amz-checksum-algorithm": "SHA256"}],
    )
    r = _post(server, p, content=body)
    assert r.status_code == 204 and r.headers["x-amz-checksum-sha256"] == sha256, r.text
    assert s3.head_object(Bucket=bucket, Key="sum-alg", ChecksumMode="ENABLED")["ChecksumSHA256"] == sha256
    # Content-MD5
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    p = s3.generate_presigned_post(bucket, "md5", Fields={"Content-MD5": md5}, Conditions=[{"Content-MD5": md5}])
    assert _post(server, p, content=body).status_code == 204
    r = _post(server, p, content=b"other")
    assert (r.status_code, _error(r)) == (
        400,
        {
            "Code": "BadDigest",
            "Message": "The Content-MD5 you specified did not match what we received.",
            "Resource": f"/{bucket}/md5",
        },
    )
    p = s3.generate_presigned_post(bucket, "md5", Fields={"Content-MD5": "nope"}, Conditions=[{"Content-MD5": "nope"}])
    r = _post(server, p, content=body)
    assert (r.status_code, _error(r)["Code"]) == (400, "InvalidDigest")


def test_post_object_tagging_is_refused_as_put_object_is(server, s3, bucket):
    """Object tags are not built yet: a tagging field is refused with PutObject's x-amz-tagging error, never
    accepted and ignored."""
    with pytest.raises(s3.exceptions.ClientError) as info:
        s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="team=data")
    put_error = info.value.response["Error"]
    tagging = "<Tagging><TagSet><Tag><Key>team</Key><Value>data</Value></Tag></TagSet></Tagging>"
    p = s3.generate_presigned_post(bucket, "tagged", Fields={"tagging": tagging}, Conditions=[{"tagging": tagging}])
    r = _post(server, p)
    assert (r.status_code, _error(r)) == (
        501,
        {
            "Code": "NotImplemented",
            "Message": "strongroom does not implement object tagging yet.",
            "Header": "x-amz-tagging",
            "Resource": f"/{bucket}/tagged",
        },
    )
    assert (put_error["Code"], put_error["Message"], put_error["Header"]) == (
        "NotImplemented",
        "strongroom does not implement object tagging yet.",
        "x-amz-tagging",
    )
    assert _absent(s3, bucket, "tagged")


def test_post_object_sse_s3_and_kms(server, s3, bucket):
    p = s3.generate_presigned_post(
        bucket,
        "sse-s3",
        Fields={"x-amz-server-side-encryption": "AES256"},
        Conditions=[{"x-amz-server-side-encryption": "AES256"}],
    )
    r = _post(server, p, content=b"sse-s3")
    assert r.status_code == 204 and r.headers["x-amz-server-side-encryption"] == "AES256", r.text
    assert s3.head_object(Bucket=bucket, Key="sse-s3")["ServerSideEncryption"] == "AES256"

    key_name = unique("postkms")
    create_kms_key(server, key_name)
    fields = {"x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": key_name}
    p = s3.generate_presigned_post(bucket, "sse-kms", Fields=fields, Conditions=[{k: v} for k, v in fields.items()])
    r = _post(server, p, content=b"sse-kms")
    assert r.status_code == 204, r.text
    assert r.headers["x-amz-server-side-encryption"] == "aws:kms"
    assert r.headers["x-amz-server-side-encryption-aws-kms-key-id"] == key_name
    got = s3.get_object(Bucket=bucket, Key="sse-kms")
    assert got["Body"].read() == b"sse-kms"
    assert got["ServerSideEncryption"] == "aws:kms" and got["SSEKMSKeyId"] == key_name
    # a key that does not exist, and an algorithm S3 does not have
    bad = dict(fields, **{"x-amz-server-side-encryption-aws-kms-key-id": "no-such-key"})
    p = s3.generate_presigned_post(bucket, "sse-bad", Fields=bad, Conditions=[{k: v} for k, v in bad.items()])
    r = _post(server, p)
    assert r.status_code == 400 and _error(r)["Code"] == "KMS.NotFoundException", r.text
    p = s3.generate_presigned_post(
        bucket,
        "sse-bad",
        Fields={"x-amz-server-side-encryption": "AES512"},
        Conditions=[{"x-amz-server-side-encryption": "AES512"}],
    )
    r = _post(server, p)
    assert (r.status_code, _error(r)) == (
        400,
        {
            "Code": "InvalidArgument",
            "Message": "The encryption method specified is not supported",
            "ArgumentName": "x-amz-server-side-encryption",
            "ArgumentValue": "AES512",
            "Resource": f"/{bucket}/sse-bad",
        },
    )
    assert _absent(s3, bucket, "sse-bad")


def test_post_object_sse_c(server, s3, bucket):
    """An SSE-C form: the object reads back only with its key."""
    material = hashlib.sha256(b"post sse-c key").digest()
    key_b64 = base64.b64encode(material).decode()
    register_secret(key_b64, "a POST form's SSE-C key")
    register_secret(material, "a POST form's SSE-C key (raw)")
    key_md5 = base64.b64encode(hashlib.md5(material).digest()).decode()
    fields = {
        "x-amz-server-side-encryption-customer-algorithm": "AES256",
        "x-amz-server-side-encryption-customer-key": key_b64,
        "x-amz-server-side-encryption-customer-key-MD5": key_md5,
    }
    p = s3.generate_presigned_post(bucket, "ssec", Fields=fields, Conditions=[{k: v} for k, v in fields.items()])
    body = os.urandom(100_000)
    r = _post(server, p, content=body)
    assert r.status_code == 204, r.text
    assert r.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    assert r.headers["x-amz-server-side-encryption-customer-key-md5"] == key_md5
    assert "x-amz-server-side-encryption" not in r.headers
    assert r.headers["etag"] != _md5_etag(body)  # as a PUT's: the plaintext's MD5 would confirm a guess
    for call in (s3.get_object, s3.head_object):
        with pytest.raises(s3.exceptions.ClientError) as info:
            call(Bucket=bucket, Key="ssec")
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        other = hashlib.sha256(b"another key").digest()
        with pytest.raises(s3.exceptions.ClientError) as info:
            call(Bucket=bucket, Key="ssec", SSECustomerAlgorithm="AES256", SSECustomerKey=other)
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    got = s3.get_object(Bucket=bucket, Key="ssec", SSECustomerAlgorithm="AES256", SSECustomerKey=material)
    assert got["Body"].read() == body and got["SSECustomerKeyMD5"] == key_md5
    # a key whose MD5 is wrong is refused, as on a PUT
    wrong = dict(fields, **{"x-amz-server-side-encryption-customer-key-MD5": key_md5[::-1]})
    p = s3.generate_presigned_post(bucket, "ssec-bad", Fields=wrong, Conditions=[{k: v} for k, v in wrong.items()])
    r = _post(server, p, content=body)
    assert (r.status_code, _error(r)) == (
        400,
        {
            "Code": "InvalidArgument",
            "Message": "The calculated MD5 hash of the key did not match the hash that was provided.",
            "ArgumentName": "x-amz-server-side-encryption-customer-key-md5",
            "Resource": f"/{bucket}/ssec-bad",
        },
    )
    assert _absent(s3, bucket, "ssec-bad")


@pytest.mark.parametrize("size", [5 * 1024 * 1024, 20 * 1024 * 1024 + 3])
def test_post_object_larger_than_a_read(server, s3, bucket, size):
    body = os.urandom(size)
    p = s3.generate_presigned_post(bucket, "big", Conditions=[["content-length-range", size, size]])
    r = _post(server, p, content=body)
    assert r.status_code == 204, r.text
    assert r.headers["etag"] == _md5_etag(body)
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["ContentLength"] == size and got["Body"].read() == body


def test_post_object_fields_after_the_file_are_ignored(server, s3, bucket):
    """S3: "The file or content must be the last field in the form. Any fields below it are ignored." """
    p = s3.generate_presigned_post(bucket, "order", Fields={"x-amz-meta-a": "1"}, Conditions=[{"x-amz-meta-a": "1"}])
    parts = [(name, None, value.encode()) for name, value in p["fields"].items()]
    after = [
        ("x-amz-meta-after", None, b"not covered by the policy, and ignored"),
        ("file", "second.txt", b"a second file"),
        ("success_action_status", None, b"201"),
    ]
    r = _post_raw(server, p["url"], _multipart([*parts, ("file", "first.txt", b"the file"), *after]))
    assert r.status_code == 204, r.text
    head = s3.head_object(Bucket=bucket, Key="order")
    assert head["Metadata"] == {"a": "1"} and head["ContentLength"] == len(b"the file")
    assert s3.get_object(Bucket=bucket, Key="order")["Body"].read() == b"the file"
    # the key after the file is no key at all
    before = [part for part in parts if part[0] != "key"]
    r = _post_raw(server, p["url"], _multipart([*before, ("file", "f", b"x"), ("key", None, b"order")]))
    assert (r.status_code, _error(r)) == (
        400,
        {
            "Code": "InvalidArgument",
            "Message": "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of "
            "the fields.",
            "ArgumentName": "key",
            "ArgumentValue": "",
            "Resource": f"/{bucket}",
        },
    )


def test_post_object_repeated_field_is_its_values_joined(server, s3, bucket):
    """S3: a field sent twice is its values separated by commas, which is what the policy sees."""
    p = s3.generate_presigned_post(bucket, "twice", Conditions=[{"x-amz-meta-tag": "Ninja,Stallman"}])
    data = _fields_of(p)
    data["x-amz-meta-tag"] = ["Ninja", "Stallman"]
    r = httpx.post(p["url"], data=data, files={"file": ("f", b"x")}, verify=server.ca)
    assert r.status_code == 204, r.text
    assert s3.head_object(Bucket=bucket, Key="twice")["Metadata"] == {"tag": "Ninja,Stallman"}


def test_post_object_refusals(server, s3, bucket):
    """Each refusal with S3's status, code, message and details; nothing is stored."""
    p = s3.generate_presigned_post(bucket, "k", Fields={"x-amz-meta-a": "1"}, Conditions=[{"x-amz-meta-a": "1"}])
    resource = f"/{bucket}"

    def refused(data, status, expected, url=p["url"], files=True):
        if files:
            r = httpx.post(url, data=data, files={"file": ("f", b"data")}, verify=server.ca)
        else:
            r = _post_raw(server, url, _multipart([(k, None, v.encode()) for k, v in data.items()]))
        assert (r.status_code, _error(r)) == (status, expected)

    credential = p["fields"]["x-amz-credential"]
    unknown = "AKIAUNKNOWNPOSTKEY00"
    refused(
        _fields_of(p, **{"x-amz-credential": unknown + credential[credential.index("/") :]}),
        403,
        {
            "Code": "InvalidAccessKeyId",
            "Message": "The AWS Access Key Id you provided does not exist in our records.",
            "AWSAccessKeyId": unknown,
            "Resource": resource,
        },
    )
    refused(
        _fields_of(p, **{"x-amz-signature": "0" * 64}),
        403,
        {
            "Code": "SignatureDoesNotMatch",
            "Message": "The request signature we calculated does not match the signature you provided. Check your key "
            "and signing method.",
            "AWSAccessKeyId": ROOT_ACCESS,
            "Resource": resource,
        },
    )
    expired = s3.generate_presigned_post(bucket, "k", ExpiresIn=-60)
    refused(
        _fields_of(expired),
        403,
        {"Code": "AccessDenied", "Message": "Invalid according to Policy: Policy expired.", "Resource": resource},
    )
    refused(
        _fields_of(p, **{"x-amz-meta-b": "2", "Cache-Control": "no-cache"}),
        403,
        {
            "Code": "AccessDenied",
            "Message": "Invalid according to Policy: Extra input fields: cache-control, x-amz-meta-b",
            "Resource": resource,
        },
    )
    refused(
        _fields_of(p, key="elsewhere"),
        403,
        {
            "Code": "AccessDenied",
            "Message": 'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "k"]',
            "Resource": resource,
        },
    )
    refused(
        _fields_of(p, **{"x-amz-meta-a": "2"}),
        403,
        {
            "Code": "AccessDenied",
            "Message": 'Invalid according to Policy: Policy Condition failed: ["eq", "$x-amz-meta-a", "1"]',
            "Resource": resource,
        },
    )
    other = unique("post-other")
    s3.create_bucket(Bucket=other)
    try:
        refused(
            _fields_of(p),
            403,
            {
                "Code": "AccessDenied",
                "Message": f'Invalid according to Policy: Policy Condition failed: ["eq", "$bucket", "{bucket}"]',
                "Resource": f"/{other}",
            },
            url=f"{server.endpoint}/{other}",
        )
        assert s3.list_objects_v2(Bucket=other)["KeyCount"] == 0
    finally:
        s3.delete_bucket(Bucket=other)
    no_key = {k: v for k, v in p["fields"].items() if k != "key"}
    refused(
        no_key,
        400,
        {
            "Code": "InvalidArgument",
            "Message": "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of "
            "the fields.",
            "ArgumentName": "key",
            "ArgumentValue": "",
            "Resource": resource,
        },
    )
    refused(
        _fields_of(p),
        400,
        {
            "Code": "InvalidArgument",
            "Message": "POST requires exactly one file upload per request.",
            "ArgumentName": "file",
            "ArgumentValue": "0",
            "Resource": resource,
        },
        files=False,
    )
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def deny_puts(s3, bucket, condition):
    """A bucket policy that denies everyone s3:PutObject on the bucket under ``condition``."""
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": condition,
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


def test_post_object_v2_form_meets_a_policy_refusing_v2(server, s3, bucket):
    """A V2-signed form is s3:signatureversion "AWS", as a V2 request is: a bucket policy refusing V2 refuses it."""
    deny_puts(s3, bucket, {"StringEquals": {"s3:signatureversion": "AWS"}})
    v2 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=ROOT_ACCESS,
        aws_secret_access_key=ROOT_SECRET,
        region_name="local",
        verify=server.ca,
        config=Config(signature_version="s3", s3={"addressing_style": "path"}),
    )
    p2 = v2.generate_presigned_post(bucket, "v2")
    assert "signature" in p2["fields"] and "x-amz-signature" not in p2["fields"]
    r = _post(server, p2)
    assert (r.status_code, _error(r)) == (
        403,
        {"Code": "AccessDenied", "Message": "Access Denied", "Resource": f"/{bucket}/v2"},
    )
    assert _absent(s3, bucket, "v2")
    assert _post(server, s3.generate_presigned_post(bucket, "v4")).status_code == 204


ALL_BLOCKS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def test_anonymous_post_object(server, s3, bucket):
    """A form without any signing field is anonymous: it succeeds only where a bucket policy lets everyone
    s3:PutObject, and is AccessDenied elsewhere."""
    admin = server.admin()
    tenant_block = admin.request("GET", "/tenants/default/public-access-block")
    assert tenant_block == dict.fromkeys(ALL_BLOCKS, True)  # new tenants start with it on
    closed = unique("post-closed")
    s3.create_bucket(Bucket=closed)
    body = b"from anyone"

    def anonymous(to: str, key: str) -> httpx.Response:
        return httpx.post(
            f"{server.endpoint}/{to}",
            data={"key": key},
            files={"file": ("f.txt", body, "text/plain")},
            verify=server.ca,
        )

    try:
        admin.request("PUT", "/tenants/default/public-access-block", dict.fromkeys(ALL_BLOCKS, False))
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=dict.fromkeys(ALL_BLOCKS, False))
        s3.put_bucket_policy(
            Bucket=bucket,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "s3:PutObject",
                            "Resource": f"arn:aws:s3:::{bucket}/drop/*",
                        }
                    ],
                }
            ),
        )
        r = anonymous(bucket, "drop/${filename}")
        assert r.status_code == 204, r.text
        got = s3.get_object(Bucket=bucket, Key="drop/f.txt")
        assert got["Body"].read() == body and got["ContentType"] == "text/plain"
        denied = {"Code": "AccessDenied", "Message": "Access Denied"}
        r = anonymous(bucket, "elsewhere")  # outside what the policy grants
        assert (r.status_code, _error(r)) == (403, {**denied, "Resource": f"/{bucket}/elsewhere"})
        r = anonymous(closed, "drop/x")
        assert (r.status_code, _error(r)) == (403, {**denied, "Resource": f"/{closed}/drop/x"})
        assert s3.list_objects_v2(Bucket=closed)["KeyCount"] == 0
    finally:
        admin.request("PUT", "/tenants/default/public-access-block", tenant_block)
        s3.delete_bucket(Bucket=closed)
    # the tenant-wide block back on: the public policy grants nothing any more (within a second)
    deadline = time.monotonic() + 2
    while anonymous(bucket, "drop/late").status_code != 403:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_post_object_condition_keys_are_the_forms_fields(server, s3, bucket):
    """A bucket policy's s3:x-amz-server-side-encryption (s3:x-amz-acl, ...) sees what the form asks for, as S3's
    does, not headers the request happens to carry."""
    deny_puts(s3, bucket, {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}})
    sse = {"x-amz-server-side-encryption": "AES256"}
    p = s3.generate_presigned_post(bucket, "enc", Fields=sse, Conditions=[sse])
    r = _post(server, p)
    assert r.status_code == 204, r.text
    plain = s3.generate_presigned_post(bucket, "plain")
    denied = {"Code": "AccessDenied", "Message": "Access Denied", "Resource": f"/{bucket}/plain"}
    r = _post(server, plain)
    assert (r.status_code, _error(r)) == (403, denied)
    # a header of the request is not the form's field
    r = httpx.post(plain["url"], data=plain["fields"], files={"file": ("f", b"x")}, headers=sse, verify=server.ca)
    assert (r.status_code, _error(r)) == (403, denied)
    assert _absent(s3, bucket, "plain")
