"""Encryption refusals exactly as S3 answers them (issue 12 item 6): SSE-C key and key-MD5 faults, SSE headers on
operations that take none, conflicting or unknown encryption headers. Requests are hand-made (signed with botocore's
SigV4 signer) so no SDK fixes them on the way."""

from __future__ import annotations

import base64
import hashlib
import ssl
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from tests.conftest import Server

from strongroom.devserver import ROOT_ACCESS, ROOT_SECRET

pytestmark = pytest.mark.e2e

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def ssec(key: bytes, md5: bytes | None = None, algorithm: str = "AES256", prefix: str = "") -> dict[str, str]:
    p = f"x-amz-{prefix}server-side-encryption-customer-"
    out = {p + "algorithm": algorithm, p + "key": base64.b64encode(key).decode()}
    if md5 is not None:
        out[p + "key-MD5"] = base64.b64encode(md5).decode()
    return out


def send(server: Server, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> httpx.Response:
    req = AWSRequest(method=method, url=server.endpoint + path, data=body, headers=headers)
    S3SigV4Auth(Credentials(ROOT_ACCESS, ROOT_SECRET), "s3", "local").add_auth(req)
    return httpx.request(
        method,
        req.url,
        headers=dict(req.headers.items()),
        content=body,
        verify=ssl.create_default_context(cafile=server.ca),
    )


def error(r: httpx.Response) -> tuple[int, str, str]:
    root = ET.fromstring(r.content)
    return r.status_code, root.findtext("Code") or "", root.findtext("Message") or ""


@pytest.fixture()
def objects(s3: Any, bucket: str) -> str:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain bytes")
    s3.put_object(
        Bucket=bucket,
        Key="ssec",
        Body=b"customer bytes",
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=KEY,
    )
    return bucket


MD5 = hashlib.md5(KEY).digest()
MUST_MD5 = (
    "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 "
    "of the secret key."
)
BAD_MD5 = "The calculated MD5 hash of the key did not match the hash that was provided."


@pytest.mark.parametrize(
    ("key", "headers", "expected"),
    [
        ("ssec", ssec(KEY), (400, "InvalidArgument", MUST_MD5)),
        ("ssec", ssec(KEY, hashlib.md5(OTHER).digest()), (400, "InvalidArgument", BAD_MD5)),
        (
            "ssec",
            ssec(KEY[:16], hashlib.md5(KEY[:16]).digest()),
            (400, "InvalidArgument", "The secret key was invalid for the specified algorithm."),
        ),
        (
            "ssec",
            ssec(KEY, MD5, algorithm="AES128"),
            (400, "InvalidEncryptionAlgorithmError", None),
        ),
        ("ssec", ssec(OTHER, hashlib.md5(OTHER).digest()), (403, "AccessDenied", None)),
        ("ssec", {}, (400, "InvalidRequest", None)),
        ("plain", ssec(KEY, MD5), (400, "InvalidRequest", None)),
        (
            "plain",
            {"x-amz-server-side-encryption": "aws:kms"},
            (400, "InvalidArgument", "x-amz-server-side-encryption header is not supported for this operation."),
        ),
        ("plain", {"x-amz-server-side-encryption": "AES256"}, (400, "InvalidArgument", None)),
        ("plain", {"x-amz-server-side-encryption-aws-kms-key-id": "k"}, (400, "InvalidArgument", None)),
    ],
)
def test_get_refusals(server: Server, objects: str, key: str, headers: dict[str, str], expected: Any) -> None:
    r = send(server, "GET", f"/{objects}/{key}", headers)
    status, code, message = error(r)
    assert (status, code) == expected[:2], r.text
    if expected[2] is not None:
        assert message == expected[2]


def test_head_refuses_sse_headers_too(server: Server, objects: str) -> None:
    r = send(server, "HEAD", f"/{objects}/plain", {"x-amz-server-side-encryption": "aws:kms"})
    assert (r.status_code, r.content) == (400, b"")
    r = send(server, "HEAD", f"/{objects}/ssec", ssec(KEY, MD5))
    assert r.status_code == 200 and r.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-amz-server-side-encryption": "AES512"}, (400, "InvalidArgument")),
        ({"x-amz-server-side-encryption": "aws:kms", **ssec(KEY, MD5)}, (400, "InvalidArgument")),
        ({"x-amz-server-side-encryption-aws-kms-key-id": "k"}, (400, "InvalidArgument")),
        (ssec(KEY), (400, "InvalidArgument")),
        (ssec(KEY, MD5, algorithm="AES128"), (400, "InvalidEncryptionAlgorithmError")),
        ({"x-amz-server-side-encryption-customer-algorithm": "AES256"}, (400, "InvalidArgument")),
    ],
)
def test_put_refusals(server: Server, objects: str, headers: dict[str, str], expected: Any) -> None:
    r = send(server, "PUT", f"/{objects}/new", headers, b"data")
    assert error(r)[:2] == expected, r.text
    r = send(server, "GET", f"/{objects}/new", {})
    assert error(r)[:2] == (404, "NoSuchKey")  # nothing was written
