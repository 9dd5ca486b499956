"""The S3 operation table: every request resolves here, once, to an operation, its IAM action and its resource.

One row per operation, in the order they are tried: HTTP method, where it applies (the service, a bucket or an
object), the query parameters (subresources) and headers that select it. Authorization (``policy.authz``) runs on
what this table names before any handler; the audit log will record the same names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from strongroom.http.s3.errors import S3Error, s3_error


@dataclass(frozen=True)
class Route:
    name: str  # the S3 API operation, as the API reference names it
    action: str  # the IAM action authorization checks
    level: str  # "service" | "bucket" | "object"
    handler: str  # "module:function" under strongroom.http.s3.handlers
    source_action: str | None = None  # a second check on the copy source (CopyObject, UploadPartCopy)
    per_key: bool = False  # the handler decides per key (DeleteObjects); the route checks the bucket is visible
    public: bool = False  # answered without authentication or authorization (a CORS preflight)


Predicate = Callable[[str, Mapping[str, str], Mapping[str, str]], bool]


def _q(*names: str) -> Predicate:
    return lambda method, query, headers: all(n in query for n in names)


def _h(name: str) -> Predicate:
    return lambda method, query, headers: name in headers


def _form(method: str, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    return headers.get("content-type", "").startswith("multipart/form-data") and "delete" not in query


def _always(method: str, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    return True


def _plain(method: str, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    """No subresource: the bucket or object itself."""
    return not any(k in SUBRESOURCES for k in query)


def _read(method: str, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    """GET/HEAD of the object itself (``partNumber`` selects a part of it)."""
    return not any(k in SUBRESOURCES and k != "partNumber" for k in query)


def _list_v2(method: str, query: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    return query.get("list-type") == "2" and _plain(method, query, headers)


def _all(*preds: Predicate) -> Predicate:
    return lambda m, q, h: all(p(m, q, h) for p in preds)


#: Subresources strongroom implements; any other one on a bucket or object is refused with NotImplemented.
BUCKET_SUBRESOURCES = frozenset(
    {
        "policy",
        "policyStatus",
        "acl",
        "publicAccessBlock",
        "ownershipControls",
        "cors",
        "encryption",
        "location",
        "versioning",
        "uploads",
        "versions",
        "delete",
    }
)
#: Everything that selects another operation than the bucket's or object's own.
SUBRESOURCES = BUCKET_SUBRESOURCES | {"uploadId", "partNumber", "attributes"}
#: Parameters of listings and reads that are not subresources.
PARAMETERS = frozenset(
    {
        "prefix",
        "delimiter",
        "marker",
        "max-keys",
        "encoding-type",
        "list-type",
        "continuation-token",
        "start-after",
        "fetch-owner",
        "key-marker",
        "version-id-marker",
        "upload-id-marker",
        "max-uploads",
        "max-parts",
        "part-number-marker",
        "uploadId",
        "partNumber",
        "versionId",
        "x-id",
        "max-buckets",
        "bucket-region",
        "attributes",
        "acl",
        "uploads",
    }
)

_B = "bucket"
_O = "object"
# (method, level, predicate, route); first match wins
TABLE: list[tuple[str, str, Predicate, Route]] = [
    ("GET", "service", _always, Route("ListBuckets", "s3:ListAllMyBuckets", "service", "service:list_buckets")),
    # --- bucket access control
    ("PUT", _B, _q("policy"), Route("PutBucketPolicy", "s3:PutBucketPolicy", _B, "access:put_bucket_policy")),
    ("GET", _B, _q("policy"), Route("GetBucketPolicy", "s3:GetBucketPolicy", _B, "access:get_bucket_policy")),
    (
        "DELETE",
        _B,
        _q("policy"),
        Route("DeleteBucketPolicy", "s3:DeleteBucketPolicy", _B, "access:delete_bucket_policy"),
    ),
    (
        "GET",
        _B,
        _q("policyStatus"),
        Route("GetBucketPolicyStatus", "s3:GetBucketPolicyStatus", _B, "access:get_bucket_policy_status"),
    ),
    ("PUT", _B, _q("acl"), Route("PutBucketAcl", "s3:PutBucketAcl", _B, "access:put_bucket_acl")),
    ("GET", _B, _q("acl"), Route("GetBucketAcl", "s3:GetBucketAcl", _B, "access:get_bucket_acl")),
    (
        "PUT",
        _B,
        _q("publicAccessBlock"),
        Route("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock", _B, "access:put_public_access_block"),
    ),
    (
        "GET",
        _B,
        _q("publicAccessBlock"),
        Route("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock", _B, "access:get_public_access_block"),
    ),
    (
        "DELETE",
        _B,
        _q("publicAccessBlock"),
        Route("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock", _B, "access:delete_public_access_block"),
    ),
    (
        "PUT",
        _B,
        _q("ownershipControls"),
        Route("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls", _B, "access:put_ownership_controls"),
    ),
    (
        "GET",
        _B,
        _q("ownershipControls"),
        Route("GetBucketOwnershipControls", "s3:GetBucketOwnershipControls", _B, "access:get_ownership_controls"),
    ),
    (
        "DELETE",
        _B,
        _q("ownershipControls"),
        Route("DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls", _B, "access:delete_ownership_controls"),
    ),
    # --- bucket configuration
    ("PUT", _B, _q("cors"), Route("PutBucketCors", "s3:PutBucketCORS", _B, "cors:put_bucket_cors")),
    ("GET", _B, _q("cors"), Route("GetBucketCors", "s3:GetBucketCORS", _B, "cors:get_bucket_cors")),
    ("DELETE", _B, _q("cors"), Route("DeleteBucketCors", "s3:PutBucketCORS", _B, "cors:delete_bucket_cors")),
    (
        "PUT",
        _B,
        _q("encryption"),
        Route("PutBucketEncryption", "s3:PutEncryptionConfiguration", _B, "buckets:put_encryption"),
    ),
    (
        "GET",
        _B,
        _q("encryption"),
        Route("GetBucketEncryption", "s3:GetEncryptionConfiguration", _B, "buckets:get_encryption"),
    ),
    (
        "DELETE",
        _B,
        _q("encryption"),
        Route("DeleteBucketEncryption", "s3:PutEncryptionConfiguration", _B, "buckets:delete_encryption"),
    ),
    ("GET", _B, _q("location"), Route("GetBucketLocation", "s3:GetBucketLocation", _B, "buckets:get_location")),
    ("GET", _B, _q("versioning"), Route("GetBucketVersioning", "s3:GetBucketVersioning", _B, "buckets:get_versioning")),
    # --- listings
    (
        "GET",
        _B,
        _q("uploads"),
        Route("ListMultipartUploads", "s3:ListBucketMultipartUploads", _B, "listing:list_uploads"),
    ),
    ("GET", _B, _q("versions"), Route("ListObjectVersions", "s3:ListBucketVersions", _B, "listing:list_versions")),
    ("GET", _B, _list_v2, Route("ListObjectsV2", "s3:ListBucket", _B, "listing:list_v2")),
    ("GET", _B, _plain, Route("ListObjects", "s3:ListBucket", _B, "listing:list_v1")),
    ("HEAD", _B, _plain, Route("HeadBucket", "s3:ListBucket", _B, "buckets:head")),
    # --- bucket lifecycle and batch delete
    ("PUT", _B, _plain, Route("CreateBucket", "s3:CreateBucket", _B, "buckets:create")),
    ("DELETE", _B, _plain, Route("DeleteBucket", "s3:DeleteBucket", _B, "buckets:delete")),
    ("POST", _B, _q("delete"), Route("DeleteObjects", "s3:DeleteObject", _B, "objects:delete_objects", per_key=True)),
    ("POST", _B, _form, Route("PostObject", "s3:PutObject", _O, "objects:post_object")),
    # --- objects
    (
        "PUT",
        _O,
        _all(_q("partNumber", "uploadId"), _h("x-amz-copy-source")),
        Route("UploadPartCopy", "s3:PutObject", _O, "multipart:upload_part_copy", source_action="s3:GetObject"),
    ),
    ("PUT", _O, _q("partNumber", "uploadId"), Route("UploadPart", "s3:PutObject", _O, "multipart:upload_part")),
    ("PUT", _O, _q("acl"), Route("PutObjectAcl", "s3:PutObjectAcl", _O, "access:put_object_acl")),
    (
        "PUT",
        _O,
        _h("x-amz-copy-source"),
        Route("CopyObject", "s3:PutObject", _O, "objects:copy_object", source_action="s3:GetObject"),
    ),
    ("PUT", _O, _plain, Route("PutObject", "s3:PutObject", _O, "objects:put_object")),
    ("GET", _O, _q("uploadId"), Route("ListParts", "s3:ListMultipartUploadParts", _O, "multipart:list_parts")),
    (
        "GET",
        _O,
        _q("attributes"),
        Route("GetObjectAttributes", "s3:GetObjectAttributes", _O, "objects:get_attributes"),
    ),
    ("GET", _O, _q("acl"), Route("GetObjectAcl", "s3:GetObjectAcl", _O, "access:get_object_acl")),
    ("GET", _O, _read, Route("GetObject", "s3:GetObject", _O, "objects:get_object")),
    ("HEAD", _O, _read, Route("HeadObject", "s3:GetObject", _O, "objects:head_object")),
    (
        "DELETE",
        _O,
        _q("uploadId"),
        Route("AbortMultipartUpload", "s3:AbortMultipartUpload", _O, "multipart:abort"),
    ),
    ("DELETE", _O, _plain, Route("DeleteObject", "s3:DeleteObject", _O, "objects:delete_object")),
    ("POST", _O, _q("uploads"), Route("CreateMultipartUpload", "s3:PutObject", _O, "multipart:create")),
    ("POST", _O, _q("uploadId"), Route("CompleteMultipartUpload", "s3:PutObject", _O, "multipart:complete")),
    # --- CORS preflights ("OPTIONS object"): any query (the actual request's) is ignored; no IAM action
    ("OPTIONS", "service", _always, Route("PreflightRequest", "", "service", "cors:preflight", public=True)),
    ("OPTIONS", _B, _always, Route("PreflightRequest", "", _B, "cors:preflight", public=True)),
    ("OPTIONS", _O, _always, Route("PreflightRequest", "", _O, "cors:preflight", public=True)),
]

_METHODS = frozenset(m for m, _l, _p, _r in TABLE)
#: the route of a request without any query parameter, per (method, level): the hot path skips the scan
_PLAIN: dict[tuple[str, str], Route] = {}
for _m, _lvl, _pred, _route in TABLE:
    if (_m, _lvl) not in _PLAIN and _pred in (_plain, _read, _always):
        _PLAIN[(_m, _lvl)] = _route


def _not_implemented(names: list[str]) -> S3Error:
    return s3_error("NotImplemented", f"strongroom does not implement this subresource: {', '.join(sorted(names))}")


def resolve(
    method: str, bucket: str | None, key: str | None, query: Mapping[str, str], headers: Mapping[str, str]
) -> Route:
    """The operation a request asks for; NotImplemented for subresources strongroom lacks, MethodNotAllowed for
    methods that apply to nothing here."""
    level = "service" if bucket is None else "bucket" if key is None else "object"
    if method == "OPTIONS":
        return _PLAIN[(method, level)]
    if not query and "x-amz-copy-source" not in headers:
        plain = _PLAIN.get((method, level))
        if plain is not None and not (plain.name == "PostObject" or (method == "POST" and level == "bucket")):
            return plain
    unknown = [
        k
        for k in query
        if k not in PARAMETERS
        and k not in BUCKET_SUBRESOURCES
        and not k.startswith("response-")
        and not k.lower().startswith("x-amz-")
    ]
    if unknown:
        raise _not_implemented(unknown)
    if level == "object":
        extra = [k for k in query if k in BUCKET_SUBRESOURCES and k not in ("acl", "uploads")]
        if extra:
            raise _not_implemented(extra)
    if method not in _METHODS:
        raise s3_error("MethodNotAllowed")
    for m, lvl, pred, route in TABLE:
        if m == method and lvl == level and pred(method, query, headers):
            return route
    named = [k for k in query if k in SUBRESOURCES]
    if named:
        raise _not_implemented(named)
    raise s3_error("MethodNotAllowed")
