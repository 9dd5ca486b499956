"""Request headers -> value types, and stored objects -> response headers (S3 names and formats)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import hashlib
import json
import re
import urllib.parse
from collections.abc import Mapping

from strongroom.core.checksums import ALGORITHMS
from strongroom.core.types import (
    SSE_C,
    SSE_KMS,
    ChecksumRequest,
    Conditions,
    CustomerKey,
    ObjectHeaders,
    SSERequest,
)
from strongroom.http.s3.errors import S3Error, s3_error
from strongroom.metadata.models import ObjectHeaderColumns

MAX_USER_METADATA = 2048
STANDARD_HEADERS = {
    "content-type": "content_type",
    "content-encoding": "content_encoding",
    "content-disposition": "content_disposition",
    "content-language": "content_language",
    "cache-control": "cache_control",
    "expires": "expires",
}
#: Request headers whose values are condition keys of the same name (``s3:<header>``); in a browser POST, the form's
#: fields of those names (``acl`` for x-amz-acl) are, not the request's headers.
CONDITION_HEADERS = (
    "x-amz-acl",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-content-sha256",
    "x-amz-copy-source",
    "x-amz-metadata-directive",
    "x-amz-storage-class",
    "x-amz-grant-read",
    "x-amz-grant-write",
    "x-amz-grant-read-acp",
    "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
)
STORAGE_CLASSES = {
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
    "OUTPOSTS",
    "SNOW",
    "EXPRESS_ONEZONE",
}


def http_date(ts: dt.datetime) -> str:
    return email.utils.format_datetime(ts.astimezone(dt.UTC).replace(microsecond=0), usegmt=True)


def parse_http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def object_headers(h: Mapping[str, str], *, prefix: str = "x-amz-meta-") -> ObjectHeaders:
    out = ObjectHeaders()
    for name, attr in STANDARD_HEADERS.items():
        if name in h:
            setattr(out, attr, h[name])
    if out.content_encoding is not None:
        # "aws-chunked" describes the transfer of this request, not the object: S3 does not store it
        codings = [c.strip() for c in out.content_encoding.split(",")]
        kept = [c for c in codings if c and c.lower() != "aws-chunked"]
        out.content_encoding = ",".join(kept) if kept else None
    meta: dict[str, str] = {}
    size = 0
    for name, value in h.items():
        if name.startswith(prefix):
            short = name[len(prefix) :]
            meta[short] = value
            size += len(short.encode()) + len(value.encode())
    if size > MAX_USER_METADATA:
        raise s3_error("MetadataTooLarge", Size=str(size), MaxSizeAllowed=str(MAX_USER_METADATA))
    out.user_metadata = meta
    sc = h.get("x-amz-storage-class")
    if sc is not None:
        if sc not in STORAGE_CLASSES:
            raise s3_error("InvalidStorageClass", StorageClassRequested=sc)
        out.storage_class = sc
    return out


def customer_key(h: Mapping[str, str], prefix: str = "x-amz-server-side-encryption-customer-") -> CustomerKey | None:
    alg = h.get(prefix + "algorithm")
    key_b64 = h.get(prefix + "key")
    md5_b64 = h.get(prefix + "key-md5")
    if alg is None and key_b64 is None and md5_b64 is None:
        return None
    if alg != "AES256":
        raise s3_error(
            "InvalidEncryptionAlgorithmError" if alg else "InvalidArgument",
            "The encryption algorithm specified is not valid. The valid value is AES256."
            if alg
            else "Requests specifying Server Side Encryption with Customer provided keys must provide a "
            "valid encryption algorithm.",
            ArgumentName=prefix + "algorithm",
        )
    if not key_b64:
        raise s3_error(
            "InvalidArgument",
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate "
            "secret key.",
            ArgumentName=prefix + "key",
        )
    try:
        material = base64.b64decode(key_b64, validate=True)
    except binascii.Error:
        material = b""
    if len(material) != 32:
        raise s3_error(
            "InvalidArgument", "The secret key was invalid for the specified algorithm.", ArgumentName=prefix + "key"
        )
    if md5_b64 is None:  # S3 requires it: the integrity check of a key that is never stored
        raise s3_error(
            "InvalidArgument",
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client "
            "calculated MD5 of the secret key.",
            ArgumentName=prefix + "key-md5",
        )
    if base64.b64encode(hashlib.md5(material, usedforsecurity=False).digest()).decode() != md5_b64:
        raise s3_error(
            "InvalidArgument",
            "The calculated MD5 hash of the key did not match the hash that was provided.",
            ArgumentName=prefix + "key-md5",
        )
    return CustomerKey(material)


def customer_key_md5(ck: CustomerKey) -> str:
    return base64.b64encode(hashlib.md5(ck.material, usedforsecurity=False).digest()).decode()


def sse_request(h: Mapping[str, str]) -> SSERequest:
    alg = h.get("x-amz-server-side-encryption")
    if alg is not None and alg not in ("AES256", "aws:kms", "aws:kms:dsse"):
        raise s3_error(
            "InvalidArgument",
            "The encryption method specified is not supported",
            ArgumentName="x-amz-server-side-encryption",
            ArgumentValue=alg,
        )
    kms_key = h.get("x-amz-server-side-encryption-aws-kms-key-id")
    if kms_key is not None and alg not in ("aws:kms", "aws:kms:dsse"):
        raise s3_error(
            "InvalidArgument",
            "Server Side Encryption with AWS KMS managed key requires HTTP header "
            "x-amz-server-side-encryption : aws:kms",
        )
    bke = h.get("x-amz-server-side-encryption-bucket-key-enabled")
    ck = customer_key(h)
    if ck is not None and alg is not None:
        raise s3_error(
            "InvalidArgument",
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        )
    return SSERequest(
        algorithm=alg,
        kms_key_id=kms_key,
        kms_context=h.get("x-amz-server-side-encryption-context"),
        bucket_key_enabled=None if bke is None else bke.lower() == "true",
        customer_key=ck,
    )


def conditions(h: Mapping[str, str], prefix: str = "if-") -> Conditions:
    return Conditions(
        if_match=h.get(prefix + "match"),
        if_none_match=h.get(prefix + "none-match"),
        if_modified_since=parse_http_date(h.get(prefix + "modified-since")),
        if_unmodified_since=parse_http_date(h.get(prefix + "unmodified-since")),
    )


def checksum_request(h: Mapping[str, str], trailer_names: list[str]) -> ChecksumRequest:
    """Which checksum the client wants computed, and the value it sent in a header (trailers come later)."""
    algorithm = h.get("x-amz-sdk-checksum-algorithm") or h.get("x-amz-checksum-algorithm")
    value = None
    for alg in ALGORITHMS:
        name = "x-amz-checksum-" + alg.lower()
        if name in h:
            if algorithm and algorithm.upper() != alg:
                raise s3_error("InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid.")
            algorithm, value = alg, h[name]
        elif name in trailer_names:
            algorithm = alg
    if algorithm is not None:
        algorithm = algorithm.upper()
        if algorithm not in ALGORITHMS:
            raise s3_error("InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid.")
    return ChecksumRequest(algorithm, value)


def encryption_response_headers(
    mode: str, kms_key_id: str | None, bucket_key_enabled: bool, ck: CustomerKey | None, kms_context: str | None = None
) -> dict[str, str]:
    out: dict[str, str] = {}
    if mode == SSE_C:
        out["x-amz-server-side-encryption-customer-algorithm"] = "AES256"
        if ck is not None:
            out["x-amz-server-side-encryption-customer-key-MD5"] = customer_key_md5(ck)
    elif mode == SSE_KMS:
        out["x-amz-server-side-encryption"] = "aws:kms"
        if kms_key_id:
            out["x-amz-server-side-encryption-aws-kms-key-id"] = kms_key_id
        if bucket_key_enabled:
            out["x-amz-server-side-encryption-bucket-key-enabled"] = "true"
        if kms_context:
            out["x-amz-server-side-encryption-context"] = kms_context
    else:
        out["x-amz-server-side-encryption"] = "AES256"
    return out


def stored_headers(cols: ObjectHeaderColumns) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, attr in STANDARD_HEADERS.items():
        value = getattr(cols, attr)
        if value is not None:
            out[name] = value
    if "content-type" not in out:
        out["content-type"] = "binary/octet-stream"
    for k, v in json.loads(cols.user_metadata).items():
        out["x-amz-meta-" + k] = v
    if cols.storage_class and cols.storage_class != "STANDARD":
        out["x-amz-storage-class"] = cols.storage_class
    return out


def checksum_headers(algorithm: str | None, value: str | None, checksum_type: str | None) -> dict[str, str]:
    if not algorithm or not value:
        return {}
    out = {"x-amz-checksum-" + algorithm.lower(): value}
    if checksum_type:
        out["x-amz-checksum-type"] = checksum_type
    return out


#: GetObject's ``response-*`` query parameters and the header each one sets
RESPONSE_OVERRIDES = (
    "content-type",
    "content-language",
    "expires",
    "cache-control",
    "content-disposition",
    "content-encoding",
)
_HEADER_VALUE_RE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")  # field-value characters HTTP/1.1 allows (RFC 9110)


def header_value(name: str, value: str) -> str:
    """``value`` as a header value (str holding the header's bytes as Latin-1, as headers arrive); InvalidArgument,
    naming ``name``, for one that cannot be a header (CR, LF, NUL or another control character, or beyond Latin-1),
    so nothing unsafe ever reaches the wire."""
    if not _HEADER_VALUE_RE.fullmatch(value):
        raise s3_error(
            "InvalidArgument",
            "Header value cannot be represented using ISO-8859-1 or holds a control character.",
            ArgumentName=name,
            ArgumentValue=value.encode("unicode_escape").decode("ascii")[:256],
        )
    return value


def form_header_value(name: str, value: str) -> str:
    """A browser POST form field that becomes a header of the object (x-amz-meta-*, Content-Type, ...): its UTF-8
    bytes, as a PUT's header carries them (form fields are text, headers are bytes), checked by header_value."""
    return header_value(name, value.encode("utf-8").decode("latin-1"))


def response_overrides(query: Mapping[str, str]) -> dict[str, str]:
    """The headers GetObject's ``response-*`` parameters set (checked by header_value)."""
    out: dict[str, str] = {}
    for name in RESPONSE_OVERRIDES:
        value = query.get("response-" + name)
        if value is not None:
            out[name] = header_value("response-" + name, value)
    return out


_WRITES_OBJECT = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})
_OBJECT_LOCK_HEADERS = ("x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold")


#: Reads take an SSE-C key (to open an SSE-C object) but no other encryption header: the object says how it was sealed
_READS = frozenset({"GetObject", "HeadObject", "GetObjectAttributes"})
_WRITE_ONLY_SSE = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
)


def refuse_sse_on_read(route_name: str, h: Mapping[str, str]) -> None:
    """S3 refuses SSE-S3/SSE-KMS headers on a GET or HEAD (400 InvalidArgument) rather than ignoring them."""
    if route_name in _READS:
        for name in _WRITE_ONLY_SSE:
            if name in h:
                raise s3_error(
                    "InvalidArgument", f"{name} header is not supported for this operation.", ArgumentName=name
                )


def refuse_unbuilt(route_name: str, h: Mapping[str, str]) -> None:
    """Headers asking for what strongroom does not do yet (object tags, object lock) are refused with the S3 error,
    never accepted and ignored: a compliance user must not believe a record is locked when it is not."""
    if route_name in _WRITES_OBJECT:
        if h.get("x-amz-tagging", "").strip() or h.get("x-amz-tagging-directive", "").upper() == "REPLACE":
            raise s3_error(
                "NotImplemented", "strongroom does not implement object tagging yet.", Header="x-amz-tagging"
            )
        for name in _OBJECT_LOCK_HEADERS:
            if name in h:
                # what S3 answers for a bucket without object lock, which every strongroom bucket is for now
                raise s3_error("InvalidRequest", "Bucket is missing Object Lock Configuration")
    elif route_name == "CreateBucket" and h.get("x-amz-bucket-object-lock-enabled", "").strip().lower() == "true":
        raise s3_error(
            "NotImplemented",
            "strongroom does not implement object lock yet.",
            Header="x-amz-bucket-object-lock-enabled",
        )


def int_param(value: str | None, name: str, default: int, lo: int = 0, hi: int | None = None) -> int:
    if value is None or value == "":
        return default
    try:
        n = int(value)
    except ValueError:
        raise s3_error(
            "InvalidArgument",
            f"Provided {name} not an integer or within integer range",
            ArgumentName=name,
            ArgumentValue=value,
        ) from None
    if n < lo or (hi is not None and n > hi):
        raise s3_error(
            "InvalidArgument",
            f"Argument {name} must be an integer between {lo} and {hi}",
            ArgumentName=name,
            ArgumentValue=value,
        )
    return n


__all__ = ["S3Error"]


def check_version_id(version_id: str | None) -> None:
    """strongroom keeps one version per key, whose id is "null" (as in an unversioned S3 bucket).

    Any other id was never issued: refuse it rather than act on the current object.
    """
    if version_id is not None and version_id != "null":
        raise s3_error(
            "InvalidArgument", "Invalid version id specified", ArgumentName="versionId", ArgumentValue=version_id
        )


def copy_source(h: Mapping[str, str]) -> tuple[str, str]:
    """(bucket, key) of ``x-amz-copy-source`` (``/bucket/key`` or ``bucket/key``, percent-encoded, optionally
    ``?versionId=``)."""
    src, _sep, version_id = h["x-amz-copy-source"].partition("?versionId=")
    if _sep:
        check_version_id(urllib.parse.unquote(version_id))
    src = urllib.parse.unquote(src)
    src = src[1:] if src.startswith("/") else src
    bucket, sep, key = src.partition("/")
    if not sep or not bucket or not key:
        raise s3_error(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            ArgumentName="x-amz-copy-source",
        )
    return bucket, key
