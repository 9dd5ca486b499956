"""sigv4.py: requests signed by real botocore (header and presigned), AWS's worked examples, rejections."""

from __future__ import annotations

import asyncio
import copy
import io
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.http.s3 import sigv4
from strongroom.http.s3.errors import S3Error
from strongroom.http.s3.sigv4 import AuthContext, PayloadHasher, authenticate, request_has_auth

NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
ACCESS = "AKIASTRONGROOMTEST01"
SECRET = "s3cr3t/With+Odd=Chars~"
ENDPOINT = "https://localhost:8443"


def lookup(access_key: str) -> str | None:
    return {ACCESS: SECRET, "AKIDEXAMPLE": "other-secret"}.get(access_key)


# --- capturing what botocore really sends -------------------------------------


@dataclass
class Wire:
    method: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def auth(self, now: datetime = NOW, lookup_fn: Callable[[str], str | None] = lookup, **kw: Any) -> AuthContext:
        return authenticate(self.method, self.raw_path, self.query, self.headers, lookup_fn, now, **kw)

    def with_headers(self, **changes: str | None) -> Wire:
        headers = dict(self.headers)
        for name, value in changes.items():
            name = name.replace("_", "-")
            if value is None:
                headers.pop(name, None)
            else:
                headers[name] = value
        return replace(self, headers=headers)


def wire_from_url(method: str, url: str, headers: dict[str, str] | None = None) -> Wire:
    split = urlsplit(url)
    all_headers = {"host": split.netloc}
    all_headers.update(headers or {})
    return Wire(method, split.path or "/", split.query, all_headers, b"")


class _EmptyRaw:
    def stream(self, **_: Any) -> Iterator[bytes]:
        return iter([b""])

    def read(self, *_: Any, **__: Any) -> bytes:
        return b""


@contextmanager
def frozen_clock(moment: datetime = NOW) -> Iterator[None]:
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=naive),
        mock.patch("botocore.signers.get_current_datetime", return_value=naive),
    ):
        yield


class Capture:
    """A boto3 S3 client whose requests are captured at before-send instead of sent."""

    def __init__(
        self,
        addressing: str = "path",
        endpoint: str = ENDPOINT,
        access: str = ACCESS,
        secret: str = SECRET,
        **config: Any,
    ) -> None:
        # boto3 presigns with SigV2 unless told otherwise (see test_default_boto3_presign_is_sigv2).
        config.setdefault("signature_version", "s3v4")
        session = boto3.session.Session(aws_access_key_id=access, aws_secret_access_key=secret, region_name="us-east-1")
        self.client = session.client(
            "s3",
            endpoint_url=endpoint,
            config=Config(s3={"addressing_style": addressing}, retries={"max_attempts": 1}, **config),
        )
        self.client.meta.events.register("before-send", self._send)
        self.sent: list[Wire] = []

    def _send(self, request: Any, **_: Any) -> AWSResponse:
        body = request.body
        if body is None:
            data = b""
        elif isinstance(body, bytes | bytearray):
            data = bytes(body)
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body.read()
        split = urlsplit(request.url)
        headers = {
            k.lower(): v.decode("latin-1") if isinstance(v, bytes) else str(v) for k, v in request.headers.items()
        }
        headers.setdefault("host", split.netloc)  # http.client adds it from the URL
        self.sent.append(Wire(request.method, split.path, split.query, headers, data))
        return AWSResponse(request.url, 200, {}, _EmptyRaw())

    def call(self, operation: str, **params: Any) -> Wire:
        with frozen_clock():
            try:
                getattr(self.client, operation)(**params)
            except Exception:  # noqa: BLE001 - response parsing of the fake reply may fail; the request was sent
                pass
        return self.sent[-1]

    def presign(self, operation: str, expires: int = 3600, **params: Any) -> str:
        with frozen_clock():
            url: str = self.client.generate_presigned_url(operation, Params=params, ExpiresIn=expires)
        return url


@pytest.fixture(scope="module")
def path_client() -> Capture:
    return Capture("path")


@pytest.fixture(scope="module")
def virtual_client() -> Capture:
    return Capture("virtual")


def code_of(call: Callable[[], object]) -> S3Error:
    with pytest.raises(S3Error) as info:
        call()
    return info.value


ODD_KEYS = [
    "plain.txt",
    "with space",
    "ünïcødé/日本語",
    "a+b",
    "a=b&c",
    "tilde~",
    "100%",
    "%2F-literal",
    "double//slash",
    "/leading",
    "trailing/",
    "dots/../and/./dots",
    "!$&'()*,;:@",
    "q?mark#hash",
    "tab\tand\nnewline",
]


# --- real botocore requests are accepted --------------------------------------


@pytest.mark.parametrize("key", ODD_KEYS)
@pytest.mark.parametrize("style", ["path", "virtual"])
def test_botocore_header_signed_get_is_accepted(
    key: str, style: str, path_client: Capture, virtual_client: Capture
) -> None:
    client = path_client if style == "path" else virtual_client
    wire = client.call("get_object", Bucket="bkt", Key=key, Range="bytes=0-9")
    if style == "virtual":
        assert wire.headers["host"] == "bkt.localhost:8443"
    ctx = wire.auth()
    assert ctx.access_key == ACCESS
    assert ctx.region == "us-east-1"
    assert ctx.payload_mode == "signed"
    assert ctx.payload_sha256 == sigv4.EMPTY_SHA256
    assert ctx.scope == "20260314/us-east-1/s3/aws4_request"
    assert ctx.amz_date == "20260314T150926Z"


@pytest.mark.parametrize(
    ("operation", "params", "expected_query"),
    [
        ("create_multipart_upload", {"Bucket": "bkt", "Key": "k"}, "uploads"),
        (
            "upload_part",
            {"Bucket": "bkt", "Key": "k", "PartNumber": 1, "UploadId": "x+y/z=~", "Body": b"data"},
            "partNumber=1&uploadId=x%2By%2Fz%3D~",
        ),
        (
            "list_objects_v2",
            {"Bucket": "bkt", "Prefix": "a/b", "Delimiter": "/"},
            "list-type=2&prefix=a%2Fb&delimiter=%2F&encoding-type=url",
        ),
        ("list_objects_v2", {"Bucket": "bkt", "Prefix": "sp ace+plüs", "StartAfter": "~"}, None),
        ("list_object_versions", {"Bucket": "bkt", "KeyMarker": "k", "VersionIdMarker": "v=1"}, None),
        (
            "get_object",
            {"Bucket": "bkt", "Key": "k", "ResponseContentDisposition": 'attachment; f="a b"'},
            None,
        ),
        ("list_buckets", {}, None),
        ("head_bucket", {"Bucket": "bkt"}, None),
        (
            "delete_objects",
            {"Bucket": "bkt", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b c"}]}},
            "delete",
        ),
        (
            "put_object_tagging",
            {"Bucket": "bkt", "Key": "k", "Tagging": {"TagSet": [{"Key": "a", "Value": "b"}]}},
            None,
        ),
        (
            "copy_object",
            {"Bucket": "bkt", "Key": "dst key", "CopySource": {"Bucket": "src", "Key": "s r+c"}},
            None,
        ),
        (
            "put_object",
            {
                "Bucket": "bkt",
                "Key": "k",
                "Body": b"x",
                "Metadata": {"color": "blue  green"},
                "ACL": "private",
            },
            None,
        ),
        (
            "get_object",
            {
                "Bucket": "bkt",
                "Key": "k",
                "SSECustomerAlgorithm": "AES256",
                "SSECustomerKey": "k" * 32,
            },
            None,
        ),
    ],
)
@pytest.mark.parametrize("style", ["path", "virtual"])
def test_botocore_operations_are_accepted(
    operation: str,
    params: dict[str, Any],
    expected_query: str | None,
    style: str,
    path_client: Capture,
    virtual_client: Capture,
) -> None:
    client = path_client if style == "path" else virtual_client
    wire = client.call(operation, **params)
    if expected_query is not None:
        assert wire.query == expected_query
    ctx = wire.auth()
    assert ctx.access_key == ACCESS


def test_put_over_https_is_streaming_unsigned_trailer(path_client: Capture) -> None:
    wire = path_client.call("put_object", Bucket="bkt", Key="k", Body=b"hello")
    ctx = wire.auth()
    assert ctx.payload_mode == "streaming-unsigned-trailer"
    assert ctx.payload_sha256 is None
    assert ctx.decoded_length == 5
    assert wire.headers["x-amz-trailer"] == "x-amz-checksum-crc32"
    assert wire.body == b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"


def test_put_over_http_signs_the_payload() -> None:
    client = Capture(endpoint="http://localhost:8080")
    wire = client.call("put_object", Bucket="bkt", Key="k", Body=b"hello")
    ctx = wire.auth()
    assert ctx.payload_mode == "signed"
    hasher = PayloadHasher.for_auth(ctx)
    assert hasher is not None
    hasher.feed(wire.body)
    hasher.verify()


def test_unsigned_payload_when_signing_disabled() -> None:
    client = Capture(request_checksum_calculation="when_required")
    client.client.meta.config.s3["payload_signing_enabled"] = False
    wire = client.call(
        "put_object", Bucket="bkt", Key="k", Body=io.BytesIO(b"hello"), ContentMD5="XUFAKrxLKna5cZ2REBfFkg=="
    )
    assert wire.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    ctx = wire.auth()
    assert ctx.payload_mode == "unsigned"
    assert PayloadHasher.for_auth(ctx) is None


def test_date_header_instead_of_x_amz_date() -> None:
    client = Capture()

    def add_date(request: AWSRequest, **_: Any) -> None:
        request.headers["Date"] = "placeholder"

    client.client.meta.events.register("before-sign", add_date)
    wire = client.call("get_object", Bucket="bkt", Key="k")
    assert "x-amz-date" not in wire.headers
    assert wire.headers["date"] == "Sat, 14 Mar 2026 15:09:26 -0000"  # botocore: formatdate(), not GMT
    assert wire.auth().amz_date == "20260314T150926Z"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=24))
def test_any_key_botocore_signs_verifies(key: str, path_client: Capture) -> None:
    path_client.call("head_object", Bucket="bkt", Key=key).auth()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.text(st.characters(exclude_categories=["Cs"]), max_size=24))
def test_any_query_value_botocore_signs_verifies(prefix: str, path_client: Capture) -> None:
    path_client.call("list_objects_v2", Bucket="bkt", Prefix=prefix).auth()


# --- presigned URLs -------------------------------------------------------------


@pytest.mark.parametrize("key", ODD_KEYS)
@pytest.mark.parametrize("style", ["path", "virtual"])
def test_botocore_presigned_get_is_accepted(
    key: str, style: str, path_client: Capture, virtual_client: Capture
) -> None:
    client = path_client if style == "path" else virtual_client
    url = client.presign("get_object", Bucket="bkt", Key=key)
    ctx = wire_from_url("GET", url).auth()
    assert ctx.payload_mode == "presigned"
    assert ctx.payload_sha256 is None
    assert ctx.access_key == ACCESS


def test_presigned_subresources_and_signed_headers(path_client: Capture) -> None:
    url = path_client.presign("upload_part", Bucket="bkt", Key="a b", PartNumber=3, UploadId="u+p/l=d")
    assert "partNumber=3" in url and "uploadId=u%2Bp%2Fl%3Dd" in url
    wire_from_url("PUT", url).auth()
    url = path_client.presign("put_object", Bucket="bkt", Key="k", ContentType="text/plain", ACL="public-read")
    wire = wire_from_url("PUT", url, {"content-type": "text/plain", "x-amz-acl": "public-read"})
    assert "x-amz-acl" in url.lower() or "x-amz-acl" in wire.headers
    wire.auth()


def test_presigned_expiry(path_client: Capture) -> None:
    wire = wire_from_url("GET", path_client.presign("get_object", expires=600, Bucket="bkt", Key="k"))
    wire.auth(now=NOW + timedelta(seconds=600))
    err = code_of(lambda: wire.auth(now=NOW + timedelta(seconds=601)))
    assert (err.code, err.message, err.status) == ("AccessDenied", "Request has expired", 403)
    assert err.extra["X-Amz-Expires"] == "600"
    err = code_of(lambda: wire.auth(now=NOW - timedelta(seconds=901)))
    assert (err.code, err.message) == ("AccessDenied", "Request is not valid yet")
    wire.auth(now=NOW - timedelta(seconds=900))


def test_presigned_expires_bounds(path_client: Capture) -> None:
    wire_from_url("GET", path_client.presign("get_object", expires=604800, Bucket="b", Key="k")).auth()
    too_long = wire_from_url("GET", path_client.presign("get_object", expires=604801, Bucket="b", Key="k"))
    assert code_of(too_long.auth).code == "AuthorizationQueryParametersError"
    for bad in ("0", "-5", "abc", ""):
        url = path_client.presign("get_object", Bucket="b", Key="k").replace(
            "X-Amz-Expires=3600", f"X-Amz-Expires={bad}"
        )
        assert code_of(wire_from_url("GET", url).auth).code == "AuthorizationQueryParametersError"


def test_presigned_tampering(path_client: Capture) -> None:
    url = path_client.presign("get_object", Bucket="bkt", Key="a b", ResponseContentType="text/plain")
    base = wire_from_url("GET", url)
    base.auth()
    tampered = [
        replace(base, method="PUT"),
        replace(base, raw_path="/bkt/a%20c"),
        replace(base, query=base.query.replace("text%2Fplain", "text%2Fhtml")),
        replace(base, query=base.query + "&versionId=1"),
        replace(base, query=base.query.replace("X-Amz-Date=20260314T150926Z", "X-Amz-Date=20260314T150927Z")),
        base.with_headers(host="evil.example:8443"),
    ]
    for wire in tampered:
        assert code_of(wire.auth).code == "SignatureDoesNotMatch", wire
    # An unsigned x-amz-* header cannot ride along on a presigned URL.
    err = code_of(base.with_headers(x_amz_copy_source="other/obj").auth)
    assert err.code == "AccessDenied" and err.extra["HeadersNotSigned"] == "x-amz-copy-source"
    # ...but UNSIGNED-PAYLOAD, which changes nothing, may.
    base.with_headers(x_amz_content_sha256="UNSIGNED-PAYLOAD").auth()


def test_presigned_missing_or_duplicate_parameters(path_client: Capture) -> None:
    url = path_client.presign("get_object", Bucket="bkt", Key="k")
    base = wire_from_url("GET", url)
    for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders"):
        query = "&".join(p for p in base.query.split("&") if not p.startswith(name + "="))
        assert code_of(replace(base, query=query).auth).code == "AuthorizationQueryParametersError", name
    query = "&".join(p for p in base.query.split("&") if not p.startswith("X-Amz-Signature="))
    assert code_of(replace(base, query=query).auth).code == "AuthorizationQueryParametersError"
    assert code_of(replace(base, query=base.query + "&X-Amz-Date=20260314T150926Z").auth).code == (
        "AuthorizationQueryParametersError"
    )
    bad_algorithm = base.query.replace("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1")
    assert code_of(replace(base, query=bad_algorithm).auth).code == "AuthorizationQueryParametersError"
    bad_credential = base.query.replace("%2Fs3%2F", "%2Fiam%2F")
    assert code_of(replace(base, query=bad_credential).auth).code == "AuthorizationQueryParametersError"
    no_host = base.query.replace("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-date")
    assert code_of(replace(base, query=no_host).auth).code == "AuthorizationQueryParametersError"


def test_presigned_with_signed_payload_hash_is_enforced(path_client: Capture) -> None:
    digest = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    request = AWSRequest("PUT", f"{ENDPOINT}/bkt/k", headers={"X-Amz-Content-SHA256": digest})
    with frozen_clock():
        botocore.auth.S3SigV4QueryAuth(Credentials(ACCESS, SECRET), "s3", "us-east-1", 300).add_auth(request)
    wire = wire_from_url("PUT", request.url, {"x-amz-content-sha256": digest})
    assert "x-amz-content-sha256" in wire.query
    ctx = wire.auth()
    assert ctx.payload_mode == "presigned" and ctx.payload_sha256 == digest
    hasher = PayloadHasher.for_auth(ctx)
    assert hasher is not None
    hasher.feed(b"hellO")
    assert code_of(hasher.verify).code == "XAmzContentSHA256Mismatch"


def test_presigned_cannot_carry_aws_chunked(path_client: Capture) -> None:
    request = AWSRequest(
        "PUT", f"{ENDPOINT}/bkt/k", headers={"X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}
    )
    with frozen_clock():
        botocore.auth.S3SigV4QueryAuth(Credentials(ACCESS, SECRET), "s3", "us-east-1", 300).add_auth(request)
    wire = wire_from_url("PUT", request.url, {"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"})
    assert code_of(wire.auth).code == "InvalidRequest"


# --- rejections ---------------------------------------------------------------------


def test_tampering_breaks_the_signature(path_client: Capture) -> None:
    base = path_client.call("get_object", Bucket="bkt", Key="a b+c", Range="bytes=0-9")
    base.auth()
    tampered = [
        replace(base, method="DELETE"),
        replace(base, raw_path="/bkt/a%20b%2Bd"),
        replace(base, raw_path="/bkt/a%20b+c"),  # a literal '+' is not %2B... but it is the same key
        replace(base, raw_path="/bkt//a%20b%2Bc"),
        replace(base, query="versionId=1"),
        base.with_headers(range="bytes=0-99"),
        base.with_headers(host="other:8443"),
        base.with_headers(x_amz_date="20260314T150927Z"),
        base.with_headers(x_amz_content_sha256="UNSIGNED-PAYLOAD"),
    ]
    errors = [code_of(w.auth).code for w in tampered[:2]] + [code_of(w.auth).code for w in tampered[3:]]
    assert set(errors) == {"SignatureDoesNotMatch"}
    # A literal '+' in the path is the key "a b+c" too: encoding differences that keep the
    # meaning canonicalise alike (so do lower-case escapes).
    tampered[2].auth()
    replace(base, raw_path="/bkt/a%20b%2bc").auth()


def test_encoding_that_changes_meaning_is_refused(path_client: Capture) -> None:
    base = path_client.call("get_object", Bucket="bkt", Key="a/b")
    assert base.raw_path == "/bkt/a/b"
    assert code_of(replace(base, raw_path="/bkt/a%2Fb").auth).code == "SignatureDoesNotMatch"
    listing = path_client.call("list_objects_v2", Bucket="bkt", Prefix="a b")
    assert "prefix=a%20b" in listing.query
    # '+' is how forms spell a space; the router reads it as one, so the signature agrees...
    replace(listing, query=listing.query.replace("a%20b", "a+b")).auth()
    # ...and a real plus is a different prefix.
    assert code_of(replace(listing, query=listing.query.replace("a%20b", "a%2Bb")).auth).code == (
        "SignatureDoesNotMatch"
    )


def test_wrong_secret_and_unknown_key() -> None:
    wrong = Capture(secret="not-the-secret").call("get_object", Bucket="b", Key="k")
    err = code_of(wrong.auth)
    assert (err.code, err.status) == ("SignatureDoesNotMatch", 403)
    assert SECRET not in str(err.extra) and "Signature" not in err.extra
    unknown = Capture(access="AKIAUNKNOWN0000000").call("get_object", Bucket="b", Key="k")
    err = code_of(unknown.auth)
    assert (err.code, err.status) == ("InvalidAccessKeyId", 403)
    url = Capture(access="AKIAUNKNOWN0000000").presign("get_object", Bucket="b", Key="k")
    assert code_of(wire_from_url("GET", url).auth).code == "InvalidAccessKeyId"


def test_clock_skew(path_client: Capture) -> None:
    wire = path_client.call("get_object", Bucket="b", Key="k")
    wire.auth(now=NOW + timedelta(seconds=900))
    wire.auth(now=NOW - timedelta(seconds=900))
    for offset in (901, -901):
        err = code_of(lambda o=offset: wire.auth(now=NOW + timedelta(seconds=o)))  # type: ignore[misc]
        assert (err.code, err.status) == ("RequestTimeTooSkewed", 403)
    wire.auth(now=NOW + timedelta(seconds=1800), max_skew_seconds=1800)
    # A naive "now" is taken as UTC.
    wire.auth(now=NOW.replace(tzinfo=None))


def test_unsigned_amz_headers_are_refused(path_client: Capture) -> None:
    wire = path_client.call("put_object", Bucket="b", Key="k", Body=b"x")
    err = code_of(wire.with_headers(x_amz_meta_sneaky="1", x_amz_acl="public-read").auth)
    assert (err.code, err.message) == (
        "AccessDenied",
        "There were headers present in the request which were not signed",
    )
    assert err.extra["HeadersNotSigned"] == "x-amz-acl, x-amz-meta-sneaky"
    # Other unsigned headers are fine (botocore adds some after signing).
    wire.with_headers(user_agent="curl", amz_sdk_request="attempt=2; max=3", content_length="60").auth()


def test_missing_date_and_payload_hash(path_client: Capture) -> None:
    wire = path_client.call("get_object", Bucket="b", Key="k")
    for bad in (None, "yesterday", "20261301T000000Z"):
        err = code_of(wire.with_headers(x_amz_date=bad).auth)
        assert (err.code, err.message) == (
            "AccessDenied",
            "AWS authentication requires a valid Date or x-amz-date header",
        )
    err = code_of(wire.with_headers(x_amz_content_sha256=None).auth)
    assert (err.code, err.message) == (
        "InvalidRequest",
        "Missing required header for this request: x-amz-content-sha256",
    )
    for bad in ("abc", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "e3b0" * 15):
        err = code_of(wire.with_headers(x_amz_content_sha256=bad).auth)
        assert err.code == "InvalidArgument"


def test_malformed_authorization_header(path_client: Capture) -> None:
    wire = path_client.call("get_object", Bucket="b", Key="k")
    good = wire.headers["authorization"]
    credential = f"{ACCESS}/20260314/us-east-1/s3/aws4_request"
    signature = good.rsplit("Signature=", 1)[1]
    algo = "AWS4-HMAC-SHA256"
    sh = "SignedHeaders=host"

    def scoped(scope: str) -> str:
        return f"{algo} Credential={ACCESS}/{scope}, {sh}, Signature={signature}"

    malformed = [
        f"{algo} Credential={credential}, Signature={signature}",
        f"{algo} Credential={credential}, {sh}, Signature={signature}, Extra=1",
        f"{algo} Credential={credential}, Credential={credential}, Signature={signature}",
        scoped("20260314/us-east-1/s3"),
        scoped("20260314/us-east-1/ec2/aws4_request"),
        scoped("20260314/us-east-1/s3/aws5_request"),
        scoped("2026031/us-east-1/s3/aws4_request"),
        scoped("20260315/us-east-1/s3/aws4_request"),
        scoped("20260314/bad region/s3/aws4_request"),
        f"{algo} Credential={credential}, SignedHeaders=x-amz-date, Signature={signature}",
        f"{algo} Credential={credential}, SignedHeaders=Host;x-amz-date, Signature={signature}",
        f"{algo} Credential={credential}, SignedHeaders=host;;x-amz-date, Signature={signature}",
        f"{algo} garbage",
    ]
    for value in malformed:
        err = code_of(wire.with_headers(authorization=value).auth)
        assert (err.code, err.status) == ("AuthorizationHeaderMalformed", 400), value
    # No spaces after the commas is fine.
    wire.with_headers(authorization=good.replace(", ", ",")).auth()
    # A signature that is not lower-case hex simply does not match.
    shouting = good.replace(signature, signature.upper())
    assert code_of(wire.with_headers(authorization=shouting).auth).code == "SignatureDoesNotMatch"


def test_other_mechanisms_are_refused(path_client: Capture) -> None:
    v2 = Capture(signature_version="s3").call("get_object", Bucket="b", Key="k")
    assert v2.headers["authorization"].startswith("AWS ")
    err = code_of(v2.auth)
    assert err.code == "InvalidRequest" and "AWS4-HMAC-SHA256" in err.message
    v2_url = Capture(signature_version="s3").presign("get_object", Bucket="b", Key="k")
    assert "AWSAccessKeyId=" in v2_url
    assert code_of(wire_from_url("GET", v2_url).auth).code == "InvalidRequest"
    wire = path_client.call("get_object", Bucket="b", Key="k")
    sigv4a = wire.headers["authorization"].replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")
    assert code_of(wire.with_headers(authorization=sigv4a).auth).code == "InvalidRequest"
    # Header and query auth together.
    url = path_client.presign("get_object", Bucket="b", Key="k")
    both = wire_from_url("GET", url, {"authorization": wire.headers["authorization"]})
    assert code_of(both.auth).code == "InvalidArgument"


def test_default_boto3_presign_is_sigv2() -> None:
    url = Capture(signature_version=None).presign("get_object", Bucket="b", Key="k")
    assert "AWSAccessKeyId=" in url and "X-Amz-Algorithm" not in url
    err = code_of(wire_from_url("GET", url).auth)
    assert err.code == "InvalidRequest" and "AWS4-HMAC-SHA256" in err.message


def test_anonymous_requests() -> None:
    anonymous = wire_from_url("GET", f"{ENDPOINT}/bkt/k?versionId=1")
    assert not request_has_auth(anonymous.headers, anonymous.query)
    err = code_of(anonymous.auth)
    assert (err.code, err.status) == ("AccessDenied", 403)
    assert request_has_auth({"authorization": "x"}, "")
    assert request_has_auth({}, "X-Amz-Credential=a")


# --- AWS's worked examples (docs: sig-v4-header-based-auth, sigv4-query-string-auth) ----------

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_NOW = datetime(2013, 5, 24, tzinfo=UTC)


def aws_lookup(access_key: str) -> str | None:
    return AWS_SECRET if access_key == AWS_KEY else None


def test_aws_example_get_object() -> None:
    signature = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    headers = {
        "host": "examplebucket.s3.amazonaws.com",
        "range": "bytes=0-9",
        "x-amz-content-sha256": sigv4.EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
        "authorization": f"AWS4-HMAC-SHA256 Credential={AWS_KEY}/20130524/us-east-1/s3/aws4_request,"
        f"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature={signature}",
    }
    ctx = authenticate("GET", "/test.txt", "", headers, aws_lookup, AWS_NOW)
    assert ctx.seed_signature == signature


def test_aws_example_presigned_url() -> None:
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3"
        "%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )
    headers = {"host": "examplebucket.s3.amazonaws.com"}
    ctx = authenticate("GET", "/test.txt", query, headers, aws_lookup, AWS_NOW + timedelta(hours=23))
    assert ctx.payload_mode == "presigned"
    err = code_of(lambda: authenticate("GET", "/test.txt", query, headers, aws_lookup, AWS_NOW + timedelta(days=2)))
    assert err.message == "Request has expired"


def test_signing_key_derivation_matches_aws_example() -> None:
    # From the AWS "Deriving the signing key" example (iam service, 20120215).
    key = sigv4.derive_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


# --- context, caching, payload ------------------------------------------------------------------


def test_auth_context_is_hard_to_leak(path_client: Capture) -> None:
    ctx = path_client.call("get_object", Bucket="b", Key="k").auth()
    text = repr(ctx)
    assert ctx.signing_key.hex() not in text and repr(ctx.signing_key) not in text
    assert ctx.seed_signature not in text
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(ctx, protocol=protocol)
    with pytest.raises(TypeError):
        copy.copy(ctx)


def test_signing_keys_are_cached_without_the_secret(path_client: Capture) -> None:
    sigv4._signing_keys.clear()
    wire = path_client.call("get_object", Bucket="b", Key="k")
    with mock.patch.object(sigv4, "derive_signing_key", wraps=sigv4.derive_signing_key) as derive:
        for _ in range(5):
            wire.auth()
        path_client.call("list_buckets").auth()
    assert derive.call_count == 1
    cached = repr(sigv4._signing_keys._keys)
    assert SECRET not in cached and SECRET.encode().hex() not in cached
    # Bounded: the oldest entries go.
    cache = sigv4._SigningKeyCache(maxsize=2)
    for region in ("r1", "r2", "r3"):
        cache.get(SECRET, "20260314", region)
    assert len(cache._keys) == 2


def test_payload_hasher() -> None:
    digest = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"  # "hello"
    ok = PayloadHasher(digest)
    ok.feed(b"hel")
    ok.feed(memoryview(b"lo"))
    ok.verify()
    with pytest.raises(RuntimeError):
        ok.feed(b"more")
    with pytest.raises(RuntimeError):
        ok.verify()
    bad = PayloadHasher(digest)
    bad.feed(b"hello!")
    err = code_of(bad.verify)
    assert (err.code, err.status) == ("XAmzContentSHA256Mismatch", 400)
    with pytest.raises(ValueError):
        PayloadHasher("not-hex")

    async def collect(hasher: PayloadHasher, pieces: list[bytes]) -> bytes:
        async def source() -> Any:
            for piece in pieces:
                yield piece

        return b"".join([piece async for piece in hasher.wrap(source())])

    assert asyncio.run(collect(PayloadHasher(digest), [b"he", b"llo"])) == b"hello"
    with pytest.raises(S3Error):
        asyncio.run(collect(PayloadHasher(digest), [b"he", b"lo"]))


def test_session_tokens_are_signed_but_not_interpreted() -> None:
    # strongroom's lookup knows no session tokens; a token is just another signed value.
    session = boto3.session.Session(
        aws_access_key_id=ACCESS, aws_secret_access_key=SECRET, aws_session_token="tok/en+=", region_name="us-east-1"
    )
    client = Capture()
    client.client = session.client("s3", endpoint_url=ENDPOINT, config=Config(signature_version="s3v4"))
    client.client.meta.events.register("before-send", client._send)
    wire = client.call("get_object", Bucket="b", Key="k")
    assert wire.headers["x-amz-security-token"] == "tok/en+="
    wire.auth()
    assert code_of(wire.with_headers(x_amz_security_token="other").auth).code == "SignatureDoesNotMatch"
    url = client.presign("get_object", Bucket="b", Key="k")
    assert "X-Amz-Security-Token=tok%2Fen%2B%3D" in url
    wire_from_url("GET", url).auth()
