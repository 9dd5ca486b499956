"""The S3 ASGI app: wiring. A request's way: parse -> route (operation, action, resource) -> authenticate ->
authorize -> handler (parse and render) -> service. No business rule lives here or in the handlers."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from strongroom.core import errors, metrics
from strongroom.core.types import ANONYMOUS, Operation
from strongroom.http import metrics as metrics_http
from strongroom.http import transparency
from strongroom.http.s3 import cors as cors_http
from strongroom.http.s3 import headers as hdr
from strongroom.http.s3 import sigv2, xml
from strongroom.http.s3.errors import S3Error, s3_error
from strongroom.http.s3.request import (
    S3Request,
    _withheld_body,
    domain_error,
    not_modified_headers,
    xml_response,
)
from strongroom.http.s3.routes import Route, resolve
from strongroom.http.s3.sigv4 import AuthContext, authenticate, claimed_access_key
from strongroom.policy.authz import Resource, visible
from strongroom.policy.names import MAX_KEY_BYTES
from strongroom.service.access import AccessConfig, AccessService, NotCached
from strongroom.service.buckets import BucketService
from strongroom.service.cors import CorsService
from strongroom.service.limits import SYNC_SECONDS, RateLimiter
from strongroom.service.listing import ListingService
from strongroom.service.multipart import MultipartService
from strongroom.service.objects import ObjectService
from strongroom.service.runtime import Runtime

log = logging.getLogger("strongroom.s3")

VAULT_STATE_SECONDS = 1.0
MAX_HEADER_BYTES = 16 * 1024
_HSTS = ((b"strict-transport-security", b"max-age=31536000"),)
Handler = Callable[["S3App", S3Request], Awaitable[Response]]
#: query parameters that make a request an attempt to sign (else it is anonymous)
_CLAIM_PARAMS = (b"X-Amz-Credential", b"AWSAccessKeyId")  # where a presigned URL names its access key
_AUTH_PARAMS = frozenset({b"X-Amz-Algorithm", b"X-Amz-Credential", b"X-Amz-Signature", b"AWSAccessKeyId"})

_CHANGES = frozenset({"PUT", "POST", "DELETE"})


def _bytes_out(response: Response, method: str) -> int:
    if method == "HEAD":
        return 0
    length = response.headers.get("content-length")
    if length is not None and length.isdigit():
        return int(length)
    return len(getattr(response, "body", b"") or b"")


#: the action label of the endpoints beside S3 (not audited: no route)
_INTERNAL_ACTIONS = {"/_strongroom/health": "Health", metrics_http.PATH: "Metrics", transparency.PATH: "Transparency"}


def _unrouted_action(req: S3Request | None, path: str) -> str:
    if req is not None and not req.audit:
        return _INTERNAL_ACTIONS.get(path, "Internal")
    return "Unknown"  # refused before it could be routed


def handler_for(route: Route) -> Handler:
    module, _sep, name = route.handler.partition(":")
    fn: Handler = getattr(importlib.import_module(f"strongroom.http.s3.handlers.{module}"), name)
    return fn


class S3App:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.access = AccessService(rt)
        self.buckets = BucketService(rt, on_access_change=self._bucket_changed)
        self.cors = CorsService(rt, self.buckets)
        self.objects = ObjectService(rt, self.buckets)
        self.multipart = MultipartService(self.objects)
        self.listing = ListingService(rt, self.buckets)
        self.acls = AccessConfig(rt, self.access, self.buckets)
        self.limits = RateLimiter(rt.settings, rt.repo.engine)
        self.audit = rt.audit
        self.scrape_tokens = metrics_http.ScrapeTokens(rt)
        self._handlers: dict[str, Handler] = {}
        self._vault_checked_at = -1e9
        self._vault_sealed = True
        self.ready = True
        self.bootstrapped = False  # the first start's tenant and user rows exist (health says ok only then)

    def _bucket_changed(self, name: str) -> None:
        self.access.forget_bucket(name)
        self.cors.forget(name)

    # --- ASGI entry -------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        audit = self.audit
        audit.inflight += 1  # a hint for the audit writer's batching (audit/sink.py)
        try:
            await self._serve(scope, receive, send)
        finally:
            audit.inflight -= 1

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        started = time.perf_counter()
        request_id = secrets.token_hex(8).upper()
        receives = 0
        received = 0
        req: S3Request | None = None

        async def counted_receive() -> Message:
            nonlocal receives, received
            receives += 1
            message = await receive()
            received += len(message.get("body", b""))
            if req is not None and req.op is not None:
                req.op.bytes_in = received
            return message

        request = Request(scope, counted_receive)
        error: str | None = None
        try:
            req = S3Request(request, request_id)
            response = await self.handle(req)
        except S3Error as exc:
            error = exc.code
            response = self.error_response(exc, req, request_id, request.method)
        except errors.NotModified as exc:
            response = Response(status_code=304, headers=not_modified_headers(exc))
        except errors.StrongroomError as exc:
            if isinstance(exc, errors.DecryptionFailed):
                log.error("integrity failure on %s: %s", scope.get("path"), exc.context or "")
            wire = domain_error(exc)
            error = wire.code
            response = self.error_response(wire, req, request_id, request.method)
        except ClientDisconnect:
            # the connection ended before the body did (the client went, or sent framing the HTTP parser refused):
            # the client's failure, not the server's, whoever reads the answer
            error = "IncompleteBody"
            response = self.error_response(s3_error("IncompleteBody"), req, request_id, request.method)
        except Exception:
            log.exception("internal error (request %s)", request_id)
            error = "InternalError"
            response = self.error_response(s3_error("InternalError"), req, request_id, request.method)
        if req is not None and req.audit:
            op = req.op or self.unnamed_operation(req)
            op.bytes_in = received
            try:
                await self.audit.record(op, "s3", response.status_code, error, _bytes_out(response, request.method))
            except errors.AuditUnavailable as exc:
                response = self.error_response(domain_error(exc), req, request_id, request.method)
        if req is not None and "origin" in req.headers:  # a browser's request: the bucket's CORS rules answer it
            await cors_http.add_headers(self.cors, req, response)
        if error == "RequestTimeout":  # the rest of the body may still come: it must not be read as a request
            response.headers["connection"] = "close"
        elif receives == 0 and _withheld_body(request):
            # The client sent "Expect: 100-continue" and waits for a 100 that never came: it will not send
            # the body, and the server would read its next request as this one's body. Close instead.
            response.headers["connection"] = "close"
        rid = request_id.encode("ascii")
        # appended as they are (no handler sets these): MutableHeaders would scan the list for each one
        response.raw_headers.extend(
            ((b"x-amz-request-id", rid), (b"x-amz-id-2", rid), (b"server", b"strongroom"))
            + (_HSTS if scope.get("scheme") == "https" else ())
        )
        try:
            await response(scope, receive, send)
        finally:
            route = req.route if req is not None else None
            metrics.count_s3(
                route.name if route is not None else _unrouted_action(req, scope["path"]),
                response.status_code,
                error,
                time.perf_counter() - started,
                received,
                _bytes_out(response, request.method),
            )

    def unnamed_operation(self, req: S3Request) -> Operation:
        """The audit record of a request refused before its operation was named (unroutable, unauthenticated)."""
        route = req.route
        client = req.request.scope.get("client")
        resource = (
            "*" if req.bucket is None else f"arn:aws:s3:::{req.bucket}" + (f"/{req.key}" if req.key is not None else "")
        )
        return Operation(
            name=route.name if route is not None else "Unknown",
            action=route.action if route is not None else "",
            resource=resource,
            principal=req.principal or ANONYMOUS,
            request_id=req.request_id,
            source_ip=client[0] if client else None,
            user_agent=req.headers.get("user-agent"),
            bucket=req.bucket,
            key=req.key,
            outcome="denied" if req.claimed_key else "",
            claimed_key=req.claimed_key,
            resource_tenant=req.claimed_tenant,
        )

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
            req.virtual_host = True
            return
        stripped = path[1:] if path.startswith("/") else path
        if not stripped:
            return
        b, sep, k = stripped.partition("/")
        if not b:
            # a path that begins with "//" names an empty bucket (S3 does not normalise paths)
            raise s3_error("InvalidBucketName", BucketName="")
        req.bucket = b
        req.key = k if sep and k else None

    async def owner(self, tenant: str) -> tuple[str, str]:
        """(canonical id, display name) of a tenant, as S3 shows owners."""
        facts = await self.rt.run(self.access.tenant_facts, tenant)
        return facts.canonical_id, tenant

    def lookup_secret(self, access_key: str) -> str | None:
        """Blocking: an active access key's secret (SigV4 and POST policies verify with it)."""
        return self.access.lookup_secret(access_key)

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
                self.access.forget()
                self.rt.keys.forget()
        if self._vault_sealed:
            raise s3_error("ServiceUnavailable", "The key vault is sealed; no data can be read or written.")

    async def authenticate(self, req: S3Request) -> None:
        """SigV4 (header or presigned URL) -> the access key's principal; a request that does not try to sign is
        anonymous, and only what a policy or ACL grants everyone will be allowed to it."""
        if "authorization" not in req.headers and not any(name in _AUTH_PARAMS for name, _ in req.query_pairs):
            req.principal = ANONYMOUS
            return
        scope = req.request.scope
        raw_path = scope.get("raw_path") or scope["path"].encode()

        v2 = self.rt.settings.sigv2 and sigv2.attempted(req.headers, {name for name, _ in req.query_pairs})

        def verify(lookup: Callable[[str], str | None]) -> AuthContext:
            if v2:
                resource = raw_path.decode("latin-1")
                if req.virtual_host:  # V2 signs /bucket/key for virtual-hosted-style requests too
                    resource = f"/{req.bucket}{resource}"
                return sigv2.authenticate(
                    req.method,
                    resource,
                    req.query_string,
                    req.query_pairs,
                    req.headers,
                    lookup,
                    dt.datetime.now(dt.UTC),
                    self.rt.settings.max_clock_skew_seconds,
                )
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
            try:
                # the common case: the key is cached, and verifying costs less than a hop to a worker thread
                auth = verify(self.access.cached_secret)
            except NotCached:
                auth = await anyio.to_thread.run_sync(verify, self.lookup_secret)
        except S3Error as exc:
            await self.refused(exc, req)
            raise
        # at most one request in a second per key touches the database here (the shared counters)
        self.limits.check_request(auth.access_key)
        req.auth = auth
        req.principal = self.access.principal(auth.access_key)

    async def refused(self, exc: S3Error, req: S3Request) -> None:
        """A request whose signature failed: note the access key it claimed (and that key's tenant, whose chain
        the refusal is audited in), and hold back the answer to repeated failures from one key or one address."""
        claimed = claimed_access_key(
            req.headers.get("authorization", ""),
            next((v.decode("utf-8", "replace") for k, v in req.query_pairs if k in _CLAIM_PARAMS), ""),
        )
        req.claimed_key = claimed
        if claimed is not None and exc.code != "InvalidAccessKeyId":
            req.claimed_tenant = await self.rt.run(self.access.key_tenant, claimed)
        client = req.request.scope.get("client")
        await self.hold_back(exc.code, claimed, client[0] if client else None)

    async def hold_back(self, code: str, claimed: str | None, address: str | None) -> None:
        """Count a failed signature (of the key it claimed, and of the address) and wait as the limiter says: the
        one place S3 requests, browser POSTs and the admin API slow down guessing."""
        if code not in ("SignatureDoesNotMatch", "InvalidAccessKeyId"):
            return
        key = claimed if code == "SignatureDoesNotMatch" else None
        delay = await anyio.to_thread.run_sync(self.limits.signature_failed, key, address)
        if delay > 0:
            await anyio.sleep(delay)

    async def sync_limits(self) -> None:
        """The limiter's background tick (shared counters in the database)."""
        while True:
            await anyio.sleep(SYNC_SECONDS)
            try:
                await anyio.to_thread.run_sync(self.limits.sync)
            except Exception:  # noqa: BLE001 - the next tick retries; decisions go on from local counts
                log.debug("rate limit sync failed", exc_info=True)

    def operation(self, req: S3Request, route: Route) -> Operation:
        """The operation record of a routed, authenticated request (what authorization and audit see)."""
        assert req.principal is not None
        p = req.principal
        scope = req.request.scope
        client = scope.get("client")
        source_ip = client[0] if client else None
        if route.level == "service":
            resource = "*"
        elif route.level == "bucket" or req.key is None:
            resource = f"arn:aws:s3:::{req.bucket}"
        else:
            resource = f"arn:aws:s3:::{req.bucket}/{req.key}"
        return Operation(
            name=route.name,
            action=route.action,
            resource=resource,
            principal=p,
            request_id=req.request_id,
            source_ip=source_ip,
            user_agent=req.headers.get("user-agent"),
            bucket=req.bucket,
            key=req.key,
            context_fn=lambda: self.condition_keys(req, route, source_ip),
        )

    def condition_keys(self, req: S3Request, route: Route, source_ip: str | None) -> dict[str, Any]:
        """The request's condition keys, as IAM and S3 name them (made only when a policy is evaluated)."""
        assert req.principal is not None
        p = req.principal
        scope = req.request.scope
        now = dt.datetime.now(dt.UTC)
        keys: dict[str, Any] = {
            "aws:SecureTransport": "true" if scope.get("scheme") == "https" else "false",
            "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(now.timestamp())),
            "aws:PrincipalType": "Anonymous" if p.anonymous else "User",
        }
        if source_ip:
            keys["aws:SourceIp"] = source_ip
        if not p.anonymous:
            keys["aws:username"] = p.user
            keys["aws:userid"] = f"{p.tenant_id}:{p.user}"
            keys["aws:PrincipalArn"] = p.arn
            keys["aws:PrincipalAccount"] = p.tenant_id
        for name in ("user-agent", "referer"):
            if name in req.headers:
                keys["aws:UserAgent" if name == "user-agent" else "aws:Referer"] = req.headers[name]
        if req.auth is not None:
            keys["s3:signatureversion"] = req.auth.signature_version
            keys["s3:authType"] = "REST-QUERY-STRING" if "authorization" not in req.headers else "REST-HEADER"
        for name in hdr.CONDITION_HEADERS:
            if name in req.headers:
                keys["s3:" + name] = req.headers[name]
        if route.action in ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"):
            for name in ("prefix", "delimiter", "max-keys"):
                if name in req.query:
                    keys["s3:" + name] = req.query[name]
        if "versionId" in req.query:
            keys["s3:VersionId"] = req.query["versionId"]
        return keys

    async def authorize(self, req: S3Request, route: Route) -> None:
        """The one authorization step: the operation on its resource, and a copy's read of its source."""
        op = req.op
        assert op is not None
        if route.level == "service":
            await self.access.authorize(op, "tenant")
        elif route.name == "CreateBucket":
            await self.access.authorize(op, "tenant", req.bucket)
        elif route.per_key:
            # the handler decides each key; here, the bucket must at least be visible to the principal
            await self._visible(op, req.bucket)
        else:
            key = req.key if route.level == "object" else None
            if not self.access.authorize_cached(op, route.level, req.bucket, key):
                await self.rt.run(self.access.authorize_blocking, op, route.level, req.bucket, key, op.action)
        if route.source_action is not None:
            src_bucket, src_key = hdr.copy_source(req.headers)
            req.source_op = Operation(
                name=route.name,
                action=route.source_action,
                resource=f"arn:aws:s3:::{src_bucket}/{src_key}",
                principal=op.principal,
                request_id=op.request_id,
                source_ip=op.source_ip,
                user_agent=op.user_agent,
                bucket=src_bucket,
                key=src_key,
                context_fn=lambda: op.context,
            )
            await self.access.authorize(req.source_op, "object", src_bucket, src_key)

    async def _visible(self, op: Operation, bucket: str | None) -> None:
        """For operations decided per key (DeleteObjects): the bucket exists for this principal, who is not an
        operator outside its own tenant."""
        assert bucket is not None
        facts = await self.rt.run(self.access._load_bucket, bucket)
        p = op.principal
        if facts is None:
            raise errors.NoSuchBucket("The specified bucket does not exist", BucketName=bucket)
        if p.is_operator and facts.tenant != p.tenant_id:
            raise errors.AccessDenied()
        requester = await self.rt.run(self.access.requester, op)
        if not visible(requester, Resource(f"arn:aws:s3:::{bucket}", facts.tenant, "bucket", facts)):
            raise errors.NoSuchBucket("The specified bucket does not exist", BucketName=bucket)
        op.grants[facts.name] = (facts.id, facts.access_version)
        op.recheck = self.access.recheck

    async def handle(self, req: S3Request) -> Response:
        scope = req.request.scope
        if scope["path"] == "/_strongroom/health":
            return await self.health()
        if scope["path"] == metrics_http.PATH:
            if req.method not in ("GET", "HEAD"):
                raise s3_error("MethodNotAllowed")
            return await metrics_http.scrape(self.rt, self.scrape_tokens, req.headers)
        if scope["path"] == transparency.PATH:  # public, unsigned: the transparency report's page
            client = scope.get("client")
            self.limits.check_public(client[0] if client else None)  # per address, at the per-key rate
            return await transparency.page(self.rt, req.method, req.query)
        if scope["path"].startswith("/_strongroom/"):
            raise s3_error("AccessDenied")
        req.audit = True
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
        route = req.route = resolve(req.method, req.bucket, req.key, req.query, req.headers)
        await self.require_unsealed()
        if route.public:  # a CORS preflight: browsers send no credentials with it, and it is not authorized
            req.principal = ANONYMOUS
            req.op = self.operation(req, route)
            return await self._run(route, req)
        if route.name == "PostObject":
            # the form carries its own signature (the policy): it authenticates and authorizes once it is read
            return await self._run(route, req)
        await self.authenticate(req)
        if not self.ready:
            raise s3_error("ServiceUnavailable")
        if req.key is not None and len(req.key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise s3_error("KeyTooLongError", Size=str(len(req.key.encode("utf-8", "surrogatepass"))))
        req.op = self.operation(req, route)
        if req.method in ("PUT", "POST"):
            req.checksum = hdr.checksum_request(req.headers, req.trailer_names)
        await self.authorize(req, route)
        hdr.refuse_unbuilt(route.name, req.headers)
        hdr.refuse_sse_on_read(route.name, req.headers)
        if req.method in _CHANGES:
            # the entry commits with the operation's change (the first writing transaction it makes)
            req.op.success_status = 204 if req.method == "DELETE" else 200
            self.audit.arm(req.op, "s3")
        try:
            return await self._run(route, req)
        except errors.NoSuchKey as exc:
            # as S3 does: a key is reported missing only to principals that may list the bucket it is missing from
            # (for a copy's source: the source bucket, as the source operation's principal)
            op, bucket = req.op, req.bucket
            if isinstance(exc, errors.NoSuchSourceKey) and req.source_op is not None:
                op, bucket = req.source_op, hdr.copy_source(req.headers)[0]
            if route.level == "object" and bucket is not None and op is not None:
                listable = await self.rt.run(self.access.allowed, op, "s3:ListBucket", "bucket", bucket, None)
                if not listable:
                    raise errors.AccessDenied() from None
            raise

    async def _run(self, route: Route, req: S3Request) -> Response:
        handler = self._handlers.get(route.handler)
        if handler is None:
            handler = self._handlers[route.handler] = handler_for(route)
        return await handler(self, req)

    async def health(self) -> Response:
        try:
            await anyio.to_thread.run_sync(self.rt.repo.ping)
        except Exception:  # noqa: BLE001 - any failure means not ready
            return Response(b'{"status":"unavailable"}', status_code=503, media_type="application/json")
        try:
            vault = await anyio.to_thread.run_sync(self.rt.vault.status)
        except errors.StrongroomError:
            vault = {}
        if not self.ready or not self.bootstrapped or vault.get("sealed", True):
            return Response(b'{"status":"unavailable"}', status_code=503, media_type="application/json")
        return Response(b'{"status":"ok"}', media_type="application/json")


__all__ = ["S3App", "S3Request"]
