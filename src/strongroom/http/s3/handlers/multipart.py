"""Multipart uploads: create, upload part (and part copy), list parts, complete, abort."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import TYPE_CHECKING

from starlette.responses import Response

from strongroom.core.types import ChecksumRequest
from strongroom.http.s3 import headers as hdr
from strongroom.http.s3 import xml
from strongroom.http.s3.errors import s3_error
from strongroom.http.s3.handlers.objects import _content_length
from strongroom.http.s3.request import content_md5, xml_response
from strongroom.service.multipart import CompletedPartSpec
from strongroom.service.objects import quote_etag

if TYPE_CHECKING:
    from strongroom.http.s3.app import S3App
    from strongroom.http.s3.request import S3Request


def _part_number(req: S3Request) -> int:
    return hdr.int_param(req.query.get("partNumber"), "partNumber", 0, 1, 10000)


async def create(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket and req.key
    algorithm = req.headers.get("x-amz-checksum-algorithm")
    upload, wk = await app.multipart.create(
        req.op,
        req.bucket,
        req.key,
        hdr.object_headers(req.headers),
        hdr.sse_request(req.headers),
        algorithm.upper() if algorithm else None,
        req.headers.get("x-amz-checksum-type"),
        acl=await app.acls.requested_acl(req.op, req.headers, req.bucket),
    )
    sse = hdr.sse_request(req.headers)
    headers = hdr.encryption_response_headers(wk.mode, wk.kms_key_id, wk.bucket_key_enabled, sse.customer_key)
    if algorithm:
        headers["x-amz-checksum-algorithm"] = algorithm.upper()
        headers["x-amz-checksum-type"] = upload.checksum_type or "COMPOSITE"
    return xml_response(xml.render_initiate_multipart(req.bucket, req.key, upload.upload_id), headers=headers)


async def upload_part(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket and req.key and req.checksum is not None
    _content_length(req)
    decoded = req.headers.get("x-amz-decoded-content-length") or req.headers.get("content-length") or "0"
    if int(decoded) > 5 * 1024**3:
        raise s3_error("EntityTooLarge", ProposedSize=decoded, MaxSizeAllowed=str(5 * 1024**3))
    ck = hdr.customer_key(req.headers)
    upload, res = await app.multipart.upload_part(
        req.op,
        req.bucket,
        req.key,
        req.query["uploadId"],
        _part_number(req),
        req.body(),
        content_md5(req.headers),
        req.checksum,
        ck,
    )
    headers = {"etag": quote_etag(res.etag)}
    headers.update(hdr.encryption_response_headers(upload.sse_mode, upload.kms_key_id, upload.bucket_key_enabled, ck))
    if res.checksum and (req.checksum.algorithm or upload.checksum_algorithm):
        alg = (req.checksum.algorithm or upload.checksum_algorithm or "").lower()
        headers["x-amz-checksum-" + alg] = res.checksum
    return Response(status_code=200, headers=headers)


async def upload_part_copy(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket and req.key
    assert req.source_op is not None
    src_bucket, src_key = hdr.copy_source(req.headers)
    ck = hdr.customer_key(req.headers)
    upload, res = await app.multipart.upload_part_copy(
        req.op,
        req.source_op,
        req.bucket,
        req.key,
        req.query["uploadId"],
        _part_number(req),
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


async def list_parts(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket and req.key
    q = req.query
    max_parts = hdr.int_param(q.get("max-parts"), "max-parts", 1000, 0, 2**31 - 1)
    marker = hdr.int_param(q.get("part-number-marker"), "part-number-marker", 0, 0, 2**31 - 1)
    bucket, upload, parts, truncated = await app.multipart.list_parts(
        req.op, req.bucket, req.key, q["uploadId"], marker, min(max_parts, 1000)
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
            owner_id=(await app.owner(bucket.tenant_id))[0],
            storage_class=upload.storage_class or "STANDARD",
            checksum_algorithm=alg,
            checksum_type=upload.checksum_type,
        )
    )


async def complete(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket and req.key
    body = await req.read_small(body_checksum=False)
    parts = xml.parse_complete_multipart(body)
    specs = [CompletedPartSpec(p.part_number, p.etag, p.checksums) for p in parts]
    ck = hdr.customer_key(req.headers)
    await app.objects.check_write_conditions(req.op, req.bucket, req.key, hdr.conditions(req.headers))
    _bucket, upload, res = await app.multipart.complete(
        req.op, req.bucket, req.key, req.query["uploadId"], specs, ck, req.checksum or ChecksumRequest()
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


async def abort(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket and req.key
    await app.multipart.abort(req.op, req.bucket, req.key, req.query["uploadId"])
    return Response(status_code=204)
