"""AWS Signature Version 4 for the S3 API: the Authorization header and presigned URLs.

:func:`authenticate` trusts nothing in the request. It rebuilds the canonical
request from what arrived on the wire, the way S3 does:

* the path is not normalised (``//``, ``.`` and ``..`` stay); each segment is
  percent-decoded and re-encoded with only ``A-Za-z0-9-_.~`` left bare, so a
  path botocore sent (which it encodes exactly that way) canonicalises to itself;
* each query name and value is decoded the way the router reads it (``+`` is a
  space, as in :func:`urllib.parse.parse_qsl`) and re-encoded the same way, then
  the pairs are sorted; a presigned URL drops ``X-Amz-Signature``;
* header values are the bytes received (``str`` values decoded as latin-1, as
  ASGI servers and Starlette do) with runs of whitespace folded.

Every ``x-amz-*`` header in the request must be signed, and so must ``host``.
Secrets and signatures are never logged or put into errors.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import NoReturn
from urllib.parse import quote, unquote_to_bytes

from strongroom.http.s3.errors import S3Error, s3_error

#: access key id -> secret access key, None when the key is unknown (or disabled).
SecretLookup = Callable[[str], str | None]

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "s3"
TERMINATOR = "aws4_request"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
MAX_PRESIGNED_EXPIRES = 604800  # seven days

#: x-amz-content-sha256 literal -> AuthContext.payload_mode
PAYLOAD_MODES: dict[str, str] = {
    UNSIGNED_PAYLOAD: "unsigned",
    STREAMING_SIGNED: "streaming-signed",
    STREAMING_SIGNED_TRAILER: "streaming-signed-trailer",
    STREAMING_UNSIGNED_TRAILER: "streaming-unsigned-trailer",
}
STREAMING_MODES = frozenset({"streaming-signed", "streaming-signed-trailer", "streaming-unsigned-trailer"})

_UNSUPPORTED_MECHANISM = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX64_ANYCASE = re.compile(r"[0-9a-fA-F]{64}")
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_SCOPE_DATE = re.compile(r"[0-9]{8}")
_UNRESERVED = re.compile(rb"[A-Za-z0-9_.~-]*")  # what SigV4's URI encoding leaves as it is
_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
_DECIMAL = re.compile(r"[0-9]{1,19}")
_SIGNED_DECIMAL = re.compile(r"-?[0-9]{1,19}")
_PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)


@dataclass(frozen=True)
class AuthContext:
    """Who signed a request and what the signature covers. Holds a derived key: never pickled.

    ``payload_sha256`` is set whenever the signature covers a digest of the body
    (``payload_mode == "signed"``, or a presigned URL that signed an
    ``x-amz-content-sha256`` header): wrap the body in :class:`PayloadHasher` then.
    The ``streaming-*`` modes need :mod:`~strongroom.http.s3.chunked`;
    ``decoded_length`` is their x-amz-decoded-content-length (None if not sent).
    ``unsigned`` and ``presigned`` bodies are not covered by the signature.
    """

    access_key: str
    region: str
    payload_mode: str
    payload_sha256: str | None
    decoded_length: int | None
    signing_key: bytes = field(repr=False)
    seed_signature: str = field(repr=False)
    amz_date: str
    scope: str
    signature_version: str = ALGORITHM  # "AWS" for Signature V2 (sigv2.py): the s3:signatureversion condition value

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("AuthContext holds key material and cannot be pickled or copied")


def request_has_auth(headers: Mapping[str, str], query_string: str) -> bool:
    """Whether the request tries to authenticate at all (else it is anonymous)."""
    if "authorization" in headers:
        return True
    names = {name for name, _ in parse_query(query_string)}
    return bool(names & {b"X-Amz-Algorithm", b"X-Amz-Credential", b"X-Amz-Signature", b"AWSAccessKeyId"})


def claimed_access_key(authorization: str, query_credential: str = "") -> str | None:
    """The access key id a request claims (its ``Credential=`` in the Authorization header, else a presigned URL's
    or a POST form's credential), whether or not its signature holds; at most 128 characters, for the log."""
    if authorization.startswith("AWS "):  # Signature V2: "AWS AKID:signature"
        return authorization[4:].strip().rpartition(":")[0][:128] or None
    credential = authorization.partition("Credential=")[2] or query_credential
    return credential.split("/", 1)[0][:128] or None


# --- signing keys ------------------------------------------------------------


def derive_signing_key(secret: str, date: str, region: str, service: str = SERVICE) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")."""
    key = _hmac(("AWS4" + secret).encode("utf-8"), date.encode("ascii"))
    key = _hmac(key, region.encode("ascii"))
    key = _hmac(key, service.encode("ascii"))
    return _hmac(key, TERMINATOR.encode("ascii"))


class _SigningKeyCache:
    """LRU of derived signing keys. Keyed by a salted hash of the secret, never the secret."""

    def __init__(self, maxsize: int = 1024) -> None:
        self._maxsize = maxsize
        self._salt = os.urandom(32)
        self._lock = threading.Lock()
        self._keys: OrderedDict[tuple[bytes, str, str], bytes] = OrderedDict()

    def get(self, secret: str, date: str, region: str) -> bytes:
        tag = hashlib.blake2b(secret.encode("utf-8"), key=self._salt, digest_size=32).digest()
        slot = (tag, date, region)
        with self._lock:
            key = self._keys.get(slot)
            if key is not None:
                self._keys.move_to_end(slot)
                return key
        key = derive_signing_key(secret, date, region)
        with self._lock:
            self._keys[slot] = key
            while len(self._keys) > self._maxsize:
                self._keys.popitem(last=False)
        return key

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()


_signing_keys = _SigningKeyCache()


def signing_key(secret: str, date: str, region: str) -> bytes:
    """The S3 signing key for ``date``/``region``, from the cache when possible."""
    return _signing_keys.get(secret, date, region)


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def sign_hex(key: bytes, string_to_sign: bytes) -> str:
    """Hex HMAC-SHA256 of a string to sign under a derived signing key."""
    return hmac.new(key, string_to_sign, hashlib.sha256).hexdigest()


def signatures_equal(expected: str, provided: str) -> bool:
    """Constant-time comparison of two hex signatures; anything not lower-case hex never matches."""
    if not _HEX64.fullmatch(provided):
        return False
    return hmac.compare_digest(expected.encode("ascii"), provided.encode("ascii"))


# --- canonical request -------------------------------------------------------


def _wire_bytes(value: str) -> bytes:
    """The bytes a str came from: ASGI text is latin-1; anything wider was decoded as UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _encode(raw: bytes) -> str:
    if _UNRESERVED.fullmatch(raw):
        return raw.decode("ascii")
    return _quote(raw)


@lru_cache(maxsize=1024)
def _quote(raw: bytes) -> str:
    # the values that need encoding (credential scopes, header lists, keys) repeat from request to request
    return quote(raw, safe="-_.~")


def canonical_uri(raw_path: str) -> str:
    """The S3 canonical URI: no normalisation, every segment decoded once and re-encoded."""
    if not raw_path:
        return "/"
    return "/".join(
        _encode(unquote_to_bytes(segment) if b"%" in segment else segment)
        for segment in _wire_bytes(raw_path).split(b"/")
    )


def parse_query(query_string: str) -> list[tuple[bytes, bytes]]:
    """The raw query as (name, value) pairs, each percent-decoded once (``+`` is a space)."""
    pairs = []
    for piece in _wire_bytes(query_string).split(b"&"):
        if not piece:
            continue
        name, _, value = piece.partition(b"=")
        pairs.append((_unquote_plus(name), _unquote_plus(value)))
    return pairs


def _unquote_plus(raw: bytes) -> bytes:
    if b"%" not in raw and b"+" not in raw:
        return raw
    return unquote_to_bytes(raw.replace(b"+", b" "))


def canonical_query(pairs: list[tuple[bytes, bytes]], *, presigned: bool = False) -> str:
    """Sorted ``name=value`` pairs, both URI-encoded; a presigned URL's signature is left out."""
    encoded = sorted(
        (_encode(name), _encode(value)) for name, value in pairs if not (presigned and name == b"X-Amz-Signature")
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def _canonical_headers(headers: Mapping[str, str], names: list[str]) -> bytes:
    lines = []
    for name in names:
        value = headers.get(name)
        folded = b" ".join(_wire_bytes(value).split()) if value is not None else b""
        lines.append(name.encode("ascii") + b":" + folded + b"\n")
    return b"".join(lines)


def canonical_request(
    method: str,
    raw_path: str,
    query_pairs: list[tuple[bytes, bytes]],
    headers: Mapping[str, str],
    signed_headers: list[str],
    payload_hash: str,
    *,
    presigned: bool = False,
) -> bytes:
    return b"\n".join(
        [
            _wire_bytes(method),  # as sent: methods are case-sensitive
            canonical_uri(raw_path).encode("ascii"),
            canonical_query(query_pairs, presigned=presigned).encode("ascii"),
            _canonical_headers(headers, signed_headers),
            ";".join(signed_headers).encode("ascii"),
            payload_hash.encode("ascii"),
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical: bytes) -> bytes:
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical).hexdigest()]).encode("ascii")


# --- parsing -----------------------------------------------------------------


@dataclass(frozen=True)
class _Credential:
    access_key: str
    date: str
    region: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{SERVICE}/{TERMINATOR}"


def _parse_credential(value: str, fail: Callable[[str], S3Error]) -> _Credential:
    parts = value.split("/")
    if len(parts) != 5 or not parts[0] or len(parts[0]) > 128 or not parts[0].isprintable() or " " in parts[0]:
        raise fail('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".')
    access_key, date, region, service, terminator = parts
    if not _SCOPE_DATE.fullmatch(date) or _parse_day(date) is None:
        raise fail(
            f'incorrect date format "{_printable(date)}". This date in the credential must be in the format "yyyyMMdd".'
        )
    if not _REGION.fullmatch(region):
        raise fail(f'the region "{_printable(region)}" is wrong.')
    if service != SERVICE:
        raise fail(f'incorrect service "{_printable(service)}". This endpoint belongs to "{SERVICE}".')
    if terminator != TERMINATOR:
        raise fail(f'incorrect terminal "{_printable(terminator)}". This endpoint uses "{TERMINATOR}".')
    return _Credential(access_key, date, region)


def _printable(value: str, limit: int = 64) -> str:
    return "".join(c if c.isprintable() else "?" for c in value[:limit])


@lru_cache(maxsize=256)
def _parse_day(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        return None


@lru_cache(maxsize=16)  # a new value every second: a few seconds' worth pays; more only pins memory (the soak)
def parse_amz_date(value: str) -> datetime | None:
    """``yyyymmddThhmmssZ`` as an aware UTC datetime, None when malformed (cached: datetimes are immutable)."""
    if not _AMZ_DATE.fullmatch(value):
        return None
    try:
        return datetime.strptime(value, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _parse_signed_headers(value: str, fail: Callable[[str], S3Error]) -> list[str]:
    names = value.split(";")
    if not value or any(not _HEADER_NAME.fullmatch(name) for name in names) or len(set(names)) != len(names):
        raise fail("SignedHeaders must be a ';'-separated list of lower-case header names.")
    if "host" not in names:
        raise fail("the host header must be signed.")
    return names


def _parse_authorization(value: str) -> tuple[str, str, str]:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise s3_error("InvalidRequest", _UNSUPPORTED_MECHANISM)
    components: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, component = part.strip().partition("=")
        if not sep or name not in ("Credential", "SignedHeaders", "Signature") or name in components:
            raise _header_malformed(
                f'the authorization component "{_printable(name)}" is malformed.'
                if name not in ("Credential", "SignedHeaders", "Signature")
                else f'the authorization component "{name}" is repeated or malformed.'
            )
        components[name] = component.strip()
    if len(components) != 3:
        raise _header_malformed(
            "the authorization header requires three components: Credential, SignedHeaders, and Signature."
        )
    return components["Credential"], components["SignedHeaders"], components["Signature"]


def _header_malformed(detail: str) -> S3Error:
    return s3_error("AuthorizationHeaderMalformed", f"The authorization header is malformed; {detail}")


def _query_malformed(detail: str) -> S3Error:
    return s3_error("AuthorizationQueryParametersError", detail)


def _credential_malformed_in_query(detail: str) -> S3Error:
    return s3_error("AuthorizationQueryParametersError", f"Error parsing the X-Amz-Credential parameter; {detail}")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


iso_time = _iso  # for sigv2.py: the ISO form S3 puts in Expires / ServerTime


def one_mechanism_only() -> S3Error:
    """S3's answer to a request that signs in two ways at once (header and query, V4 or V2)."""
    return s3_error(
        "InvalidArgument",
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
        "string parameter or the Authorization header should be specified",
        ArgumentName="Authorization",
    )


def parse_http_date(value: str) -> datetime | None:
    """An HTTP date (RFC 7231: the Date header, SigV2's x-amz-date) as an aware UTC datetime, or None."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return (parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


# --- authenticate ------------------------------------------------------------


def authenticate(
    method: str,
    raw_path: str,
    query_string: str,
    headers: Mapping[str, str],
    lookup: SecretLookup,
    now: datetime,
    max_skew_seconds: int = 900,
    query_pairs: list[tuple[bytes, bytes]] | None = None,
) -> AuthContext:
    """Verify a SigV4-signed S3 request and say who signed it and how the body is covered.

    ``headers`` maps lower-case names to values (repeats joined with ","),
    ``raw_path`` is the path exactly as received, ``query_string`` the raw query (``query_pairs``: the same,
    already parsed by :func:`parse_query`). Raises :class:`S3Error` with AWS's code for every failure.
    """
    now = _aware(now)
    if query_pairs is None:
        query_pairs = parse_query(query_string)
    query_names = {name for name, _ in query_pairs}
    authorization = headers.get("authorization")
    presign_attempt = bool(query_names & {b"X-Amz-Algorithm", b"X-Amz-Credential", b"X-Amz-Signature"})
    if authorization is not None and presign_attempt:
        raise one_mechanism_only()
    if authorization is not None:
        return _authenticate_header(
            method, raw_path, query_pairs, headers, authorization, lookup, now, max_skew_seconds
        )
    if presign_attempt:
        return _authenticate_presigned(method, raw_path, query_pairs, headers, lookup, now, max_skew_seconds)
    if b"AWSAccessKeyId" in query_names or b"Signature" in query_names:
        raise s3_error("InvalidRequest", _UNSUPPORTED_MECHANISM)
    raise s3_error("AccessDenied", "Access Denied")


def _authenticate_header(
    method: str,
    raw_path: str,
    query_pairs: list[tuple[bytes, bytes]],
    headers: Mapping[str, str],
    authorization: str,
    lookup: SecretLookup,
    now: datetime,
    max_skew_seconds: int,
) -> AuthContext:
    credential_value, signed_value, signature = _parse_authorization(authorization)
    credential = _parse_credential(credential_value, _header_malformed)
    signed_headers = _parse_signed_headers(signed_value, _header_malformed)

    amz_date, request_time = _request_time(headers)
    if credential.date != amz_date[:8]:
        raise _header_malformed(
            f'Invalid credential date "{credential.date}". This date is not the same as X-Amz-Date: "{amz_date[:8]}".'
        )
    if abs(now - request_time) > timedelta(seconds=max_skew_seconds):
        raise s3_error(
            "RequestTimeTooSkewed",
            RequestTime=amz_date,
            ServerTime=_iso(now),
            MaxAllowedSkewMilliseconds=str(max_skew_seconds * 1000),
        )

    content_sha256 = headers.get("x-amz-content-sha256")
    if content_sha256 is None:
        raise s3_error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
    mode, payload_sha256 = payload_mode(content_sha256)
    _require_signed_amz_headers(headers, signed_headers, exempt=("x-amz-content-sha256", "x-amz-date"))
    decoded_length = _decoded_length(headers) if mode in STREAMING_MODES else None

    key = _signing_key_for(credential, lookup)
    canonical = canonical_request(method, raw_path, query_pairs, headers, signed_headers, content_sha256)
    expected = sign_hex(key, string_to_sign(amz_date, credential.scope, canonical))
    _check_signature(expected, signature, credential, amz_date, canonical)
    return AuthContext(
        access_key=credential.access_key,
        region=credential.region,
        payload_mode=mode,
        payload_sha256=payload_sha256,
        decoded_length=decoded_length,
        signing_key=key,
        seed_signature=signature,
        amz_date=amz_date,
        scope=credential.scope,
    )


def _authenticate_presigned(
    method: str,
    raw_path: str,
    query_pairs: list[tuple[bytes, bytes]],
    headers: Mapping[str, str],
    lookup: SecretLookup,
    now: datetime,
    max_skew_seconds: int,
) -> AuthContext:
    params: dict[str, str] = {}
    for name, value in query_pairs:
        text = name.decode("utf-8", "replace")
        if text in _PRESIGN_PARAMS:
            if text in params:
                raise _query_malformed(f"{text} must be specified only once.")
            params[text] = value.decode("utf-8", "replace")
    if any(name not in params for name in _PRESIGN_PARAMS):
        raise _query_malformed(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
            "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _query_malformed(f'X-Amz-Algorithm only supports "{ALGORITHM}".')
    credential = _parse_credential(params["X-Amz-Credential"], _credential_malformed_in_query)
    amz_date = params["X-Amz-Date"]
    request_time = parse_amz_date(amz_date)
    if request_time is None:
        raise _query_malformed("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
    if credential.date != amz_date[:8]:
        raise _credential_malformed_in_query(
            f'Invalid credential date "{credential.date}". This date is not the same as X-Amz-Date: "{amz_date[:8]}".'
        )
    expires_value = params["X-Amz-Expires"]
    if not _SIGNED_DECIMAL.fullmatch(expires_value):
        raise _query_malformed("X-Amz-Expires should be a number")
    expires = int(expires_value)
    if expires < 1:
        raise _query_malformed("X-Amz-Expires must be a positive number of seconds")
    if expires > MAX_PRESIGNED_EXPIRES:
        raise _query_malformed(f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGNED_EXPIRES}")
    if request_time - now > timedelta(seconds=max_skew_seconds):
        raise s3_error("AccessDenied", "Request is not valid yet")
    expiry = request_time + timedelta(seconds=expires)
    if now > expiry:
        raise s3_error(
            "AccessDenied",
            "Request has expired",
            **{"X-Amz-Expires": str(expires), "Expires": _iso(expiry), "ServerTime": _iso(now)},
        )
    signed_headers = _parse_signed_headers(params["X-Amz-SignedHeaders"], _query_malformed)

    payload_hash = UNSIGNED_PAYLOAD
    payload_sha256: str | None = None
    content_sha256 = headers.get("x-amz-content-sha256")
    exempt: tuple[str, ...] = ()
    if content_sha256 is not None and "x-amz-content-sha256" in signed_headers:
        mode, payload_sha256 = payload_mode(content_sha256)
        if mode in STREAMING_MODES:
            raise s3_error("InvalidRequest", "aws-chunked payloads cannot be sent with query string authentication.")
        payload_hash = content_sha256
    elif content_sha256 == UNSIGNED_PAYLOAD:
        exempt = ("x-amz-content-sha256",)
    _require_signed_amz_headers(headers, signed_headers, exempt=exempt)

    key = _signing_key_for(credential, lookup)
    canonical = canonical_request(method, raw_path, query_pairs, headers, signed_headers, payload_hash, presigned=True)
    expected = sign_hex(key, string_to_sign(amz_date, credential.scope, canonical))
    signature = params["X-Amz-Signature"]
    _check_signature(expected, signature, credential, amz_date, canonical)
    return AuthContext(
        access_key=credential.access_key,
        region=credential.region,
        payload_mode="presigned",
        payload_sha256=payload_sha256,
        decoded_length=None,
        signing_key=key,
        seed_signature=signature,
        amz_date=amz_date,
        scope=credential.scope,
    )


def _request_time(headers: Mapping[str, str]) -> tuple[str, datetime]:
    """The signed timestamp: x-amz-date, else the Date header (as SigV4 allows)."""
    missing = s3_error("AccessDenied", "AWS authentication requires a valid Date or x-amz-date header")
    value = headers.get("x-amz-date")
    if value is not None:
        parsed = parse_amz_date(value.strip())
        if parsed is None:
            raise missing
        return value.strip(), parsed
    date_header = headers.get("date")
    parsed = parse_http_date(date_header) if date_header is not None else None
    if parsed is None:
        raise missing
    return parsed.strftime(AMZ_DATE_FORMAT), parsed


def payload_mode(content_sha256: str) -> tuple[str, str | None]:
    mode = PAYLOAD_MODES.get(content_sha256)
    if mode is not None:
        return mode, None
    if _HEX64_ANYCASE.fullmatch(content_sha256):
        return "signed", content_sha256.lower()
    raise s3_error(
        "InvalidArgument",
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
        "or a valid sha256 value.",
        ArgumentName="x-amz-content-sha256",
        ArgumentValue=_printable(content_sha256),
    )


def _decoded_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("x-amz-decoded-content-length")
    if value is None:
        return None
    if not _DECIMAL.fullmatch(value.strip()):
        raise s3_error(
            "InvalidArgument",
            "x-amz-decoded-content-length must be a non-negative integer.",
            ArgumentName="x-amz-decoded-content-length",
        )
    return int(value.strip())


def _require_signed_amz_headers(
    headers: Mapping[str, str], signed_headers: list[str], *, exempt: tuple[str, ...]
) -> None:
    signed = set(signed_headers)
    unsigned = sorted(
        name for name in headers if name.startswith("x-amz-") and name not in signed and name not in exempt
    )
    if unsigned:
        raise s3_error(
            "AccessDenied",
            "There were headers present in the request which were not signed",
            HeadersNotSigned=", ".join(unsigned),
        )


def _signing_key_for(credential: _Credential, lookup: SecretLookup) -> bytes:
    secret = lookup(credential.access_key)
    if secret is None:
        raise s3_error("InvalidAccessKeyId", AWSAccessKeyId=credential.access_key)
    return signing_key(secret, credential.date, credential.region)


def _check_signature(expected: str, provided: str, credential: _Credential, amz_date: str, canonical: bytes) -> None:
    if not signatures_equal(expected, provided):
        # The string to sign only carries a hash of the canonical request, which may hold
        # signed secrets (SSE-C keys); the canonical request itself stays out of the error.
        sts = string_to_sign(amz_date, credential.scope, canonical).decode("ascii")
        raise s3_error("SignatureDoesNotMatch", AWSAccessKeyId=credential.access_key, StringToSign=sts)


# --- payload -----------------------------------------------------------------


class PayloadHasher:
    """Checks a body against the SHA-256 its signature covers. Feed every byte, then verify() once."""

    __slots__ = ("_expected", "_hash", "_verified")

    def __init__(self, expected_sha256: str) -> None:
        if not _HEX64.fullmatch(expected_sha256):
            raise ValueError("expected_sha256 must be 64 lower-case hex digits")
        self._expected = expected_sha256
        self._hash = hashlib.sha256()
        self._verified = False

    @classmethod
    def for_auth(cls, auth: AuthContext) -> PayloadHasher | None:
        """A hasher when the request's signature covers a body digest, else None."""
        return cls(auth.payload_sha256) if auth.payload_sha256 is not None else None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._verified:
            raise RuntimeError("PayloadHasher already verified")
        self._hash.update(data)

    def verify(self) -> None:
        """Raise XAmzContentSHA256Mismatch unless everything fed hashes to the signed digest."""
        if self._verified:
            raise RuntimeError("PayloadHasher already verified")
        self._verified = True
        computed = self._hash.hexdigest()
        if not hmac.compare_digest(computed, self._expected):
            raise s3_error(
                "XAmzContentSHA256Mismatch",
                ClientComputedContentSHA256=self._expected,
                S3ComputedContentSHA256=computed,
            )

    async def wrap(self, source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """Pass ``source`` through, verifying when it ends; an error there means discard it all."""
        async for piece in source:
            self.feed(piece)
            yield piece
        self.verify()
