"""sigv2.py: AWS's own Signature V2 examples, botocore's V2 signer, and every refusal with S3's code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.http.s3 import sigv2
from strongroom.http.s3.errors import S3Error
from strongroom.http.s3.sigv4 import parse_query

# the S3 developer guide's examples ("Signing and authenticating REST requests")
DOC_ACCESS = "AKIAIOSFODNN7EXAMPLE"
DOC_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DOC_TIME = datetime(2007, 3, 27, 19, 36, 42, tzinfo=UTC)


def lookup(access_key: str) -> str | None:
    return DOC_SECRET if access_key == DOC_ACCESS else None


def auth(
    method: str,
    resource: str,
    headers: dict[str, str],
    query: str = "",
    now: datetime = DOC_TIME,
) -> Any:
    return sigv2.authenticate(method, resource, query, parse_query(query), headers, lookup, now)


def refused(**kw: Any) -> S3Error:
    with pytest.raises(S3Error) as info:
        auth(**kw)
    return info.value


def test_the_developer_guides_examples() -> None:
    get = "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg"
    assert sigv2.sign(DOC_SECRET, get.encode()) == "bWq2s1WEIj+Ydj0vQ697zp+IXMU="
    put = "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/johnsmith/photos/puppy.jpg"
    assert sigv2.sign(DOC_SECRET, put.encode()) == "MyyxeRY7whkBe+bq8fHCL/2kKUg="
    query = "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg"
    assert sigv2.sign(DOC_SECRET, query.encode()) == "NpgCjnDzrM+WFzoENXmpNDUsSn8="
    # the same through authenticate(): the header example, and the query-string example before it expired
    ctx = auth(
        method="GET",
        resource="/johnsmith/photos/puppy.jpg",
        headers={
            "date": "Tue, 27 Mar 2007 19:36:42 +0000",
            "authorization": "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
        },
    )
    assert (ctx.access_key, ctx.signature_version, ctx.payload_mode) == (DOC_ACCESS, "AWS", "unsigned")
    ctx = auth(
        method="GET",
        resource="/johnsmith/photos/puppy.jpg",
        headers={},
        query="AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D",
        now=datetime.fromtimestamp(1175139620 - 60, UTC),
    )
    assert ctx.access_key == DOC_ACCESS


def test_the_canonical_resource_signs_subresources_sorted_and_decoded() -> None:
    got = sigv2.canonical_resource("/b/k", "versionId=3&acl&prefix=x&response-content-type=text%2Fplain&uploads=")
    assert got == "/b/k?acl&response-content-type=text/plain&uploads=&versionId=3"
    assert sigv2.canonical_resource("/b", "list-type=2&max-keys=5") == "/b"


def test_x_amz_date_replaces_the_date_line_and_amz_headers_are_signed() -> None:
    headers = {"x-amz-date": "Tue, 27 Mar 2007 19:36:42 +0000", "x-amz-meta-b": " two ", "x-amz-meta-a": "one"}
    sts = sigv2.string_to_sign("PUT", headers, "/b/k", "", "")
    assert sts == (b"PUT\n\n\n\nx-amz-date:Tue, 27 Mar 2007 19:36:42 +0000\nx-amz-meta-a:one\nx-amz-meta-b:two\n/b/k")
    headers["authorization"] = f"AWS {DOC_ACCESS}:{sigv2.sign(DOC_SECRET, sts)}"
    headers["date"] = "Mon, 01 Jan 2001 00:00:00 +0000"  # ignored: x-amz-date is the time
    assert auth(method="PUT", resource="/b/k", headers=headers).access_key == DOC_ACCESS


def botocore_signed(method: str, url: str, headers: dict[str, str] | None = None, query: bool = False) -> AWSRequest:
    req = AWSRequest(method=method, url=url, headers=headers or {}, data=b"")
    creds = Credentials(DOC_ACCESS, DOC_SECRET)
    (HmacV1QueryAuth(creds, expires=300) if query else HmacV1Auth(creds)).add_auth(req)
    return req


@pytest.mark.parametrize("query", [False, True])
def test_what_botocores_v2_signer_signs_is_accepted(query: bool) -> None:
    url = "https://localhost:8443/bkt/dir/a%20b%2Bc.txt?uploadId=u1&partNumber=2"
    req = botocore_signed("PUT", url, {"Content-Type": "text/plain", "x-amz-meta-k": "v"}, query=query)
    split = urlsplit(req.url)
    headers = {k.lower(): v for k, v in req.headers.items()}
    now = datetime.now(UTC)
    ctx = sigv2.authenticate("PUT", split.path, split.query, parse_query(split.query), headers, lookup, now)
    assert ctx.access_key == DOC_ACCESS
    headers["x-amz-meta-k"] = "changed"
    with pytest.raises(S3Error) as info:
        sigv2.authenticate("PUT", split.path, split.query, parse_query(split.query), headers, lookup, now)
    assert (info.value.code, info.value.extra) == ("SignatureDoesNotMatch", {"AWSAccessKeyId": DOC_ACCESS})
    assert "StringToSign" not in info.value.extra  # V2's holds signed header values


GOOD = {"date": "Tue, 27 Mar 2007 19:36:42 +0000"}


@pytest.mark.parametrize(
    ("headers", "query", "code", "message"),
    [
        ({"authorization": "AWS nocolon"}, "", "InvalidArgument", "AWS authorization header is invalid."),
        (
            {"authorization": f"AWS {DOC_ACCESS}:bWq2s1WEIj+Ydj0vQ697zp+IXMU="},
            "",
            "AccessDenied",
            "AWS authentication requires a valid Date or x-amz-date header",
        ),
        ({**GOOD, "authorization": "AWS AKIANOBODY:bWq2s1WEIj+Ydj0vQ697zp+IXMU="}, "", "InvalidAccessKeyId", None),
        (
            {**GOOD, "authorization": f"AWS {DOC_ACCESS}:AAAAs1WEIj+Ydj0vQ697zp+IXMU="},
            "",
            "SignatureDoesNotMatch",
            None,
        ),
        ({**GOOD, "authorization": f"AWS {DOC_ACCESS}:not-base64"}, "", "SignatureDoesNotMatch", None),
        (
            {**GOOD, "authorization": f"AWS {DOC_ACCESS}:x="},
            "Signature=x&AWSAccessKeyId=a&Expires=1",
            "InvalidArgument",
            "Only one auth mechanism allowed",
        ),
        (
            {},
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=x",
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        ),
        (
            {},
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=soon&Signature=x",
            "AccessDenied",
            "Invalid date (should be seconds since epoch): soon",
        ),
        (
            {},
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=-5&Signature=x",
            "AccessDenied",
            "Invalid date (should be seconds since epoch): -5",
        ),
        (
            {},
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175020000&Signature=x",
            "AccessDenied",
            "Request has expired",
        ),
        (
            {},
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1185139000&Signature=x",
            "AccessDenied",
            "Request expiry is more than 7 days away",
        ),
    ],
)
def test_refusals_have_s3s_codes(headers: dict[str, str], query: str, code: str, message: str | None) -> None:
    err = refused(method="GET", resource="/johnsmith/photos/puppy.jpg", headers=headers, query=query)
    assert err.code == code, err
    if message is not None:
        assert err.message.startswith(message), err.message


def test_an_expired_url_says_when_it_expired() -> None:
    err = refused(
        method="GET",
        resource="/johnsmith/photos/puppy.jpg",
        headers={},
        query="AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175020000&Signature=x",
    )
    assert err.extra == {"Expires": "2007-03-27T18:26:40Z", "ServerTime": "2007-03-27T19:36:42Z"}


def test_a_skewed_date_is_request_time_too_skewed() -> None:
    skewed = DOC_TIME - timedelta(minutes=16)
    date = format_datetime(skewed, usegmt=True)
    sts = f"GET\n\n\n{date}\n/b/k".encode()
    headers = {"date": date, "authorization": f"AWS {DOC_ACCESS}:{sigv2.sign(DOC_SECRET, sts)}"}
    err = refused(method="GET", resource="/b/k", headers=headers)
    assert err.code == "RequestTimeTooSkewed"
    assert err.extra["MaxAllowedSkewMilliseconds"] == "900000"
    # within the window it is fine
    headers_ok = {"date": format_datetime(DOC_TIME - timedelta(minutes=14), usegmt=True)}
    sts_ok = f"GET\n\n\n{headers_ok['date']}\n/b/k".encode()
    headers_ok["authorization"] = f"AWS {DOC_ACCESS}:{sigv2.sign(DOC_SECRET, sts_ok)}"
    assert auth(method="GET", resource="/b/k", headers=headers_ok).access_key == DOC_ACCESS


def test_a_v2_request_with_a_streaming_payload_is_refused() -> None:
    headers = {**GOOD, "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}
    sts = sigv2.string_to_sign("PUT", headers, "/b/k", "", GOOD["date"])
    headers["authorization"] = f"AWS {DOC_ACCESS}:{sigv2.sign(DOC_SECRET, sts)}"
    assert refused(method="PUT", resource="/b/k", headers=headers).code == "InvalidRequest"


def test_a_path_style_bucket_request_may_be_signed_with_a_trailing_slash() -> None:
    """botocore signs ``/bucket/`` for ``GET /bucket?list-type=2``; S3 accepts it, and so must strongroom."""
    for signed in ("/johnsmith", "/johnsmith/"):
        sts = f"GET\n\n\n{GOOD['date']}\n{signed}".encode()
        headers = {**GOOD, "authorization": f"AWS {DOC_ACCESS}:{sigv2.sign(DOC_SECRET, sts)}"}
        assert auth(method="GET", resource="/johnsmith", headers=headers, query="list-type=2").access_key == DOC_ACCESS
    # not for an object: /bucket/key is not /bucket/key/
    sts = f"GET\n\n\n{GOOD['date']}\n/johnsmith/k/".encode()
    headers = {**GOOD, "authorization": f"AWS {DOC_ACCESS}:{sigv2.sign(DOC_SECRET, sts)}"}
    assert refused(method="GET", resource="/johnsmith/k", headers=headers).code == "SignatureDoesNotMatch"
