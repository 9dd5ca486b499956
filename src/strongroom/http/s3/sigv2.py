"""AWS Signature Version 2 for the S3 API (legacy clients): the ``Authorization: AWS AKID:SIG`` header,
query-string authentication (``AWSAccessKeyId``, ``Expires``, ``Signature``) and, in ``postpolicy``, POST forms.

As the S3 developer guide ("Signing and authenticating REST requests") defines it::

    StringToSign = VERB "\\n" Content-MD5 "\\n" Content-Type "\\n" Date "\\n" CanonicalizedAmzHeaders
                   CanonicalizedResource
    Signature    = Base64(HMAC-SHA1(secret access key, UTF-8(StringToSign)))

* ``Date`` is the Date header, or ``""`` when an ``x-amz-date`` header is present (that one is then signed among the
  amz headers and is the request's time), or, in a presigned URL, the ``Expires`` value;
* ``CanonicalizedAmzHeaders``: each ``x-amz-*`` header, name lower-cased, repeats joined with ``,``, values trimmed,
  sorted by name, ``name:value\\n`` each;
* ``CanonicalizedResource``: ``/bucket`` (also for virtual-hosted-style requests) plus the path exactly as
  received (not decoded), then the subresources of :data:`SUBRESOURCES` present in the query, sorted by name, with
  their decoded values (``?acl&uploadId=2``).

Signatures are compared in constant time; secrets, signatures and the string to sign are never logged, and a
SignatureDoesNotMatch carries no StringToSign (V2's holds signed header values: an SSE-C key, say).
``settings.sigv2 = false`` refuses all of it as S3 regions without V2 do (InvalidRequest, use AWS4-HMAC-SHA256).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from strongroom.http.s3.errors import S3Error, s3_error
from strongroom.http.s3.sigv4 import (
    AMZ_DATE_FORMAT,
    MAX_PRESIGNED_EXPIRES,
    STREAMING_MODES,
    AuthContext,
    SecretLookup,
    iso_time,
    one_mechanism_only,
    parse_http_date,
    payload_mode,
)

ALGORITHM = "AWS"
SIGNATURE_VERSION = "AWS"  # the s3:signatureversion condition value of a V2 request
#: Query parameters that are part of the CanonicalizedResource (AWS's list, and what SDKs sign).
SUBRESOURCES = frozenset(
    {
        "accelerate",
        "acl",
        "analytics",
        "cors",
        "delete",
        "encryption",
        "intelligent-tiering",
        "inventory",
        "legal-hold",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "ownershipControls",
        "partNumber",
        "policy",
        "policyStatus",
        "publicAccessBlock",
        "replication",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "retention",
        "select",
        "select-type",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    }
)
QUERY_PARAMS = (b"AWSAccessKeyId", b"Expires", b"Signature")
_V4_QUERY = (b"X-Amz-Algorithm", b"X-Amz-Credential", b"X-Amz-Signature")
_BASE64_SHA1 = re.compile(r"[A-Za-z0-9+/]{27}=")


def attempted(headers: Mapping[str, str], query_names: set[bytes]) -> bool:
    """Whether a request tries Signature V2 (its header or its query parameters)."""
    return headers.get("authorization", "").startswith(ALGORITHM + " ") or bool(
        query_names & {b"AWSAccessKeyId", b"Signature"}
    )


def sign(secret: str, string_to_sign: bytes) -> str:
    """Base64 HMAC-SHA1 of ``string_to_sign`` under a secret access key (also the V2 POST policy signature)."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), string_to_sign, hashlib.sha1).digest()).decode("ascii")


def signatures_equal(expected: str, provided: str) -> bool:
    """Constant-time comparison; anything that is not a base64 SHA-1 never matches."""
    if not _BASE64_SHA1.fullmatch(provided):
        return False
    return hmac.compare_digest(expected.encode("ascii"), provided.encode("ascii"))


def canonical_resource(resource_path: str, query_string: str) -> str:
    """``resource_path`` (``/bucket`` + the raw path) plus the signed subresources of the raw query."""
    signed: list[tuple[str, str]] = []
    for piece in query_string.split("&"):
        if not piece:
            continue
        name, eq, value = piece.partition("=")
        name = unquote(name)
        if name in SUBRESOURCES:
            signed.append((name, name + "=" + unquote(value) if eq else name))
    signed.sort(key=lambda pair: pair[0])
    return resource_path + ("?" + "&".join(text for _, text in signed) if signed else "")


def _amz_headers(headers: Mapping[str, str]) -> str:
    amz = sorted((name, value.strip()) for name, value in headers.items() if name.startswith("x-amz-"))
    return "".join(f"{name}:{value}\n" for name, value in amz)


def string_to_sign(
    method: str, headers: Mapping[str, str], resource_path: str, query_string: str, date_line: str
) -> bytes:
    """The V2 string to sign (module docstring). ``headers``: lower-case names, repeats joined with ","."""
    text = "\n".join(
        (
            method,
            headers.get("content-md5", "").strip(),
            headers.get("content-type", "").strip(),
            date_line,
            _amz_headers(headers) + canonical_resource(resource_path, query_string),
        )
    )
    try:
        return text.encode("latin-1")  # header values arrive as latin-1 text: these are the bytes signed
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _context(access_key: str, request_time: datetime, headers: Mapping[str, str], presigned: bool) -> AuthContext:
    mode, sha256 = "unsigned", None
    content_sha256 = headers.get("x-amz-content-sha256")
    if content_sha256 is not None and not presigned:  # signed among the amz headers: the body must match it
        mode, sha256 = payload_mode(content_sha256)
        if mode in STREAMING_MODES:
            raise s3_error("InvalidRequest", "aws-chunked payloads need Signature Version 4 (AWS4-HMAC-SHA256).")
    return AuthContext(
        access_key=access_key,
        region="",
        payload_mode=mode,
        payload_sha256=sha256,
        decoded_length=None,
        signing_key=b"",
        seed_signature="",
        amz_date=request_time.strftime(AMZ_DATE_FORMAT),
        scope="",
        signature_version=SIGNATURE_VERSION,
    )


def _signed(
    secret: str,
    signature: str,
    method: str,
    headers: Mapping[str, str],
    resource_path: str,
    query_string: str,
    date_line: str,
) -> bool:
    """Whether ``signature`` signs this request. A path-style bucket request (``/bucket``) may be signed as
    ``/bucket/``: botocore's V2 signer does that (it signs the virtual-hosted form), and S3 accepts it."""
    candidates = [resource_path]
    if resource_path.count("/") == 1 and len(resource_path) > 1:
        candidates.append(resource_path + "/")
    ok = False
    for resource in candidates:  # every candidate is compared: the time taken does not say which one matched
        expected = sign(secret, string_to_sign(method, headers, resource, query_string, date_line))
        ok = signatures_equal(expected, signature) or ok
    return ok


def _secret(lookup: SecretLookup, access_key: str) -> str:
    secret = lookup(access_key)
    if secret is None:
        raise s3_error("InvalidAccessKeyId", AWSAccessKeyId=access_key)
    return secret


def _mismatch(access_key: str) -> S3Error:
    return s3_error("SignatureDoesNotMatch", AWSAccessKeyId=access_key)


def authenticate(
    method: str,
    resource_path: str,
    query_string: str,
    query_pairs: list[tuple[bytes, bytes]],
    headers: Mapping[str, str],
    lookup: SecretLookup,
    now: datetime,
    max_skew_seconds: int = 900,
) -> AuthContext:
    """Verify a V2-signed request (header or query string); raise :class:`S3Error` with AWS's code otherwise.

    ``resource_path`` is ``/bucket`` plus the path as received (``/`` for the service), ``query_string`` the raw
    query and ``query_pairs`` the same, decoded (``sigv4.parse_query``).
    """
    now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    params = {name: value for name, value in query_pairs if name in QUERY_PARAMS}
    names = {name for name, _ in query_pairs}
    authorization = headers.get("authorization")
    if authorization is not None and (params or names & set(_V4_QUERY)):
        raise one_mechanism_only()
    if authorization is not None:
        return _authenticate_header(
            method, resource_path, query_string, headers, authorization, lookup, now, max_skew_seconds
        )
    return _authenticate_query(method, resource_path, query_string, headers, params, lookup, now, max_skew_seconds)


def _authenticate_header(
    method: str,
    resource_path: str,
    query_string: str,
    headers: Mapping[str, str],
    authorization: str,
    lookup: SecretLookup,
    now: datetime,
    max_skew_seconds: int,
) -> AuthContext:
    access_key, colon, signature = authorization[len(ALGORITHM) + 1 :].strip().rpartition(":")
    if not colon or not access_key or not signature:
        raise s3_error(
            "InvalidArgument",
            "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
            ArgumentName="Authorization",
            ArgumentValue=authorization[: len(ALGORITHM) + 1 + 32],
        )
    if "x-amz-date" in headers:
        raw_time, date_line = headers["x-amz-date"], ""
    else:
        raw_time = headers.get("date", "")
        date_line = raw_time.strip()
    request_time = parse_http_date(raw_time) if raw_time else None
    if request_time is None:
        raise s3_error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
    if abs(now - request_time) > timedelta(seconds=max_skew_seconds):
        raise s3_error(
            "RequestTimeTooSkewed",
            RequestTime=raw_time.strip()[:64],
            ServerTime=iso_time(now),
            MaxAllowedSkewMilliseconds=str(max_skew_seconds * 1000),
        )
    secret = _secret(lookup, access_key)
    if not _signed(secret, signature, method, headers, resource_path, query_string, date_line):
        raise _mismatch(access_key)
    return _context(access_key, request_time, headers, presigned=False)


def _authenticate_query(
    method: str,
    resource_path: str,
    query_string: str,
    headers: Mapping[str, str],
    params: dict[bytes, bytes],
    lookup: SecretLookup,
    now: datetime,
    max_skew_seconds: int,
) -> AuthContext:
    if any(name not in params for name in QUERY_PARAMS):
        raise s3_error(
            "AccessDenied", "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
        )
    access_key = params[b"AWSAccessKeyId"].decode("utf-8", "replace")
    expires_text = params[b"Expires"].decode("utf-8", "replace")
    if not expires_text.isascii() or not expires_text.isdigit() or len(expires_text) > 12:
        raise s3_error("AccessDenied", f"Invalid date (should be seconds since epoch): {expires_text[:32]}")
    expires = datetime.fromtimestamp(int(expires_text), UTC)
    if now > expires:
        raise s3_error("AccessDenied", "Request has expired", Expires=iso_time(expires), ServerTime=iso_time(now))
    if expires - now > timedelta(seconds=MAX_PRESIGNED_EXPIRES + max_skew_seconds):
        # strongroom's bound (AWS documents none for V2): a V2 URL lives at most as long as a V4 one, 7 days
        raise s3_error(
            "AccessDenied",
            "Request expiry is more than 7 days away: a presigned URL is valid for at most 604800 seconds",
            Expires=iso_time(expires),
            ServerTime=iso_time(now),
        )
    secret = _secret(lookup, access_key)
    signature = params[b"Signature"].decode("latin-1")
    if not _signed(secret, signature, method, headers, resource_path, query_string, expires_text):
        raise _mismatch(access_key)
    return _context(access_key, now, headers, presigned=True)
