"""The S3 ASGI app: parse, authenticate, dispatch to a service, render. No business rules here."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import secrets
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from strongroom.core import errors
from strongroom.core.checksums import Checksum
from strongroom.core.types import ChecksumRequest, Principal
from strongroom.http.s3 import headers as hdr
from strongroom.http.s3 import xml
from strongroom.http.s3.chunked import ChunkedDecoder
from strongroom.http.s3.errors import S3Error, from_domain, s3_error
from strongroom.http.s3.sigv4 import AuthContext, PayloadHasher, authenticate, parse_query
from strongroom.policy.names import MAX_KEY_BYTES
from strongroom.service.buckets import BucketService
from strongroom.service.listing import ListingService
from strongroom.service.multipart import CompletedPartSpec, MultipartService
from strongroom.service.objects import ObjectService, ObjectView, PutResult, quote_etag
from strongroom.service.runtime import Runtime

log = logging.getLogger("strongroom.s3")

MAX_XML_BODY = 4 * 1024 * 1024
VAULT_STATE_SECONDS = 1.0
SECRET_CACHE_SECONDS = 30.0


class _NotCached(Exception):
    """The access key's secret is not cached in this process (look it up in the vault, off the loop)."""


MAX_HEADER_BYTES = 16 * 1024
_HSTS = ((b"strict-transport-security", b"max-age=31536000"),)
XMLNS = "application/xml"
Handler = Callable[["S3Request"], Awaitable[Response]]


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
            if not k.lower().startswith("x-amz-") and k != "x-id":
                self.query[k] = value.decode("utf-8", "replace")
        self.bucket: str | None = None
        self.key: str | None = None
        self.auth: AuthContext | None = None
        self.principal: Principal | None = None
        self.trailer_names: list[str] = [
            t.strip().lower() for t in self.headers.get("x-amz-trailer", "").split(",") if t.strip()
        ]
        self.checksum: ChecksumRequest | None = None

    @property
    def resource(self) -> str:
        if self.bucket is None:
            return "/"
        return f"/{self.bucket}" + (f"/{self.key}" if self.key else "")

    def body(self) -> AsyncIterator[bytes]:
        """The decoded payload stream: aws-chunked decoded, signatures and payload hash verified."""
        assert self.auth is not None
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


def check_version_id(version_id: str | None) -> None:
    """strongroom keeps one version per key, whose id is "null" (as in an unversioned S3 bucket).

    Any other id was never issued: refuse it rather than act on the current object.
    """
    if version_id is not None and version_id != "null":
        raise s3_error(
            "InvalidArgument", "Invalid version id specified", ArgumentName="versionId", ArgumentValue=version_id
        )


def xml_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=XMLNS, headers=headers)


class S3App:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.buckets = BucketService(rt)
        self.objects = ObjectService(rt, self.buckets)
        self.multipart = MultipartService(self.objects)
        self.listing = ListingService(rt, self.buckets)
        self._secret_cache: dict[str, tuple[float, str, Principal]] = {}
        self._vault_checked_at = -1e9
        self._vault_sealed = True
        self.ready = True

    # --- ASGI entry -------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        request_id = secrets.token_hex(8).upper()
        receives = 0

        async def counted_receive() -> Message:
            nonlocal receives
            receives += 1
            return await receive()

        request = Request(scope, counted_receive)
        req: S3Request | None = None
        try:
            req = S3Request(request, request_id)
            response = await self.handle(req)
        except S3Error as exc:
            response = self.error_response(exc, req, request_id, request.method)
        except errors.NotModified as exc:
            response = Response(status_code=304, headers=not_modified_headers(exc))
        except errors.StrongroomError as exc:
            if isinstance(exc, errors.DecryptionFailed):
                log.error("integrity failure on %s: %s", scope.get("path"), exc.context or "")
            response = self.error_response(domain_error(exc), req, request_id, request.method)
        except Exception:
            log.exception("internal error (request %s)", request_id)
            response = self.error_response(s3_error("InternalError"), req, request_id, request.method)
        if receives == 0 and _withheld_body(request):
            # The client sent "Expect: 100-continue" and waits for a 100 that never came: it will not send
            # the body, and the server would read its next request as this one's body. Close instead.
            response.headers["connection"] = "close"
        rid = request_id.encode("ascii")
        # appended as they are (no handler sets these): MutableHeaders would scan the list for each one
        response.raw_headers.extend(
            ((b"x-amz-request-id", rid), (b"x-amz-id-2", rid), (b"server", b"strongroom"))
            + (_HSTS if scope.get("scheme") == "https" else ())
        )
        await response(scope, receive, send)

    def error_response(self, exc: S3Error, req: S3Request | None, request_id: str, method: str) -> Response:
        resource = req.resource if req is not None else "/"
        extra = dict(exc.extra)
        if exc.code == "NoSuchBucket" and req is not None and req.bucket and "BucketName" not in extra:
            extra["BucketName"] = req.bucket
        if exc.code == "NoSuchKey" and req is not None and req.key and "Key" not in extra:
            extra["Key"] = req.key
        headers = dict(exc.headers)
        if exc.code == "InvalidRange" and "ActualObjectSize" in extra:
            headers["content-range"] = f"bytes */{extra['ActualObjectSize']}"
        if method == "HEAD":
            return Response(status_code=exc.status, headers=headers)
        body = xml.render_error(exc.code, exc.message, resource, request_id, extra, host_id=request_id)
        return xml_response(body, exc.status, headers)

    # --- routing ----------------------------------------------------------
    def split_target(self, req: S3Request) -> None:
        host = req.headers.get("host", "").split(":")[0].lower()
        path = req.request.scope["path"]
        bucket: str | None = None
        for suffix in [*self.rt.settings.hostname_suffixes, "s3.localhost", "localhost"]:
            if host == suffix:
                break  # the endpoint itself: path-style
            if host.endswith("." + suffix):
                bucket = host[: -len(suffix) - 1]
                break
        if bucket is not None:
            req.bucket = bucket
            req.key = path[1:] or None
            return
        stripped = path[1:] if path.startswith("/") else path
        if not stripped:
            return
        b, sep, k = stripped.partition("/")
        req.bucket = b
        req.key = k if sep and k else None

    def _cached_secret(self, access_key: str) -> str | None:
        hit = self._secret_cache.get(access_key)
        if hit is None or time.monotonic() - hit[0] >= SECRET_CACHE_SECONDS:
            raise _NotCached
        return hit[1]

    def lookup_secret(self, access_key: str) -> str | None:
        now = time.monotonic()
        hit = self._secret_cache.get(access_key)
        if hit and now - hit[0] < SECRET_CACHE_SECONDS:
            return hit[1]
        got = self.rt.vault.credential(access_key)
        if got is None:
            return None
        self._secret_cache[access_key] = (now, got.secret, Principal(access_key, got.tenant, False))
        return got.secret

    async def require_unsealed(self) -> None:
        """Fail closed while the vault is sealed or unreachable (state re-checked at most every second).

        On a seal every cached credential and key is dropped, so nothing keyed survives in this process.
        """
        now = time.monotonic()
        if now - self._vault_checked_at >= VAULT_STATE_SECONDS:
            try:
                state = await anyio.to_thread.run_sync(self.rt.vault.status)
                sealed = bool(state.get("sealed", True))
            except errors.StrongroomError:
                sealed = True
            self._vault_checked_at, self._vault_sealed = now, sealed
            if sealed:
                self._secret_cache.clear()
                self.rt.keys.forget()
        if self._vault_sealed:
            raise s3_error("ServiceUnavailable", "The key vault is sealed; no data can be read or written.")

    async def authenticate(self, req: S3Request) -> None:
        scope = req.request.scope
        raw_path = scope.get("raw_path") or scope["path"].encode()

        def verify(lookup: Callable[[str], str | None]) -> AuthContext:
            return authenticate(
                req.method,
                raw_path.decode("latin-1"),
                req.query_string,
                req.headers,
                lookup,
                dt.datetime.now(dt.UTC),
                self.rt.settings.max_clock_skew_seconds,
                query_pairs=req.query_pairs,
            )

        try:
            # the common case: the secret is cached, and verifying costs less than a hop to a worker thread
            auth = verify(self._cached_secret)
        except _NotCached:
            auth = await anyio.to_thread.run_sync(verify, self.lookup_secret)
        req.auth = auth
        req.principal = self._secret_cache[auth.access_key][2]

    async def handle(self, req: S3Request) -> Response:
        scope = req.request.scope
        if scope["path"] == "/_strongroom/health":
            return await self.health()
        if scope["path"].startswith("/_strongroom/"):
            raise s3_error("AccessDenied")
        header_bytes = sum(len(k) + len(v) for k, v in req.headers.items())
        if header_bytes > MAX_HEADER_BYTES:
            raise s3_error("MaxMessageLengthExceeded", "Your request headers are too large.")
        self.split_target(req)
        if scope.get("scheme") != "https" and any(
            h.startswith(
                ("x-amz-server-side-encryption-customer-", "x-amz-copy-source-server-side-encryption-customer-")
            )
            for h in req.headers
        ):
            raise s3_error(
                "InvalidRequest",
                "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure "
                "connection.",
            )
        await self.require_unsealed()
        if (
            req.method == "POST"
            and req.bucket
            and not req.key
            and "delete" not in req.query
            and req.headers.get("content-type", "").startswith("multipart/form-data")
        ):
            return await self.post_object(req)
        await self.authenticate(req)
        if not self.ready:
            raise s3_error("ServiceUnavailable")
        if req.method in ("PUT", "POST"):
            req.checksum = hdr.checksum_request(req.headers, req.trailer_names)
        if req.bucket is None:
            if req.method == "GET":
                return await self.list_buckets(req)
            raise s3_error("MethodNotAllowed")
        if req.key is None:
            return await self.bucket_op(req)
        return await self.object_op(req)

    async def health(self) -> Response:
        try:
            await anyio.to_thread.run_sync(self.rt.repo.ping)
        except Exception:  # noqa: BLE001 - any failure means not ready
            return Response(b'{"status":"unavailable"}', status_code=503, media_type="application/json")
        try:
            vault = await anyio.to_thread.run_sync(self.rt.vault.status)
        except errors.StrongroomError:
            vault = {}
        if not self.ready or vault.get("sealed", True):
            return Response(b'{"status":"unavailable"}', status_code=503, media_type="application/json")
        return Response(b'{"status":"ok"}', media_type="application/json")

    # --- service level ------------------------------------------------------
    async def list_buckets(self, req: S3Request) -> Response:
        assert req.principal is not None
        buckets = await self.buckets.list(req.principal)
        prefix = req.query.get("prefix")
        region = req.query.get("bucket-region")
        max_buckets = hdr.int_param(req.query.get("max-buckets"), "max-buckets", 10000, 1, 10000)
        token = req.query.get("continuation-token")
        after = None
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode()
                if not token:
                    raise ValueError
            except ValueError:
                raise s3_error(
                    "InvalidArgument", "The continuation token provided is incorrect", ArgumentName="continuation-token"
                ) from None
        chosen = [
            b
            for b in buckets
            if (not prefix or b.name.startswith(prefix))
            and (not region or b.region == region)
            and (after is None or b.name > after)
        ]
        page = chosen[:max_buckets]
        next_token = None
        if len(chosen) > max_buckets:
            next_token = base64.urlsafe_b64encode(page[-1].name.encode()).decode().rstrip("=")
        entries = [xml.BucketEntry(name=b.name, creation_date=b.created_at, region=b.region) for b in page]
        return xml_response(
            xml.render_list_buckets(
                req.principal.tenant_id, req.principal.tenant_id, entries, continuation_token=next_token, prefix=prefix
            )
        )

    # --- bucket level -------------------------------------------------------
    async def bucket_op(self, req: S3Request) -> Response:
        m, q = req.method, req.query
        p = req.principal
        assert p is not None and req.bucket is not None
        name = req.bucket
        if m == "PUT":
            if "encryption" in q:
                rule = xml.parse_encryption_configuration(await req.read_small())
                await self.buckets.put_encryption(
                    p, name, rule.sse_algorithm, rule.kms_master_key_id, rule.bucket_key_enabled
                )
                return Response(status_code=200)
            if q:
                raise self.not_implemented(q)
            body = await req.read_small()
            location = xml.parse_create_bucket(body) if body.strip() else None
            await self.buckets.create(p, name, location)
            return Response(status_code=200, headers={"location": f"/{name}"})
        if m == "HEAD":
            b = await self.buckets.get(p, name)
            return Response(status_code=200, headers={"x-amz-bucket-region": b.region})
        if m == "GET":
            if "location" in q:
                b = await self.buckets.get(p, name)
                return xml_response(xml.render_location(b.region))
            if "encryption" in q:
                b = await self.buckets.get(p, name)
                return xml_response(
                    xml.render_encryption_configuration(
                        xml.EncryptionRule(
                            sse_algorithm=b.sse_algorithm,
                            kms_master_key_id=b.kms_key_id,
                            bucket_key_enabled=b.bucket_key_enabled,
                        )
                    )
                )
            if "uploads" in q:
                return await self.list_uploads(req)
            if "versions" in q:
                return await self.list_versions(req)
            if "versioning" in q:
                await self.buckets.get(p, name)
                return xml_response(
                    b'<?xml version="1.0" encoding="UTF-8"?>\n'
                    b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
                )
            if q.get("list-type") == "2":
                return await self.list_v2(req)
            known = {"prefix", "delimiter", "marker", "max-keys", "encoding-type"}
            if set(q) - known - {"x-id"}:
                raise self.not_implemented(q)
            return await self.list_v1(req)
        if m == "DELETE":
            if "encryption" in q:
                await self.buckets.delete_encryption(p, name)
                return Response(status_code=204)
            if q:
                raise self.not_implemented(q)
            await self.buckets.delete(p, name)
            return Response(status_code=204)
        if m == "POST" and "delete" in q:
            return await self.delete_objects(req)
        raise s3_error("MethodNotAllowed")

    def not_implemented(self, q: dict[str, str]) -> S3Error:
        names = ", ".join(sorted(q))
        return s3_error("NotImplemented", f"strongroom does not implement this subresource: {names}")

    def _encoding(self, req: S3Request) -> str | None:
        enc = req.query.get("encoding-type")
        if enc is not None and enc != "url":
            raise s3_error(
                "InvalidArgument",
                "Invalid Encoding Method specified in Request",
                ArgumentName="encoding-type",
                ArgumentValue=enc,
            )
        return enc

    def _entries(self, rows: list[Any], owner: bool, req: S3Request) -> list[xml.ObjectEntry]:
        assert req.principal is not None
        return [
            xml.ObjectEntry(
                key=r.key,
                last_modified=r.last_modified,
                etag=quote_etag(r.etag),
                size=r.size,
                storage_class=r.storage_class or "STANDARD",
                owner_id=req.principal.tenant_id if owner else None,
                owner_name=req.principal.tenant_id if owner else None,
                checksum_algorithm=r.checksum_algorithm,
                checksum_type=r.checksum_type if r.checksum_algorithm else None,
            )
            for r in rows
        ]

    async def list_v1(self, req: S3Request) -> Response:
        q = req.query
        assert req.principal is not None and req.bucket is not None
        enc = self._encoding(req)
        max_keys = hdr.int_param(q.get("max-keys"), "max-keys", 1000, 0, 2**31 - 1)
        prefix, delimiter, marker = q.get("prefix", ""), q.get("delimiter", ""), q.get("marker", "")
        listing = await self.listing.list(
            req.principal,
            req.bucket,
            prefix=prefix,
            delimiter=delimiter,
            after=marker or None,
            max_keys=min(max_keys, 1000),
        )
        next_marker = listing.last_key if listing.is_truncated and delimiter else None
        return xml_response(
            xml.render_list_objects_v1(
                bucket=req.bucket,
                prefix=prefix,
                marker=marker,
                delimiter=delimiter or None,
                max_keys=max_keys,
                is_truncated=listing.is_truncated,
                next_marker=next_marker,
                contents=self._entries(listing.contents, True, req),
                common_prefixes=listing.common_prefixes,
                encoding_type=enc,
            )
        )

    async def list_v2(self, req: S3Request) -> Response:
        q = req.query
        assert req.principal is not None and req.bucket is not None
        enc = self._encoding(req)
        max_keys = hdr.int_param(q.get("max-keys"), "max-keys", 1000, 0, 2**31 - 1)
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        token = q.get("continuation-token")
        start_after = q.get("start-after")
        after = start_after or None
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode()
                if not token:
                    raise ValueError
            except ValueError:
                raise s3_error(
                    "InvalidArgument", "The continuation token provided is incorrect", ArgumentName="continuation-token"
                ) from None
        listing = await self.listing.list(
            req.principal, req.bucket, prefix=prefix, delimiter=delimiter, after=after, max_keys=min(max_keys, 1000)
        )
        next_token = None
        if listing.is_truncated and listing.last_key is not None:
            next_token = base64.urlsafe_b64encode(listing.last_key.encode()).decode().rstrip("=")
        return xml_response(
            xml.render_list_objects_v2(
                bucket=req.bucket,
                prefix=prefix,
                delimiter=delimiter or None,
                max_keys=max_keys,
                key_count=len(listing.contents) + len(listing.common_prefixes),
                is_truncated=listing.is_truncated,
                continuation_token=token,
                next_continuation_token=next_token,
                start_after=start_after,
                contents=self._entries(listing.contents, q.get("fetch-owner") == "true", req),
                common_prefixes=listing.common_prefixes,
                encoding_type=enc,
                fetch_owner=q.get("fetch-owner") == "true",
            )
        )

    async def list_versions(self, req: S3Request) -> Response:
        q = req.query
        assert req.principal is not None and req.bucket is not None
        enc = self._encoding(req)
        max_keys = hdr.int_param(q.get("max-keys"), "max-keys", 1000, 0, 2**31 - 1)
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        key_marker = q.get("key-marker") or None
        listing = await self.listing.list(
            req.principal,
            req.bucket,
            prefix=prefix,
            delimiter=delimiter,
            after=key_marker,
            max_keys=min(max_keys, 1000),
        )
        return xml_response(
            xml.render_list_object_versions(
                bucket=req.bucket,
                prefix=prefix,
                key_marker=key_marker or "",
                version_id_marker=q.get("version-id-marker", ""),
                delimiter=delimiter or None,
                max_keys=max_keys,
                is_truncated=listing.is_truncated,
                next_key_marker=listing.last_key if listing.is_truncated else None,
                next_version_id_marker="null" if listing.is_truncated else None,
                versions=self._entries(listing.contents, True, req),
                delete_markers=[],
                common_prefixes=listing.common_prefixes,
                encoding_type=enc,
            )
        )

    async def list_uploads(self, req: S3Request) -> Response:
        q = req.query
        assert req.principal is not None and req.bucket is not None
        enc = self._encoding(req)
        max_uploads = hdr.int_param(q.get("max-uploads"), "max-uploads", 1000, 0, 2**31 - 1)
        prefix = q.get("prefix", "")
        delimiter = q.get("delimiter", "")
        key_marker = q.get("key-marker") or None
        upload_marker = q.get("upload-id-marker") or None
        _b, ups, truncated = await self.multipart.list_uploads(
            req.principal, req.bucket, prefix, key_marker, upload_marker, min(max_uploads, 1000)
        )
        common: list[str] = []
        entries = []
        for u in ups:
            if delimiter:
                idx = u.key.find(delimiter, len(prefix))
                if idx >= 0:
                    cp = u.key[: idx + len(delimiter)]
                    if cp not in common:
                        common.append(cp)
                    continue
            entries.append(xml.UploadEntry(key=u.key, upload_id=u.upload_id, initiated=u.initiated))
        return xml_response(
            xml.render_list_multipart_uploads(
                bucket=req.bucket,
                key_marker=key_marker or "",
                upload_id_marker=upload_marker or "",
                next_key_marker=ups[-1].key if truncated and ups else None,
                next_upload_id_marker=ups[-1].upload_id if truncated and ups else None,
                prefix=prefix,
                delimiter=delimiter or None,
                max_uploads=max_uploads,
                is_truncated=truncated,
                uploads=entries,
                common_prefixes=common,
                encoding_type=enc,
            )
        )

    async def delete_objects(self, req: S3Request) -> Response:
        assert req.principal is not None and req.bucket is not None
        body = await req.read_small()
        objects, quiet = xml.parse_delete_objects(body)
        # only the "null" version exists; another version id names nothing, so nothing is deleted for it
        wanted = [k for k, v in objects if v in (None, "null")]
        versions = {k: v for k, v in objects if v is not None}
        refused = [
            (k, "InvalidArgument", "Invalid version id specified") for k, v in objects if v not in (None, "null")
        ]
        deleted, failed = await self.objects.delete_many(req.principal, req.bucket, wanted)
        return xml_response(
            xml.render_delete_result(
                deleted=[(k, versions.get(k)) for k in deleted],
                errors=[*refused, *((k, c, m) for k, c, m in failed)],
                quiet=quiet,
            )
        )

    # --- object level -------------------------------------------------------
    async def object_op(self, req: S3Request) -> Response:
        m, q = req.method, req.query
        assert req.key is not None
        if len(req.key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise s3_error("KeyTooLongError", Size=str(len(req.key.encode("utf-8", "surrogatepass"))))
        if "versionId" in q:
            check_version_id(q["versionId"])
        if m == "PUT":
            if "partNumber" in q and "uploadId" in q:
                if "x-amz-copy-source" in req.headers:
                    return await self.upload_part_copy(req)
                return await self.upload_part(req)
            if set(q) - {"x-id"}:
                raise self.not_implemented(q)
            if "x-amz-copy-source" in req.headers:
                return await self.copy_object(req)
            return await self.put_object(req)
        if m in ("GET", "HEAD"):
            if m == "GET" and "uploadId" in q:
                return await self.list_parts(req)
            if m == "GET" and "attributes" in q:
                return await self.get_attributes(req)
            extra = (
                set(q)
                - {"x-id", "partNumber", "versionId"}
                - {k for k in q if k.startswith("response-")}
                - {k for k in q if k.startswith("X-Amz-") or k.startswith("x-amz-")}
            )
            if extra:
                raise self.not_implemented(q)
            return await self.get_object(req, head=m == "HEAD")
        if m == "DELETE":
            if "uploadId" in q:
                assert req.principal is not None and req.bucket and req.key
                await self.multipart.abort(req.principal, req.bucket, req.key, q["uploadId"])
                return Response(status_code=204)
            if set(q) - {"x-id", "versionId"}:
                raise self.not_implemented(q)
            assert req.principal is not None and req.bucket and req.key
            await self.objects.delete(req.principal, req.bucket, req.key)
            return Response(status_code=204)
        if m == "POST":
            if "uploads" in q:
                return await self.create_upload(req)
            if "uploadId" in q:
                return await self.complete_upload(req)
        raise s3_error("MethodNotAllowed")

    def _put_headers(self, res: PutResult, req: S3Request) -> dict[str, str]:
        out = {"etag": quote_etag(res.etag)}
        sse = hdr.sse_request(req.headers)
        out.update(hdr.encryption_response_headers(res.mode, res.kms_key_id, res.bucket_key_enabled, sse.customer_key))
        if res.checksum_algorithm and res.checksum:
            out["x-amz-checksum-" + res.checksum_algorithm.lower()] = res.checksum
            out["x-amz-checksum-type"] = "FULL_OBJECT"
        return out

    def _content_length(self, req: S3Request) -> None:
        if "content-length" not in req.headers and req.headers.get("transfer-encoding") is None:
            raise s3_error("MissingContentLength")
        decoded = req.headers.get("x-amz-decoded-content-length") or req.headers.get("content-length")
        if decoded is not None:
            try:
                n = int(decoded)
            except ValueError:
                raise s3_error("InvalidArgument", "Content-Length is not a number") from None
            if n < 0:
                raise s3_error("InvalidArgument", "Content-Length is negative")

    async def put_object(self, req: S3Request) -> Response:
        assert req.principal is not None and req.bucket and req.key and req.checksum is not None
        self._content_length(req)
        declared = req.headers.get("x-amz-decoded-content-length") or req.headers.get("content-length")
        if declared is not None and int(declared) > 5 * 1024**3:
            raise s3_error("EntityTooLarge", ProposedSize=declared, MaxSizeAllowed=str(5 * 1024**3))
        res = await self.objects.put(
            req.principal,
            req.bucket,
            req.key,
            req.body(),
            hdr.object_headers(req.headers),
            hdr.sse_request(req.headers),
            req.checksum,
            content_md5(req.headers),
            hdr.conditions(req.headers),
            size_hint=int(declared) if declared is not None else None,
        )
        return Response(status_code=200, headers=self._put_headers(res, req))

    def _copy_source(self, req: S3Request) -> tuple[str, str]:
        src, _sep, version_id = req.headers["x-amz-copy-source"].partition("?versionId=")
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

    async def copy_object(self, req: S3Request) -> Response:
        assert req.principal is not None and req.bucket and req.key
        src_bucket, src_key = self._copy_source(req)
        directive = req.headers.get("x-amz-metadata-directive", "COPY")
        res = await self.objects.copy(
            req.principal,
            src_bucket,
            src_key,
            req.bucket,
            req.key,
            metadata_directive=directive,
            headers=hdr.object_headers(req.headers),
            sse=hdr.sse_request(req.headers),
            source_customer_key=hdr.customer_key(req.headers, "x-amz-copy-source-server-side-encryption-customer-"),
            source_conditions=hdr.conditions(req.headers, "x-amz-copy-source-if-"),
            checksum=req.checksum or ChecksumRequest(),
        )
        headers = self._put_headers(res, req)
        headers.pop("etag")
        checksums = {res.checksum_algorithm: res.checksum} if res.checksum_algorithm and res.checksum else {}
        return xml_response(
            xml.render_copy_object_result(quote_etag(res.etag), res.last_modified, checksums), headers=headers
        )

    async def get_object(self, req: S3Request, head: bool) -> Response:
        assert req.principal is not None and req.bucket and req.key
        part_number = None
        if "partNumber" in req.query:
            part_number = hdr.int_param(req.query["partNumber"], "partNumber", 1, 1, 10000)
            if "range" in req.headers:
                raise s3_error("InvalidRequest", "Cannot specify both Range header and partNumber query parameter")
        ck = hdr.customer_key(req.headers)
        try:
            view = await self.objects.get(
                req.principal,
                req.bucket,
                req.key,
                range_header=req.headers.get("range"),
                part_number=part_number,
                conditions=hdr.conditions(req.headers),
                customer_key=ck,
                head=head,
            )
        except errors.InvalidRange as exc:
            if "PartNumberRequested" not in exc.context:
                raise
            raise S3Error(
                "InvalidPartNumber",
                "The requested partnumber is not satisfiable",
                416,
                **{k: str(v) for k, v in exc.context.items() if k in ("PartNumberRequested", "ActualPartCount")},
            ) from None
        return self.object_response(req, view, head, ck)

    def object_response(self, req: S3Request, view: ObjectView, head: bool, ck: Any) -> Response:
        rec = view.record
        headers = hdr.stored_headers(rec)
        headers.update(
            {
                "etag": quote_etag(rec.etag),
                "last-modified": hdr.http_date(rec.last_modified),
                "accept-ranges": "bytes",
            }
        )
        headers.update(hdr.encryption_response_headers(rec.sse_mode, rec.kms_key_id, rec.bucket_key_enabled, ck))
        if rec.parts_count is not None and "partNumber" in req.query:
            headers["x-amz-mp-parts-count"] = str(rec.parts_count)
        if req.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            if not view.partial or rec.parts_count is None and "partNumber" in req.query:
                headers.update(hdr.checksum_headers(rec.checksum_algorithm, rec.checksum_value, rec.checksum_type))
            elif rec.parts_count is not None and "partNumber" in req.query and rec.checksum_type == "COMPOSITE":
                # one part of a multipart object: that part's own checksum, which the body can be checked against
                part = next((p for p in view.parts if p.offset == view.start), None)
                if part is not None:
                    headers.update(hdr.checksum_headers(rec.checksum_algorithm, part.checksum_value, None))
        for name in (
            "content-type",
            "content-language",
            "expires",
            "cache-control",
            "content-disposition",
            "content-encoding",
        ):
            override = req.query.get("response-" + name)
            if override is not None:
                headers[name] = override
        length = view.end - view.start + 1 if view.end >= view.start else 0
        status = 200
        if view.partial:
            status = 206
            headers["content-range"] = f"bytes {view.start}-{view.end}/{rec.size}"
        headers["content-length"] = str(length)
        if head or view.body is None:
            return Response(status_code=status, headers=headers)
        if view.data is not None:
            return Response(view.data, status_code=status, headers=headers)
        return StreamingResponse(view.body, status_code=status, headers=headers)

    async def get_attributes(self, req: S3Request) -> Response:
        assert req.principal is not None and req.bucket and req.key
        wanted = {a.strip() for a in req.headers.get("x-amz-object-attributes", "").split(",") if a.strip()}
        valid = {"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"}
        if not wanted or wanted - valid:
            raise s3_error("InvalidArgument", "Invalid attribute name specified.")
        ck = hdr.customer_key(req.headers)
        view = await self.objects.get(
            req.principal,
            req.bucket,
            req.key,
            range_header=None,
            part_number=None,
            conditions=hdr.conditions(req.headers),
            customer_key=ck,
            head=True,
        )
        rec = view.record
        checksum = None
        if "Checksum" in wanted and rec.checksum_algorithm and rec.checksum_value:
            checksum = {
                "Checksum" + rec.checksum_algorithm: rec.checksum_value,
                "ChecksumType": rec.checksum_type or "FULL_OBJECT",
            }
        parts = None
        if "ObjectParts" in wanted and rec.parts_count is not None:
            max_parts = hdr.int_param(req.headers.get("x-amz-max-parts"), "max-parts", 1000, 0, 1000)
            marker = hdr.int_param(req.headers.get("x-amz-part-number-marker"), "part-number-marker", 0, 0)
            chosen = [p for p in view.parts if p.part_number > marker]
            page = chosen[:max_parts]
            parts = {
                "TotalPartsCount": rec.parts_count,
                "PartNumberMarker": marker,
                "NextPartNumberMarker": page[-1].part_number if page else marker,
                "MaxParts": max_parts,
                "IsTruncated": len(chosen) > max_parts,
                "Parts": [
                    {
                        "PartNumber": p.part_number,
                        "Size": p.size,
                        **(
                            {"Checksum" + rec.checksum_algorithm: p.checksum_value}
                            if rec.checksum_algorithm and p.checksum_value
                            else {}
                        ),
                    }
                    for p in page
                ],
            }
        body = xml.render_get_object_attributes(
            etag=rec.etag if "ETag" in wanted else None,
            checksum=checksum,
            object_parts=parts,
            storage_class=(rec.storage_class or "STANDARD") if "StorageClass" in wanted else None,
            object_size=rec.size if "ObjectSize" in wanted else None,
        )
        return xml_response(body, headers={"last-modified": hdr.http_date(rec.last_modified)})

    # --- multipart --------------------------------------------------------
    async def create_upload(self, req: S3Request) -> Response:
        assert req.principal is not None and req.bucket and req.key
        algorithm = req.headers.get("x-amz-checksum-algorithm")
        upload, wk = await self.multipart.create(
            req.principal,
            req.bucket,
            req.key,
            hdr.object_headers(req.headers),
            hdr.sse_request(req.headers),
            algorithm.upper() if algorithm else None,
            req.headers.get("x-amz-checksum-type"),
        )
        sse = hdr.sse_request(req.headers)
        headers = hdr.encryption_response_headers(wk.mode, wk.kms_key_id, wk.bucket_key_enabled, sse.customer_key)
        if algorithm:
            headers["x-amz-checksum-algorithm"] = algorithm.upper()
            headers["x-amz-checksum-type"] = upload.checksum_type or "COMPOSITE"
        return xml_response(xml.render_initiate_multipart(req.bucket, req.key, upload.upload_id), headers=headers)

    def _part_number(self, req: S3Request) -> int:
        return hdr.int_param(req.query.get("partNumber"), "partNumber", 0, 1, 10000)

    async def upload_part(self, req: S3Request) -> Response:
        assert req.principal is not None and req.bucket and req.key and req.checksum is not None
        self._content_length(req)
        decoded = req.headers.get("x-amz-decoded-content-length") or req.headers.get("content-length") or "0"
        if int(decoded) > 5 * 1024**3:
            raise s3_error("EntityTooLarge", ProposedSize=decoded, MaxSizeAllowed=str(5 * 1024**3))
        ck = hdr.customer_key(req.headers)
        upload, res = await self.multipart.upload_part(
            req.principal,
            req.bucket,
            req.key,
            req.query["uploadId"],
            self._part_number(req),
            req.body(),
            content_md5(req.headers),
            req.checksum,
            ck,
        )
        headers = {"etag": quote_etag(res.etag)}
        headers.update(
            hdr.encryption_response_headers(upload.sse_mode, upload.kms_key_id, upload.bucket_key_enabled, ck)
        )
        if res.checksum and (req.checksum.algorithm or upload.checksum_algorithm):
            alg = (req.checksum.algorithm or upload.checksum_algorithm or "").lower()
            headers["x-amz-checksum-" + alg] = res.checksum
        return Response(status_code=200, headers=headers)

    async def upload_part_copy(self, req: S3Request) -> Response:
        assert req.principal is not None and req.bucket and req.key
        src_bucket, src_key = self._copy_source(req)
        ck = hdr.customer_key(req.headers)
        upload, res = await self.multipart.upload_part_copy(
            req.principal,
            req.bucket,
            req.key,
            req.query["uploadId"],
            self._part_number(req),
            src_bucket,
            src_key,
            req.headers.get("x-amz-copy-source-range"),
            hdr.conditions(req.headers, "x-amz-copy-source-if-"),
            hdr.customer_key(req.headers, "x-amz-copy-source-server-side-encryption-customer-"),
            ck,
        )
        headers = hdr.encryption_response_headers(upload.sse_mode, upload.kms_key_id, upload.bucket_key_enabled, ck)
        assert isinstance(res.last_modified, dt.datetime)
        return xml_response(xml.render_copy_part_result(quote_etag(res.etag), res.last_modified), headers=headers)

    async def list_parts(self, req: S3Request) -> Response:
        assert req.principal is not None and req.bucket and req.key
        q = req.query
        max_parts = hdr.int_param(q.get("max-parts"), "max-parts", 1000, 0, 2**31 - 1)
        marker = hdr.int_param(q.get("part-number-marker"), "part-number-marker", 0, 0, 2**31 - 1)
        upload, parts, truncated = await self.multipart.list_parts(
            req.principal, req.bucket, req.key, q["uploadId"], marker, min(max_parts, 1000)
        )
        alg = upload.checksum_algorithm
        entries = [
            xml.PartEntry(
                part_number=p.part_number,
                last_modified=p.last_modified,
                etag=quote_etag(p.etag),
                size=p.size,
                checksums={alg: p.checksum_value} if alg and p.checksum_value else {},
            )
            for p in parts
        ]
        return xml_response(
            xml.render_list_parts(
                bucket=req.bucket,
                key=req.key,
                upload_id=upload.upload_id,
                part_number_marker=marker,
                next_part_number_marker=parts[-1].part_number if parts else marker,
                max_parts=max_parts,
                is_truncated=truncated,
                parts=entries,
                owner_id=req.principal.tenant_id,
                storage_class=upload.storage_class or "STANDARD",
                checksum_algorithm=alg,
                checksum_type=upload.checksum_type,
            )
        )

    async def complete_upload(self, req: S3Request) -> Response:
        assert req.principal is not None and req.bucket and req.key
        body = await req.read_small(body_checksum=False)
        parts = xml.parse_complete_multipart(body)
        specs = [CompletedPartSpec(p.part_number, p.etag, p.checksums) for p in parts]
        ck = hdr.customer_key(req.headers)
        await self.objects.check_write_conditions(req.principal, req.bucket, req.key, hdr.conditions(req.headers))
        _bucket, upload, res = await self.multipart.complete(
            req.principal, req.bucket, req.key, req.query["uploadId"], specs, ck, req.checksum or ChecksumRequest()
        )
        headers = hdr.encryption_response_headers(res.mode, res.kms_key_id, res.bucket_key_enabled, ck)
        checksums = {}
        if res.checksum_algorithm and res.checksum:
            checksums[res.checksum_algorithm] = res.checksum
        location = f"https://{req.headers.get('host', 'localhost')}/{req.bucket}/{urllib.parse.quote(req.key)}"
        return xml_response(
            xml.render_complete_multipart(
                location,
                req.bucket,
                req.key,
                quote_etag(res.etag),
                checksums,
                checksum_type=upload.checksum_type if checksums else None,
            ),
            headers=headers,
        )

    # --- browser POST uploads -------------------------------------------------
    async def post_object(self, req: S3Request) -> Response:
        from strongroom.http.s3.postobject import handle_post_object

        return await handle_post_object(self, req)


def make_error_body(code: str, message: str) -> bytes:
    return xml.render_error(code, message, "/", "0", {})


__all__ = ["S3App", "S3Request", "StreamingResponse"]
