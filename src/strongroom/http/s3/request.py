"""One parsed S3 request, and the small helpers every handler shares (digests, version ids, XML responses)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from strongroom.core import errors
from strongroom.core.checksums import Checksum
from strongroom.core.types import ChecksumRequest, Operation, Principal
from strongroom.http.s3 import headers as hdr
from strongroom.http.s3.chunked import ChunkedDecoder
from strongroom.http.s3.errors import S3Error, from_domain, s3_error
from strongroom.http.s3.sigv4 import AuthContext, PayloadHasher, parse_query
from strongroom.service.objects import quote_etag

if TYPE_CHECKING:
    from strongroom.http.s3.routes import Route

MAX_XML_BODY = 4 * 1024 * 1024
XMLNS = "application/xml"


#: query parameters that are neither subresources nor S3 parameters: an SDK routing hint, Signature V2's auth
_NOT_SUBRESOURCES = frozenset({"x-id", "AWSAccessKeyId", "Expires", "Signature"})


class S3Request:
    """One parsed S3 request: who, which bucket/key, which subresource, and the body stream."""

    def __init__(self, request: Request, request_id: str) -> None:
        self.request = request
        self.request_id = request_id
        self.method = request.method
        self.headers: dict[str, str] = {}
        for raw_name, raw_value in request.scope["headers"]:
            k, v = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            self.headers[k] = f"{self.headers[k]},{v}" if k in self.headers else v
        self.query_string: str = request.scope.get("query_string", b"").decode("latin-1")
        self.query_pairs = parse_query(self.query_string)  # parsed once, for routing and for SigV4
        # presigned-URL auth parameters and SDK routing hints are not subresources
        self.query: dict[str, str] = {}
        for name, value in self.query_pairs:
            k = name.decode("utf-8", "replace")
            if not k.lower().startswith("x-amz-") and k not in _NOT_SUBRESOURCES:
                self.query[k] = value.decode("utf-8", "replace")
        self.bucket: str | None = None
        self.key: str | None = None
        self.virtual_host = False  # the bucket came from the Host header
        self.auth: AuthContext | None = None
        self.principal: Principal | None = None
        self.op: Operation | None = None  # the operation the route table named (set before any handler runs)
        self.source_op: Operation | None = None  # a copy's read of its source, authorized on its own
        self.trailer_names: list[str] = [
            t.strip().lower() for t in self.headers.get("x-amz-trailer", "").split(",") if t.strip()
        ]
        self.checksum: ChecksumRequest | None = None
        self.route: Route | None = None
        self.audit = False  # an S3 operation (not the health probe): its outcome is audited
        self.claimed_key: str | None = None  # the access key id a refused signature claimed
        self.claimed_tenant: str | None = None  # that key's tenant

    @property
    def resource(self) -> str:
        if self.bucket is None:
            return "/"
        return f"/{self.bucket}" + (f"/{self.key}" if self.key else "")

    def body(self) -> AsyncIterator[bytes]:
        """The decoded payload stream: aws-chunked decoded, signatures and payload hash verified."""
        auth = self.auth
        raw = self.request.stream()
        expected_len = self.headers.get("content-length")
        checksum = self.checksum

        async def counted(source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
            got = 0
            async for chunk in source:
                got += len(chunk)
                yield chunk
            if expected_len is not None and got < int(expected_len):
                raise s3_error("IncompleteBody")

        if auth is None:  # an anonymous request: nothing covers the body
            return counted(raw)
        if auth.payload_mode.startswith("streaming"):
            decoder = ChunkedDecoder(auth, self.trailer_names)

            async def decoded() -> AsyncIterator[bytes]:
                async for chunk in decoder.decode(counted(raw)):
                    yield chunk
                if checksum is not None and checksum.algorithm:
                    value = decoder.trailers.get("x-amz-checksum-" + checksum.algorithm.lower())
                    if value is not None:
                        checksum.value = value

            return decoded()
        if auth.payload_sha256 and not auth.payload_mode.startswith("streaming"):
            hasher = PayloadHasher(auth.payload_sha256)

            async def hashed() -> AsyncIterator[bytes]:
                async for chunk in counted(raw):
                    hasher.feed(chunk)
                    yield chunk
                hasher.verify()

            return hashed()
        return counted(raw)

    async def read_small(self, limit: int = MAX_XML_BODY, body_checksum: bool = True) -> bytes:
        """A whole (XML) request body, checked against its Content-MD5 and, with ``body_checksum``, its
        x-amz-checksum-* value (CompleteMultipartUpload's checksum headers describe the object instead)."""
        buf = bytearray()
        async for chunk in self.body():
            buf += chunk
            if len(buf) > limit:
                raise s3_error("MaxMessageLengthExceeded")
        md5 = content_md5(self.headers)
        if md5 is not None and base64.b64decode(md5) != hashlib.md5(buf, usedforsecurity=False).digest():
            raise s3_error("BadDigest", "The Content-MD5 you specified did not match what we received.")
        checksum = self.checksum
        if body_checksum and checksum is not None and checksum.algorithm and checksum.value is not None:
            computed = Checksum(checksum.algorithm)
            computed.update(buf)
            computed.verify(checksum.value)
        return bytes(buf)


#: Context of domain errors that S3 puts in its error document (beyond BucketName, Key and UploadId).
ERROR_CONTEXT_FIELDS = (
    "ActualObjectSize",
    "RangeRequested",
    "PartNumberRequested",
    "Condition",
    "ProposedSize",
    "MinSizeAllowed",
    "MaxSizeAllowed",
    "PartNumber",
    "ETag",
)


def domain_error(exc: errors.StrongroomError) -> S3Error:
    """The S3 error for a domain error, with the context fields S3 documents for that error."""
    out = from_domain(exc)
    for name in ERROR_CONTEXT_FIELDS:
        value = exc.context.get(name)
        if value is not None and name not in out.extra:
            out.extra[name] = str(value)
    return out


def not_modified_headers(exc: errors.NotModified) -> dict[str, str]:
    """A 304 carries the validators a 200 would have (RFC 9110 15.4.5)."""
    headers: dict[str, str] = {}
    etag = exc.context.get("ETag")
    if isinstance(etag, str):
        headers["etag"] = quote_etag(etag)
    last_modified = exc.context.get("LastModified")
    if isinstance(last_modified, dt.datetime):
        headers["last-modified"] = hdr.http_date(last_modified)
    return headers


def _withheld_body(request: Request) -> bool:
    """Whether the client is holding back a request body until it sees "100 Continue"."""
    h = request.headers
    if "100-continue" not in h.get("expect", "").lower():
        return False
    return "transfer-encoding" in h or h.get("content-length", "0") not in ("", "0")


def content_md5(headers: dict[str, str]) -> str | None:
    """The Content-MD5 header, refused up front (InvalidDigest) unless it is base64 of 16 bytes."""
    value = headers.get("content-md5")
    if value is None:
        return None
    try:
        digest = base64.b64decode(value, validate=True)
    except ValueError:
        digest = b""
    if len(digest) != 16:
        raise s3_error("InvalidDigest")
    return value


def xml_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=XMLNS, headers=headers)


def encode_token(after: str) -> str:
    """The one continuation-token codec (ListBuckets, ListObjectsV2): the last name returned, base64url."""
    return base64.urlsafe_b64encode(after.encode()).decode().rstrip("=")


def decode_token(token: str) -> str:
    try:
        if not token:
            raise ValueError
        return base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode()
    except ValueError:
        raise s3_error(
            "InvalidArgument", "The continuation token provided is incorrect", ArgumentName="continuation-token"
        ) from None
