"""Object operations: put, copy, get, head, attributes, delete (one and many), browser POST."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response, StreamingResponse

from strongroom.core import errors
from strongroom.core.types import ChecksumRequest
from strongroom.http.s3 import headers as hdr
from strongroom.http.s3 import xml
from strongroom.http.s3.errors import S3Error, s3_error
from strongroom.http.s3.request import content_md5, xml_response
from strongroom.service.objects import ObjectView, PutResult, quote_etag

if TYPE_CHECKING:
    from strongroom.http.s3.app import S3App
    from strongroom.http.s3.request import S3Request


def _put_headers(res: PutResult, req: S3Request) -> dict[str, str]:
    out = {"etag": quote_etag(res.etag)}
    sse = hdr.sse_request(req.headers)
    out.update(hdr.encryption_response_headers(res.mode, res.kms_key_id, res.bucket_key_enabled, sse.customer_key))
    if res.checksum_algorithm and res.checksum:
        out["x-amz-checksum-" + res.checksum_algorithm.lower()] = res.checksum
        out["x-amz-checksum-type"] = "FULL_OBJECT"
    return out


def _content_length(req: S3Request) -> None:
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


async def put_object(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket and req.key and req.checksum is not None
    _content_length(req)
    declared = req.headers.get("x-amz-decoded-content-length") or req.headers.get("content-length")
    if declared is not None and int(declared) > 5 * 1024**3:
        raise s3_error("EntityTooLarge", ProposedSize=declared, MaxSizeAllowed=str(5 * 1024**3))
    res = await app.objects.put(
        req.op,
        req.bucket,
        req.key,
        req.body(),
        hdr.object_headers(req.headers),
        hdr.sse_request(req.headers),
        req.checksum,
        content_md5(req.headers),
        hdr.conditions(req.headers),
        size_hint=int(declared) if declared is not None else None,
        acl=await app.acls.requested_acl(req.op, req.headers, req.bucket),
    )
    return Response(status_code=200, headers=_put_headers(res, req))


async def copy_object(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.source_op is not None and req.bucket and req.key
    src_bucket, src_key = hdr.copy_source(req.headers)
    directive = req.headers.get("x-amz-metadata-directive", "COPY")
    res = await app.objects.copy(
        req.op,
        req.source_op,
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
        acl=await app.acls.requested_acl(req.op, req.headers, req.bucket),
    )
    headers = _put_headers(res, req)
    headers.pop("etag")
    checksums = {res.checksum_algorithm: res.checksum} if res.checksum_algorithm and res.checksum else {}
    return xml_response(
        xml.render_copy_object_result(quote_etag(res.etag), res.last_modified, checksums), headers=headers
    )


async def get_object(app: S3App, req: S3Request) -> Response:
    return await _get(app, req, head=False)


async def head_object(app: S3App, req: S3Request) -> Response:
    return await _get(app, req, head=True)


async def _get(app: S3App, req: S3Request, head: bool) -> Response:
    assert req.op is not None and req.bucket and req.key
    if "versionId" in req.query:
        hdr.check_version_id(req.query["versionId"])
    part_number = None
    if "partNumber" in req.query:
        part_number = hdr.int_param(req.query["partNumber"], "partNumber", 1, 1, 10000)
        if "range" in req.headers:
            raise s3_error("InvalidRequest", "Cannot specify both Range header and partNumber query parameter")
    hdr.response_overrides(req.query)  # a value that cannot be a header is refused before any work
    ck = hdr.customer_key(req.headers)
    try:
        view = await app.objects.get(
            req.op,
            req.bucket,
            req.key,
            range_header=req.headers.get("range"),
            part_number=part_number,
            conditions=hdr.conditions(req.headers),
            customer_key=ck,
            head=head,
            answer=lambda view: answer_of(view, head),
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
    return object_response(req, view, head, ck)


def answer_of(view: ObjectView, head: bool) -> tuple[int, int]:
    """The status a GET/HEAD answers a view with, and the body bytes it sends."""
    length = view.end - view.start + 1 if view.end >= view.start else 0
    return (206 if view.partial else 200), (0 if head else length)


def object_response(req: S3Request, view: ObjectView, head: bool, ck: Any) -> Response:
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
    headers.update(hdr.response_overrides(req.query))
    status, length = answer_of(view, False)  # the body's length, also for a HEAD
    if view.partial:
        headers["content-range"] = f"bytes {view.start}-{view.end}/{rec.size}"
    headers["content-length"] = str(length)
    if head or view.body is None:
        return Response(status_code=status, headers=headers)
    if view.data is not None:
        return Response(view.data, status_code=status, headers=headers)
    return StreamingResponse(view.body, status_code=status, headers=headers)


async def get_attributes(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket and req.key
    wanted = {a.strip() for a in req.headers.get("x-amz-object-attributes", "").split(",") if a.strip()}
    valid = {"ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"}
    if not wanted or wanted - valid:
        raise s3_error("InvalidArgument", "Invalid attribute name specified.")
    ck = hdr.customer_key(req.headers)
    view = await app.objects.get(
        req.op,
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


async def delete_objects(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    body = await req.read_small()
    objects, quiet = xml.parse_delete_objects(body)
    # only the "null" version exists; another version id names nothing, so nothing is deleted for it
    wanted = [k for k, v in objects if v in (None, "null")]
    versions = {k: v for k, v in objects if v is not None}
    refused = [(k, "InvalidArgument", "Invalid version id specified") for k, v in objects if v not in (None, "null")]
    op, bucket = req.op, req.bucket
    # each key is its own s3:DeleteObject decision (a policy may allow some prefixes only)
    allowed = await app.rt.run(
        lambda: [k for k in wanted if app.access.allowed(op, "s3:DeleteObject", "object", bucket, k)]
    )
    refused += [(k, "AccessDenied", "Access Denied") for k in wanted if k not in set(allowed)]
    deleted, failed = await app.objects.delete_many(req.op, req.bucket, allowed)
    return xml_response(
        xml.render_delete_result(
            deleted=[(k, versions.get(k)) for k in deleted],
            errors=[*refused, *((k, c, m) for k, c, m in failed)],
            quiet=quiet,
        )
    )


async def delete_object(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket and req.key
    if "versionId" in req.query:
        hdr.check_version_id(req.query["versionId"])
    await app.objects.delete(req.op, req.bucket, req.key)
    return Response(status_code=204)


async def post_object(app: S3App, req: S3Request) -> Response:
    from strongroom.http.s3.postobject import handle_post_object

    return await handle_post_object(app, req)
