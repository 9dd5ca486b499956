"""S3 XML bodies: parse untrusted request documents, render response documents.

Parsing goes through defusedxml only (no DTDs, no entities, no external
references), after a size check. The S3 namespace is optional on input. Every
parse or schema problem is the one opaque ``MalformedXML``; a document that asks
for something strongroom does not implement (conditional deletes, bucket tags,
blocked encryption types) is ``NotImplemented`` rather than silently ignored.

Rendering builds escaped strings: ``& < > " '`` plus CR and LF as character
references (XML end-of-line normalisation would otherwise turn a key's ``\\r``
into ``\\n``), and characters XML 1.0 cannot carry as ``&#x..;`` the way S3 does
(clients that list such keys must ask for ``encoding-type=url``). Element order
follows S3's; element names follow botocore's service model, which is what
SDKs parse. Timestamps are ISO 8601 UTC with milliseconds; a naive datetime is
taken to be UTC.

Checksum mappings are keyed by algorithm (``"CRC32"``, ``"SHA256"``...); on
input ``"crc32"`` and ``"ChecksumCRC32"`` are accepted too. ETags are rendered
verbatim: callers pass them quoted, except for GetObjectAttributes where S3
returns them unquoted.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # Element type and ParseError only: parsing is defusedxml's
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Required, TypedDict
from urllib.parse import quote_plus

import defusedxml.ElementTree as DefusedET
from defusedxml.common import DefusedXmlException

from strongroom.http.s3.errors import S3Error, s3_error

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "MAX_COMPLETE_PARTS",
    "MAX_DELETE_OBJECTS",
    "MAX_LIST_XML_BODY",
    "MAX_XML_BODY",
    "S3_NAMESPACE",
    "SSE_ALGORITHMS",
    "BucketEntry",
    "CompletedPart",
    "DeleteMarkerEntry",
    "EncryptionRule",
    "ObjectEntry",
    "ObjectPartAttributes",
    "ObjectPartsAttributes",
    "PartEntry",
    "UploadEntry",
    "format_timestamp",
    "parse_complete_multipart",
    "parse_create_bucket",
    "parse_delete_objects",
    "parse_encryption_configuration",
    "render_complete_multipart",
    "render_copy_object_result",
    "render_copy_part_result",
    "render_delete_result",
    "render_encryption_configuration",
    "render_error",
    "render_get_object_attributes",
    "render_initiate_multipart",
    "render_list_buckets",
    "render_list_multipart_uploads",
    "render_list_object_versions",
    "render_list_objects_v1",
    "render_list_objects_v2",
    "render_list_parts",
    "render_location",
    "render_post_object_result",
]

S3_NAMESPACE: Final = "http://s3.amazonaws.com/doc/2006-03-01/"

#: Largest configuration document accepted (CreateBucketConfiguration, encryption).
MAX_XML_BODY: Final = 1024 * 1024
#: Largest Delete / CompleteMultipartUpload document accepted. 10,000 parts with a
#: per-part checksum (botocore sends CRC32 by default) or 1,000 long keys do not
#: fit in 1 MiB, so these two documents get more room.
MAX_LIST_XML_BODY: Final = 4 * 1024 * 1024
MAX_DELETE_OBJECTS: Final = 1000
MAX_COMPLETE_PARTS: Final = 10_000

#: Checksum algorithms in botocore's model order (the order elements are rendered in).
CHECKSUM_ALGORITHMS: Final = (
    "CRC32",
    "CRC32C",
    "CRC64NVME",
    "SHA1",
    "SHA256",
    "SHA512",
    "MD5",
    "XXHASH64",
    "XXHASH3",
    "XXHASH128",
)
SSE_ALGORITHMS: Final = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
_KMS_ALGORITHMS: Final = frozenset({"aws:kms", "aws:kms:dsse"})

_PROLOG: Final = '<?xml version="1.0" encoding="UTF-8"?>\n'
_NS_TAG_PREFIX: Final = "{" + S3_NAMESPACE + "}"
_CHECKSUM_ELEMENTS: Final = {"Checksum" + alg: alg for alg in CHECKSUM_ALGORITHMS}
_CHECKSUM_ORDER: Final = {alg: i for i, alg in enumerate(CHECKSUM_ALGORITHMS)}
_PART_NUMBER_RE: Final = re.compile(r"[0-9]{1,5}", re.ASCII)
_XML_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*", re.ASCII)
_ERROR_FIXED: Final = frozenset({"Code", "Message", "Resource", "RequestId", "HostId"})


# --- values -----------------------------------------------------------------


def _canonical_algorithm(name: str) -> str:
    """``"crc32"``, ``"CRC32"`` or ``"ChecksumCRC32"`` -> ``"CRC32"``; anything else is a ValueError."""
    upper = name.upper()
    if upper.startswith("CHECKSUM"):
        upper = upper[len("CHECKSUM") :]
    if upper not in _CHECKSUM_ORDER:
        raise ValueError(f"unknown checksum algorithm {name!r}")
    return upper


def _canonical_checksums(checksums: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in (checksums or {}).items():
        alg = _canonical_algorithm(name)
        if alg in out:
            raise ValueError(f"checksum algorithm {alg} given twice")
        if not isinstance(value, str):
            raise TypeError(f"checksum {alg} must be a str")
        out[alg] = value
    return dict(sorted(out.items(), key=lambda item: _CHECKSUM_ORDER[item[0]]))


@dataclass(frozen=True, slots=True)
class BucketEntry:
    """A bucket in ListBuckets; ``region`` becomes BucketRegion when set."""

    name: str
    creation_date: datetime
    region: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectEntry:
    """An object in a listing. ``etag`` is already quoted.

    In ListObjectVersions it is a ``<Version>``; strongroom is unversioned, so
    ``version_id`` defaults to ``"null"`` and ``is_latest`` to true.
    """

    key: str
    last_modified: datetime
    etag: str
    size: int
    storage_class: str = "STANDARD"
    owner_id: str | None = None
    owner_name: str | None = None
    checksum_algorithm: str | None = None
    checksum_type: str | None = None
    version_id: str = "null"
    is_latest: bool = True

    def __post_init__(self) -> None:
        if self.checksum_algorithm is not None:
            object.__setattr__(self, "checksum_algorithm", _canonical_algorithm(self.checksum_algorithm))


@dataclass(frozen=True, slots=True)
class DeleteMarkerEntry:
    """A delete marker in ListObjectVersions."""

    key: str
    version_id: str
    last_modified: datetime
    is_latest: bool = True
    owner_id: str | None = None
    owner_name: str | None = None


@dataclass(frozen=True, slots=True)
class PartEntry:
    """An uploaded part in ListParts. ``etag`` is already quoted."""

    part_number: int
    last_modified: datetime
    etag: str
    size: int
    checksums: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "checksums", _canonical_checksums(self.checksums))


@dataclass(frozen=True, slots=True)
class UploadEntry:
    """An in-progress multipart upload in ListMultipartUploads (owner doubles as initiator)."""

    key: str
    upload_id: str
    initiated: datetime
    storage_class: str = "STANDARD"
    owner_id: str | None = None
    owner_name: str | None = None
    checksum_algorithm: str | None = None
    checksum_type: str | None = None

    def __post_init__(self) -> None:
        if self.checksum_algorithm is not None:
            object.__setattr__(self, "checksum_algorithm", _canonical_algorithm(self.checksum_algorithm))


@dataclass(frozen=True, slots=True)
class CompletedPart:
    """One ``<Part>`` of a CompleteMultipartUpload request; ``etag`` as the client sent it."""

    part_number: int
    etag: str
    checksums: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EncryptionRule:
    """A bucket's default encryption: the one rule of a ServerSideEncryptionConfiguration."""

    sse_algorithm: str
    kms_master_key_id: str | None = None
    bucket_key_enabled: bool = False

    def __post_init__(self) -> None:
        if self.sse_algorithm not in SSE_ALGORITHMS:
            raise ValueError(f"unknown SSE algorithm {self.sse_algorithm!r}")
        if self.kms_master_key_id is not None and self.sse_algorithm not in _KMS_ALGORITHMS:
            raise ValueError("a KMS key id needs a KMS SSE algorithm")


class ObjectPartAttributes(TypedDict, total=False):
    """One part in GetObjectAttributes' ObjectParts (``"ChecksumCRC32"``-style keys are accepted too)."""

    PartNumber: Required[int]
    Size: Required[int]
    checksums: Mapping[str, str]


class ObjectPartsAttributes(TypedDict, total=False):
    """GetObjectAttributes' ObjectParts; only the keys present are rendered."""

    TotalPartsCount: int
    PartNumberMarker: int
    NextPartNumberMarker: int
    MaxParts: int
    IsTruncated: bool
    Parts: Sequence[ObjectPartAttributes]


# --- parsing ----------------------------------------------------------------


def _malformed() -> S3Error:
    return s3_error("MalformedXML")


def _not_implemented(what: str) -> S3Error:
    return s3_error("NotImplemented", f"{what} is not supported.")


def _parse(body: bytes, root: str, limit: int) -> ET.Element:
    """Parse ``body`` safely and check its root element is ``root``."""
    if len(body) > limit:
        raise _malformed()
    try:
        element = DefusedET.fromstring(bytes(body), forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ET.ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        raise _malformed() from exc
    if _local_name(element) != root:
        raise _malformed()
    return element


def _local_name(element: ET.Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        raise _malformed()
    if tag.startswith(_NS_TAG_PREFIX):
        return tag[len(_NS_TAG_PREFIX) :]
    if tag.startswith("{"):
        raise _malformed()
    return tag


def _members(element: ET.Element, allowed: Iterable[str]) -> dict[str, list[ET.Element]]:
    """Children of a container element by local name; unknown names and stray text are malformed."""
    allowed = frozenset(allowed)
    if element.text and element.text.strip():
        raise _malformed()
    out: dict[str, list[ET.Element]] = {}
    for child in element:
        name = _local_name(child)
        if name not in allowed or (child.tail and child.tail.strip()):
            raise _malformed()
        out.setdefault(name, []).append(child)
    return out


def _one(members: Mapping[str, list[ET.Element]], name: str) -> ET.Element | None:
    found = members.get(name, [])
    if len(found) > 1:
        raise _malformed()
    return found[0] if found else None


def _required(members: Mapping[str, list[ET.Element]], name: str) -> ET.Element:
    element = _one(members, name)
    if element is None:
        raise _malformed()
    return element


def _text(element: ET.Element) -> str:
    """Text of a leaf element, unstripped; an element with children is malformed."""
    if len(element):
        raise _malformed()
    return element.text or ""


def _bool(element: ET.Element | None, default: bool) -> bool:
    if element is None:
        return default
    value = _text(element).strip().lower()
    if value not in ("true", "false"):
        raise _malformed()
    return value == "true"


def parse_create_bucket(body: bytes) -> str | None:
    """CreateBucketConfiguration -> LocationConstraint; an empty body or constraint is None."""
    if len(body) > MAX_XML_BODY:
        raise _malformed()
    if not bytes(body).strip():
        return None
    root = _parse(body, "CreateBucketConfiguration", MAX_XML_BODY)
    members = _members(root, ("LocationConstraint", "Location", "Bucket", "Tags"))
    for unsupported in ("Location", "Bucket", "Tags"):
        if unsupported in members:
            raise _not_implemented(f"CreateBucketConfiguration/{unsupported}")
    constraint = _one(members, "LocationConstraint")
    if constraint is None:
        return None
    return _text(constraint).strip() or None


def parse_delete_objects(body: bytes) -> tuple[list[tuple[str, str | None]], bool]:
    """Delete -> ([(key, version_id)], quiet). One to 1,000 objects, each with a non-empty Key."""
    root = _parse(body, "Delete", MAX_LIST_XML_BODY)
    members = _members(root, ("Object", "Quiet"))
    quiet = _bool(_one(members, "Quiet"), default=False)
    objects = members.get("Object", [])
    if not objects or len(objects) > MAX_DELETE_OBJECTS:
        raise _malformed()
    out: list[tuple[str, str | None]] = []
    for obj in objects:
        fields = _members(obj, ("Key", "VersionId", "ETag", "LastModifiedTime", "Size"))
        for conditional in ("ETag", "LastModifiedTime", "Size"):
            if conditional in fields:
                raise _not_implemented(f"Conditional delete on {conditional}")
        key = _text(_required(fields, "Key"))
        if not key:
            raise _malformed()
        version = _one(fields, "VersionId")
        out.append((key, None if version is None else _text(version)))
    return out, quiet


def parse_complete_multipart(body: bytes) -> list[CompletedPart]:
    """CompleteMultipartUpload -> parts in document order (order and duplicates are the caller's check)."""
    root = _parse(body, "CompleteMultipartUpload", MAX_LIST_XML_BODY)
    parts = _members(root, ("Part",)).get("Part", [])
    if not parts or len(parts) > MAX_COMPLETE_PARTS:
        raise _malformed()
    out: list[CompletedPart] = []
    for part in parts:
        fields = _members(part, ("PartNumber", "ETag", *_CHECKSUM_ELEMENTS))
        number_text = _text(_required(fields, "PartNumber")).strip()
        if not _PART_NUMBER_RE.fullmatch(number_text):
            raise _malformed()
        number = int(number_text)
        if not 1 <= number <= MAX_COMPLETE_PARTS:
            raise _malformed()
        etag = _text(_required(fields, "ETag")).strip()
        if not etag:
            raise _malformed()
        checksums: dict[str, str] = {}
        for element_name, algorithm in _CHECKSUM_ELEMENTS.items():
            element = _one(fields, element_name)
            if element is not None:
                checksums[algorithm] = _text(element).strip()
        out.append(CompletedPart(part_number=number, etag=etag, checksums=checksums))
    return out


def parse_encryption_configuration(body: bytes) -> EncryptionRule:
    """ServerSideEncryptionConfiguration with exactly one Rule -> EncryptionRule."""
    root = _parse(body, "ServerSideEncryptionConfiguration", MAX_XML_BODY)
    rules = _members(root, ("Rule",)).get("Rule", [])
    if len(rules) != 1:
        raise _malformed()
    rule = _members(rules[0], ("ApplyServerSideEncryptionByDefault", "BucketKeyEnabled", "BlockedEncryptionTypes"))
    if "BlockedEncryptionTypes" in rule:
        raise _not_implemented("BlockedEncryptionTypes")
    default = _members(_required(rule, "ApplyServerSideEncryptionByDefault"), ("SSEAlgorithm", "KMSMasterKeyID"))
    algorithm = _text(_required(default, "SSEAlgorithm")).strip()
    if algorithm not in SSE_ALGORITHMS:
        raise _malformed()
    key_element = _one(default, "KMSMasterKeyID")
    key_id = None
    if key_element is not None:
        key_id = _text(key_element).strip() or None
    if key_id is not None and algorithm not in _KMS_ALGORITHMS:
        raise s3_error(
            "InvalidArgument",
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
            ArgumentName="ApplyServerSideEncryptionByDefault",
        )
    bucket_key = _bool(_one(rule, "BucketKeyEnabled"), default=False)
    return EncryptionRule(sse_algorithm=algorithm, kms_master_key_id=key_id, bucket_key_enabled=bucket_key)


# --- rendering --------------------------------------------------------------

_ESCAPES: Final = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&apos;",
    "\r": "&#13;",
    "\n": "&#10;",
}
_TO_ESCAPE: Final = re.compile("[&<>\"'\r\n\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape(value: str) -> str:
    return _TO_ESCAPE.sub(lambda m: _ESCAPES.get(m.group()) or f"&#x{ord(m.group()):X};", value)


def format_timestamp(value: datetime) -> str:
    """``2026-11-28T14:20:50.000Z``: UTC, milliseconds, Z. A naive datetime is UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    v = value.astimezone(UTC)
    return (
        f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}"
        f".{v.microsecond // 1000:03d}Z"
    )


def _el(name: str, value: str) -> str:
    return f"<{name}>{_escape(value)}</{name}>"


def _opt(name: str, value: str | None) -> str:
    return "" if value is None else _el(name, value)


def _int(name: str, value: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int")
    return f"<{name}>{value}</{name}>"


def _opt_int(name: str, value: int | None) -> str:
    return "" if value is None else _int(name, value)


def _bool_el(name: str, value: bool) -> str:
    return f"<{name}>{'true' if value else 'false'}</{name}>"


def _time(name: str, value: datetime) -> str:
    return f"<{name}>{format_timestamp(value)}</{name}>"


def _wrap(name: str, parts: Iterable[str]) -> str:
    return f"<{name}>{''.join(parts)}</{name}>"


def _owner(name: str, owner_id: str | None, display_name: str | None) -> str:
    if owner_id is None:
        return ""
    return _wrap(name, (_el("ID", owner_id), _opt("DisplayName", display_name)))


def _checksums(checksums: Mapping[str, str] | None) -> str:
    return "".join(_el("Checksum" + alg, value) for alg, value in _canonical_checksums(checksums).items())


def _document(root: str, parts: Iterable[str], namespace: bool = True) -> bytes:
    xmlns = f' xmlns="{S3_NAMESPACE}"' if namespace else ""
    return f"{_PROLOG}<{root}{xmlns}>{''.join(parts)}</{root}>".encode()


def _encoder(encoding_type: str | None) -> Callable[[str], str]:
    """S3's encoding-type=url: query-style (space is '+'), '/' kept, UTF-8 percent-encoded."""
    if not encoding_type:
        return lambda value: value
    if encoding_type != "url":
        raise ValueError(f"unsupported encoding type {encoding_type!r}")
    return lambda value: quote_plus(value, safe="/")


def _common_prefixes(prefixes: Iterable[str], encode: Callable[[str], str]) -> str:
    return "".join(_wrap("CommonPrefixes", (_el("Prefix", encode(p)),)) for p in prefixes)


def _contents(entry: ObjectEntry, encode: Callable[[str], str], with_owner: bool) -> str:
    return _wrap(
        "Contents",
        (
            _el("Key", encode(entry.key)),
            _time("LastModified", entry.last_modified),
            _el("ETag", entry.etag),
            _opt("ChecksumAlgorithm", entry.checksum_algorithm),
            _opt("ChecksumType", entry.checksum_type),
            _int("Size", entry.size),
            _owner("Owner", entry.owner_id, entry.owner_name) if with_owner else "",
            _el("StorageClass", entry.storage_class),
        ),
    )


def render_error(
    code: str,
    message: str,
    resource: str | None,
    request_id: str,
    extra: Mapping[str, str] | None = None,
    host_id: str = "",
) -> bytes:
    """``<Error>`` document. No namespace: S3 sends none and botocore only recognises a bare ``Error``."""
    for name in extra or {}:
        if not _XML_NAME_RE.fullmatch(name) or name in _ERROR_FIXED:
            raise ValueError(f"bad extra error element name {name!r}")
    return _document(
        "Error",
        (
            _el("Code", code),
            _el("Message", message),
            *(_el(name, value) for name, value in (extra or {}).items()),
            _opt("Resource", resource),
            _el("RequestId", request_id),
            _el("HostId", host_id),
        ),
        namespace=False,
    )


def render_list_buckets(
    owner_id: str,
    owner_name: str | None,
    buckets: Sequence[BucketEntry],
    continuation_token: str | None = None,
    prefix: str | None = None,
) -> bytes:
    """ListAllMyBucketsResult."""
    return _document(
        "ListAllMyBucketsResult",
        (
            _owner("Owner", owner_id, owner_name),
            _wrap(
                "Buckets",
                (
                    _wrap(
                        "Bucket",
                        (
                            _el("Name", b.name),
                            _time("CreationDate", b.creation_date),
                            _opt("BucketRegion", b.region),
                        ),
                    )
                    for b in buckets
                ),
            ),
            _opt("ContinuationToken", continuation_token),
            _opt("Prefix", prefix),
        ),
    )


def render_location(region: str) -> bytes:
    """GetBucketLocation. ``us-east-1`` is an empty element, as AWS does; any other region is its name."""
    return _document("LocationConstraint", ("" if region == "us-east-1" else _escape(region),))


def render_encryption_configuration(rule: EncryptionRule) -> bytes:
    """GetBucketEncryption's ServerSideEncryptionConfiguration."""
    default = _wrap(
        "ApplyServerSideEncryptionByDefault",
        (_el("SSEAlgorithm", rule.sse_algorithm), _opt("KMSMasterKeyID", rule.kms_master_key_id)),
    )
    return _document(
        "ServerSideEncryptionConfiguration",
        (_wrap("Rule", (default, _bool_el("BucketKeyEnabled", rule.bucket_key_enabled))),),
    )


def render_list_objects_v1(
    bucket: str,
    prefix: str | None,
    marker: str | None,
    delimiter: str | None,
    max_keys: int,
    is_truncated: bool,
    next_marker: str | None,
    contents: Sequence[ObjectEntry],
    common_prefixes: Sequence[str],
    encoding_type: str | None,
) -> bytes:
    """ListBucketResult (v1). With ``encoding_type="url"``: Prefix, Marker, NextMarker, Delimiter, Key
    and CommonPrefixes are encoded. Owner is rendered for entries that carry one."""
    enc = _encoder(encoding_type)
    return _document(
        "ListBucketResult",
        (
            _el("Name", bucket),
            _el("Prefix", enc(prefix or "")),
            _el("Marker", enc(marker or "")),
            _opt("NextMarker", None if next_marker is None else enc(next_marker)),
            _int("MaxKeys", max_keys),
            _opt("Delimiter", None if delimiter is None else enc(delimiter)),
            _opt("EncodingType", encoding_type or None),
            _bool_el("IsTruncated", is_truncated),
            *(_contents(entry, enc, with_owner=True) for entry in contents),
            _common_prefixes(common_prefixes, enc),
        ),
    )


def render_list_objects_v2(
    bucket: str,
    prefix: str | None,
    delimiter: str | None,
    max_keys: int,
    key_count: int,
    is_truncated: bool,
    continuation_token: str | None,
    next_continuation_token: str | None,
    start_after: str | None,
    contents: Sequence[ObjectEntry],
    common_prefixes: Sequence[str],
    encoding_type: str | None,
    fetch_owner: bool,
) -> bytes:
    """ListBucketResult (v2). With ``encoding_type="url"``: Prefix, Delimiter, StartAfter, Key and
    CommonPrefixes are encoded; continuation tokens are opaque and never encoded."""
    enc = _encoder(encoding_type)
    return _document(
        "ListBucketResult",
        (
            _el("Name", bucket),
            _el("Prefix", enc(prefix or "")),
            _opt("StartAfter", None if start_after is None else enc(start_after)),
            _opt("ContinuationToken", continuation_token),
            _opt("NextContinuationToken", next_continuation_token),
            _int("KeyCount", key_count),
            _int("MaxKeys", max_keys),
            _opt("Delimiter", None if delimiter is None else enc(delimiter)),
            _opt("EncodingType", encoding_type or None),
            _bool_el("IsTruncated", is_truncated),
            *(_contents(entry, enc, with_owner=fetch_owner) for entry in contents),
            _common_prefixes(common_prefixes, enc),
        ),
    )


def render_list_object_versions(
    bucket: str,
    prefix: str | None,
    key_marker: str | None,
    version_id_marker: str | None,
    delimiter: str | None,
    max_keys: int,
    is_truncated: bool,
    next_key_marker: str | None,
    next_version_id_marker: str | None,
    versions: Sequence[ObjectEntry],
    delete_markers: Sequence[DeleteMarkerEntry],
    common_prefixes: Sequence[str],
    encoding_type: str | None,
) -> bytes:
    """ListVersionsResult. With ``encoding_type="url"``: Prefix, KeyMarker, NextKeyMarker, Delimiter,
    Key and CommonPrefixes are encoded."""
    enc = _encoder(encoding_type)
    version_elements = (
        _wrap(
            "Version",
            (
                _el("Key", enc(v.key)),
                _el("VersionId", v.version_id),
                _bool_el("IsLatest", v.is_latest),
                _time("LastModified", v.last_modified),
                _el("ETag", v.etag),
                _opt("ChecksumAlgorithm", v.checksum_algorithm),
                _opt("ChecksumType", v.checksum_type),
                _int("Size", v.size),
                _owner("Owner", v.owner_id, v.owner_name),
                _el("StorageClass", v.storage_class),
            ),
        )
        for v in versions
    )
    marker_elements = (
        _wrap(
            "DeleteMarker",
            (
                _el("Key", enc(d.key)),
                _el("VersionId", d.version_id),
                _bool_el("IsLatest", d.is_latest),
                _time("LastModified", d.last_modified),
                _owner("Owner", d.owner_id, d.owner_name),
            ),
        )
        for d in delete_markers
    )
    return _document(
        "ListVersionsResult",
        (
            _el("Name", bucket),
            _el("Prefix", enc(prefix or "")),
            _el("KeyMarker", enc(key_marker or "")),
            _el("VersionIdMarker", version_id_marker or ""),
            _opt("NextKeyMarker", None if next_key_marker is None else enc(next_key_marker)),
            _opt("NextVersionIdMarker", next_version_id_marker),
            _int("MaxKeys", max_keys),
            _opt("Delimiter", None if delimiter is None else enc(delimiter)),
            _opt("EncodingType", encoding_type or None),
            _bool_el("IsTruncated", is_truncated),
            *version_elements,
            *marker_elements,
            _common_prefixes(common_prefixes, enc),
        ),
    )


def render_delete_result(
    deleted: Sequence[tuple[str, str | None]],
    errors: Sequence[tuple[str, str, str]],
    quiet: bool,
) -> bytes:
    """DeleteResult: ``deleted`` is [(key, version_id)], ``errors`` [(key, code, message)].
    Quiet mode lists only the errors."""
    deleted_elements = [
        _wrap("Deleted", (_el("Key", key), _opt("VersionId", version))) for key, version in ([] if quiet else deleted)
    ]
    error_elements = (
        _wrap("Error", (_el("Key", key), _el("Code", code), _el("Message", message))) for key, code, message in errors
    )
    return _document("DeleteResult", (*deleted_elements, *error_elements))


def render_copy_object_result(
    etag: str,
    last_modified: datetime,
    checksums: Mapping[str, str] | None = None,
    checksum_type: str | None = None,
) -> bytes:
    """CopyObjectResult. The checksum type may also come as a ``"ChecksumType"`` entry of ``checksums``."""
    values, kind = _with_type(checksums, checksum_type)
    return _document(
        "CopyObjectResult",
        (
            _el("ETag", etag),
            _time("LastModified", last_modified),
            _opt("ChecksumType", kind),
            _checksums(values),
        ),
    )


def render_copy_part_result(etag: str, last_modified: datetime, checksums: Mapping[str, str] | None = None) -> bytes:
    """CopyPartResult (UploadPartCopy)."""
    return _document("CopyPartResult", (_el("ETag", etag), _time("LastModified", last_modified), _checksums(checksums)))


def render_initiate_multipart(bucket: str, key: str, upload_id: str) -> bytes:
    """InitiateMultipartUploadResult."""
    return _document(
        "InitiateMultipartUploadResult", (_el("Bucket", bucket), _el("Key", key), _el("UploadId", upload_id))
    )


def render_complete_multipart(
    location: str,
    bucket: str,
    key: str,
    etag: str,
    checksums: Mapping[str, str] | None = None,
    checksum_type: str | None = None,
) -> bytes:
    """CompleteMultipartUploadResult. The checksum type may also come as a ``"ChecksumType"`` entry of
    ``checksums``."""
    values, kind = _with_type(checksums, checksum_type)
    return _document(
        "CompleteMultipartUploadResult",
        (
            _el("Location", location),
            _el("Bucket", bucket),
            _el("Key", key),
            _el("ETag", etag),
            _checksums(values),
            _opt("ChecksumType", kind),
        ),
    )


def render_list_parts(
    bucket: str,
    key: str,
    upload_id: str,
    part_number_marker: int,
    next_part_number_marker: int | None,
    max_parts: int,
    is_truncated: bool,
    parts: Sequence[PartEntry],
    owner_id: str | None,
    owner_name: str | None = None,
    storage_class: str = "STANDARD",
    initiator_id: str | None = None,
    initiator_name: str | None = None,
    checksum_algorithm: str | None = None,
    checksum_type: str | None = None,
) -> bytes:
    """ListPartsResult. The initiator defaults to the owner."""
    if initiator_id is None:
        initiator_id, initiator_name = owner_id, owner_name
    part_elements = (
        _wrap(
            "Part",
            (
                _int("PartNumber", p.part_number),
                _time("LastModified", p.last_modified),
                _el("ETag", p.etag),
                _int("Size", p.size),
                _checksums(p.checksums),
            ),
        )
        for p in parts
    )
    return _document(
        "ListPartsResult",
        (
            _el("Bucket", bucket),
            _el("Key", key),
            _el("UploadId", upload_id),
            _owner("Initiator", initiator_id, initiator_name),
            _owner("Owner", owner_id, owner_name),
            _el("StorageClass", storage_class),
            _int("PartNumberMarker", part_number_marker),
            _opt_int("NextPartNumberMarker", next_part_number_marker),
            _int("MaxParts", max_parts),
            _bool_el("IsTruncated", is_truncated),
            *part_elements,
            _opt(
                "ChecksumAlgorithm",
                None if checksum_algorithm is None else _canonical_algorithm(checksum_algorithm),
            ),
            _opt("ChecksumType", checksum_type),
        ),
    )


def render_list_multipart_uploads(
    bucket: str,
    key_marker: str | None,
    upload_id_marker: str | None,
    next_key_marker: str | None,
    next_upload_id_marker: str | None,
    prefix: str | None,
    delimiter: str | None,
    max_uploads: int,
    is_truncated: bool,
    uploads: Sequence[UploadEntry],
    common_prefixes: Sequence[str],
    encoding_type: str | None,
) -> bytes:
    """ListMultipartUploadsResult. With ``encoding_type="url"``: KeyMarker, NextKeyMarker, Prefix,
    Delimiter, Key and CommonPrefixes are encoded."""
    enc = _encoder(encoding_type)
    upload_elements = (
        _wrap(
            "Upload",
            (
                _el("Key", enc(u.key)),
                _el("UploadId", u.upload_id),
                _owner("Initiator", u.owner_id, u.owner_name),
                _owner("Owner", u.owner_id, u.owner_name),
                _el("StorageClass", u.storage_class),
                _time("Initiated", u.initiated),
                _opt("ChecksumAlgorithm", u.checksum_algorithm),
                _opt("ChecksumType", u.checksum_type),
            ),
        )
        for u in uploads
    )
    return _document(
        "ListMultipartUploadsResult",
        (
            _el("Bucket", bucket),
            _el("KeyMarker", enc(key_marker or "")),
            _el("UploadIdMarker", upload_id_marker or ""),
            _opt("NextKeyMarker", None if next_key_marker is None else enc(next_key_marker)),
            _opt("NextUploadIdMarker", next_upload_id_marker),
            _opt("Delimiter", None if delimiter is None else enc(delimiter)),
            _el("Prefix", enc(prefix or "")),
            _int("MaxUploads", max_uploads),
            _opt("EncodingType", encoding_type or None),
            _bool_el("IsTruncated", is_truncated),
            *upload_elements,
            _common_prefixes(common_prefixes, enc),
        ),
    )


_OBJECT_PARTS_KEYS: Final = frozenset(ObjectPartsAttributes.__annotations__)


def _with_type(checksums: Mapping[str, str] | None, checksum_type: str | None) -> tuple[dict[str, str], str | None]:
    """Split a ``"ChecksumType"`` entry out of a checksum mapping (callers may put it there)."""
    rest = dict(checksums or {})
    listed = rest.pop("ChecksumType", None)
    if listed is not None and checksum_type is not None and listed != checksum_type:
        raise ValueError("two different checksum types given")
    return rest, checksum_type if checksum_type is not None else listed


def _object_part(part: Mapping[str, Any]) -> str:
    checksums = dict(part.get("checksums") or {})
    for name, value in part.items():
        if name.startswith("Checksum"):
            checksums[name] = value  # a clash with ``checksums`` is caught as a duplicate below
        elif name not in ("PartNumber", "Size", "checksums"):
            raise ValueError(f"unknown ObjectParts part key {name!r}")
    return _wrap("Part", (_int("PartNumber", part["PartNumber"]), _int("Size", part["Size"]), _checksums(checksums)))


def _object_parts(parts: Mapping[str, Any]) -> str:
    unknown = set(parts) - _OBJECT_PARTS_KEYS
    if unknown:
        raise ValueError(f"unknown ObjectParts keys {sorted(unknown)}")
    truncated = parts.get("IsTruncated")
    return _wrap(
        "ObjectParts",
        (
            _opt_int("PartsCount", parts.get("TotalPartsCount")),
            _opt_int("PartNumberMarker", parts.get("PartNumberMarker")),
            _opt_int("NextPartNumberMarker", parts.get("NextPartNumberMarker")),
            _opt_int("MaxParts", parts.get("MaxParts")),
            "" if truncated is None else _bool_el("IsTruncated", truncated),
            *(_object_part(part) for part in parts.get("Parts", ())),
        ),
    )


def render_get_object_attributes(
    etag: str | None,
    checksum: Mapping[str, str] | None,
    object_parts: Mapping[str, Any] | None,
    storage_class: str | None,
    object_size: int | None,
    checksum_type: str | None = None,
) -> bytes:
    """GetObjectAttributesResponse with only the attributes given (None = not requested).

    ``etag`` is unquoted here, as S3 returns it. The checksum type goes inside Checksum, from
    ``checksum_type`` or a ``"ChecksumType"`` entry of ``checksum``. ``object_parts`` has the keys
    of :class:`ObjectPartsAttributes`; a part's checksums are a ``"checksums"`` mapping or
    ``"ChecksumCRC32"``-style keys. TotalPartsCount goes on the wire as ``<PartsCount>``.
    """
    checksum_element = ""
    if checksum is not None:
        values, kind = _with_type(checksum, checksum_type)
        checksum_element = _wrap("Checksum", (_checksums(values), _opt("ChecksumType", kind)))
    return _document(
        "GetObjectAttributesResponse",
        (
            _opt("ETag", etag),
            checksum_element,
            "" if object_parts is None else _object_parts(object_parts),
            _opt("StorageClass", storage_class),
            _opt_int("ObjectSize", object_size),
        ),
    )


def render_post_object_result(location: str, bucket: str, key: str, etag: str) -> bytes:
    """PostResponse, the body of a browser POST upload with ``success_action_status=201``.
    No namespace, as S3 sends it."""
    return _document(
        "PostResponse",
        (_el("Location", location), _el("Bucket", bucket), _el("Key", key), _el("ETag", etag)),
        namespace=False,
    )
