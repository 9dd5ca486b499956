"""Browser-based uploads (POST Object): a multipart/form-data body with a signed policy.

The form is parsed as a stream (python-multipart): the fields before the file are collected
(bounded), the policy is verified as soon as the file part starts, and the file is then
streamed straight into the sealing pipeline. Nothing is spooled to disk.

As S3 does: fields after the file are ignored; a field sent twice is its values joined by commas;
``${filename}`` in any field is the file's name (what follows its last ``/`` or ``\\``), expanded
before the policy is checked; a form without any signing field is anonymous.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import anyio
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.responses import RedirectResponse, Response

from strongroom.core.types import ANONYMOUS
from strongroom.http.s3 import headers as hdr
from strongroom.http.s3 import xml
from strongroom.http.s3.errors import S3Error, s3_error
from strongroom.http.s3.postpolicy import PostPolicyResult, attempted, missing_field, verify_post_policy
from strongroom.http.s3.request import content_md5
from strongroom.http.s3.routes import Route
from strongroom.http.s3.sigv4 import claimed_access_key
from strongroom.service.objects import quote_etag

if TYPE_CHECKING:
    from strongroom.http.s3.app import S3App
    from strongroom.http.s3.request import S3Request

MAX_FIELDS_BYTES = 256 * 1024
MAX_FIELDS = 100
_SSE_C_PREFIX = "x-amz-server-side-encryption-customer-"


class _FormState:
    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.field_bytes = 0
        self.header_field = b""
        self.header_value = b""
        self.part_headers: dict[str, bytes] = {}
        self.name: str | None = None
        self.value = bytearray()
        self.in_file = False
        self.file_started = False
        self.file_done = False
        self.filename: str | None = None
        self.file_content_type: str | None = None
        self.file_chunks: list[bytes] = []

    # python-multipart callbacks -------------------------------------------
    def on_part_begin(self) -> None:
        self.part_headers = {}
        self.name = None
        self.value = bytearray()
        if self.file_done:
            return  # fields after the file are ignored, as S3 does

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part_headers[self.header_field.decode("latin-1").lower()] = self.header_value
        self.header_field = b""
        self.header_value = b""

    def on_headers_finished(self) -> None:
        disposition = self.part_headers.get("content-disposition", b"")
        _kind, params = parse_options_header(disposition)
        name = params.get(b"name", b"").decode("utf-8", "replace")
        self.name = name
        if name.lower() == "file" and not self.file_done:
            self.in_file = True
            self.file_started = True
            fname = params.get(b"filename")
            self.filename = fname.decode("utf-8", "replace") if fname is not None else None
            ctype = self.part_headers.get("content-type")
            self.file_content_type = ctype.decode("latin-1") if ctype else None

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.file_chunks.append(bytes(data[start:end]))
            return
        if self.file_done:
            return
        self.value += data[start:end]
        self.field_bytes += end - start
        if self.field_bytes > MAX_FIELDS_BYTES:
            raise s3_error("MaxMessageLengthExceeded", "Your POST form fields are too large.")

    def on_part_end(self) -> None:
        if self.in_file:
            self.in_file = False
            self.file_done = True
            return
        if self.file_done or self.name is None:
            return
        if len(self.fields) >= MAX_FIELDS:
            raise s3_error("MalformedPOSTRequest", "Too many form fields.")
        name, value = self.name.lower(), self.value.decode("utf-8", "replace")
        # S3: "If you have multiple fields with the same name, the values must be separated by commas"
        self.fields[name] = f"{self.fields[name]},{value}" if name in self.fields else value


def _expand_filename(fields: dict[str, str], filename: str | None) -> dict[str, str]:
    """``${filename}`` in every field -> the file's name without any path the client sent ("" without one)."""
    base = re.split(r"[/\\]", filename or "")[-1]
    return {name: value.replace("${filename}", base) for name, value in fields.items()}


def _redirect_target(fields: dict[str, str]) -> urllib.parse.SplitResult | None:
    """success_action_redirect (or the legacy redirect): None when absent, or when it is not an absolute http(s)
    URL, which S3 ignores as a URL it "cannot interpret"."""
    url = fields.get("success_action_redirect") or fields.get("redirect")
    if not url:
        return None
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    return parts if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def _boundary(content_type: str) -> bytes:
    _kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise s3_error("MalformedPOSTRequest")
    return boundary


async def handle_post_object(app: S3App, req: S3Request) -> Response:
    assert req.bucket is not None
    state = _FormState()
    parser = MultipartParser(
        _boundary(req.headers.get("content-type", "")),
        {
            "on_part_begin": state.on_part_begin,
            "on_part_data": state.on_part_data,
            "on_part_end": state.on_part_end,
            "on_header_field": state.on_header_field,
            "on_header_value": state.on_header_value,
            "on_header_end": state.on_header_end,
            "on_headers_finished": state.on_headers_finished,
        },
        max_header_size=16 * 1024,
        max_header_count=16,
    )
    stream = req.request.stream().__aiter__()

    def feed(chunk: bytes) -> None:
        try:
            parser.write(chunk)
        except Exception as exc:  # noqa: BLE001 - the parser's errors all mean a malformed form
            if hasattr(exc, "code"):
                raise
            raise s3_error("MalformedPOSTRequest") from exc

    ended = False
    while not state.file_started:
        try:
            chunk = await stream.__anext__()
        except StopAsyncIteration:
            ended = True
            break
        feed(chunk)
    if not state.file_started:
        raise s3_error(
            "InvalidArgument",
            "POST requires exactly one file upload per request.",
            ArgumentName="file",
            ArgumentValue="0",
        )
    fields = _expand_filename(state.fields, state.filename)
    if "key" not in fields:
        raise missing_field("key")
    if req.request.scope.get("scheme") != "https" and any(name.startswith(_SSE_C_PREFIX) for name in fields):
        raise s3_error(
            "InvalidRequest",
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure "
            "connection.",
        )
    policy: PostPolicyResult | None = None
    if attempted(fields):
        try:
            policy = await anyio.to_thread.run_sync(
                lambda: verify_post_policy(
                    fields,
                    app.lookup_secret,
                    dt.datetime.now(dt.UTC),
                    None,
                    bucket=req.bucket,
                    sigv2_enabled=app.rt.settings.sigv2,
                )
            )
        except S3Error as exc:
            claimed = claimed_access_key("", fields.get("x-amz-credential") or fields.get("awsaccesskeyid") or "")
            client = req.request.scope.get("client")
            await app.hold_back(exc.code, claimed, client[0] if client else None)
            raise
        app.limits.check_request(policy.access_key)
        req.principal = app.access.principal(policy.access_key)
    else:
        req.principal = ANONYMOUS  # no policy to check: only a grant to everyone allows it
    key = fields["key"]
    route = Route("PostObject", "s3:PutObject", "object", "objects:post_object")
    req.key = key
    req.op = op = app.operation(req, route)
    op.context["s3:authType"] = "POST"
    if policy is not None:
        op.context["s3:signatureversion"] = policy.signature_version
    for name in hdr.CONDITION_HEADERS:  # what the form asks for, whatever headers the request carries
        op.context.pop("s3:" + name, None)
        value = fields["acl"] if name == "x-amz-acl" and "acl" in fields else fields.get(name)
        if value is not None:
            op.context["s3:" + name] = value
    await app.access.authorize(op, "object", req.bucket, key)
    redirect = _redirect_target(fields)
    status = {"200": 200, "201": 201}.get(fields.get("success_action_status", ""), 204)  # S3: anything else is 204
    op.success_status = 303 if redirect is not None else status
    app.audit.arm(op, "s3")
    size = 0
    # past the policy's maximum nothing more is sealed; the rest of the file is only counted, for the refusal
    limit = policy.content_length_range[1] if policy is not None and policy.content_length_range else None

    async def body() -> AsyncIterator[bytes]:
        nonlocal size, ended
        while True:
            while state.file_chunks:
                piece = state.file_chunks.pop(0)
                size += len(piece)
                if limit is None or size <= limit:
                    yield piece
            if state.file_done or ended:
                break
            try:
                chunk = await stream.__anext__()
            except StopAsyncIteration:
                ended = True
                feed_end()
                continue
            feed(chunk)
        if not state.file_done:
            raise s3_error("MalformedPOSTRequest", "The file part of the form is incomplete.")
        if policy is not None:
            policy.check_content_length(size)

    def feed_end() -> None:
        try:
            parser.finalize()
        except Exception as exc:  # noqa: BLE001
            raise s3_error("MalformedPOSTRequest") from exc

    # the fields that become the object's headers, as header values (a GET sends them back as headers)
    meta_headers = {k: hdr.form_header_value(k, v) for k, v in fields.items() if k.startswith("x-amz-meta-")}
    for name in hdr.STANDARD_HEADERS:
        if name in fields:
            meta_headers[name] = hdr.form_header_value(name, fields[name])
    if "content-type" not in meta_headers and state.file_content_type:
        meta_headers["content-type"] = hdr.header_value("content-type", state.file_content_type)
    sse = hdr.sse_request({k: v for k, v in fields.items() if k.startswith("x-amz-server-side-encryption")})
    if "x-amz-storage-class" in fields:
        meta_headers["x-amz-storage-class"] = fields["x-amz-storage-class"]
    hdr.refuse_unbuilt(
        "PutObject",
        {k: v for k, v in fields.items() if k.startswith("x-amz-")}
        | ({"x-amz-tagging": fields["tagging"]} if fields.get("tagging") else {}),
    )
    res = await app.objects.put(
        op,
        req.bucket,
        key,
        body(),
        hdr.object_headers(meta_headers),
        sse,
        hdr.checksum_request(fields, []),
        content_md5(fields),
        acl=await app.acls.requested_acl(
            op,
            {k: v for k, v in fields.items() if k.startswith("x-amz-")}
            | ({"x-amz-acl": fields["acl"]} if "acl" in fields else {}),
            req.bucket,
        ),
    )
    # drain whatever follows the file (trailing fields are ignored)
    async for chunk in stream:
        feed(chunk)
    etag = quote_etag(res.etag)
    path = f"/{urllib.parse.quote(key)}" if req.virtual_host else f"/{req.bucket}/{urllib.parse.quote(key)}"
    location = f"{req.request.scope.get('scheme', 'https')}://{req.headers.get('host', 'localhost')}{path}"
    out_headers = {"etag": etag, "location": location}
    out_headers.update(
        hdr.encryption_response_headers(res.mode, res.kms_key_id, res.bucket_key_enabled, sse.customer_key)
    )
    out_headers.update(hdr.checksum_headers(res.checksum_algorithm, res.checksum, "FULL_OBJECT"))
    if redirect is not None:
        query = urllib.parse.urlencode({"bucket": req.bucket, "key": key, "etag": etag})
        target = redirect._replace(query=f"{redirect.query}&{query}" if redirect.query else query)
        return RedirectResponse(urllib.parse.urlunsplit(target), status_code=303, headers=out_headers)
    if status == 201:
        return Response(
            xml.render_post_object_result(location, req.bucket, key, etag),
            status_code=201,
            media_type="application/xml",
            headers=out_headers,
        )
    if status == 200:
        return Response(status_code=200, headers=out_headers)
    return Response(status_code=204, headers=out_headers)
