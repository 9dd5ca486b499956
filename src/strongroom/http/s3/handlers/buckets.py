"""Bucket operations: create, head, delete, location, default encryption, versioning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response

from strongroom.http.s3 import xml
from strongroom.http.s3.request import xml_response

if TYPE_CHECKING:
    from strongroom.http.s3.app import S3App
    from strongroom.http.s3.request import S3Request


async def create(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    body = await req.read_small()
    location = xml.parse_create_bucket(body) if body.strip() else None
    acl = await app.acls.requested_acl(req.op, req.headers, None)
    await app.buckets.create(req.op, req.bucket, location, acl=acl)
    return Response(status_code=200, headers={"location": f"/{req.bucket}"})


async def head(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    b = await app.buckets.get(req.op, req.bucket)
    return Response(status_code=200, headers={"x-amz-bucket-region": b.region})


async def delete(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    await app.buckets.delete(req.op, req.bucket)
    return Response(status_code=204)


async def get_location(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    b = await app.buckets.get(req.op, req.bucket)
    return xml_response(xml.render_location(b.region))


async def put_encryption(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    rule = xml.parse_encryption_configuration(await req.read_small())
    await app.buckets.put_encryption(
        req.op, req.bucket, rule.sse_algorithm, rule.kms_master_key_id, rule.bucket_key_enabled
    )
    return Response(status_code=200)


async def get_encryption(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    b = await app.buckets.get(req.op, req.bucket)
    return xml_response(
        xml.render_encryption_configuration(
            xml.EncryptionRule(
                sse_algorithm=b.sse_algorithm, kms_master_key_id=b.kms_key_id, bucket_key_enabled=b.bucket_key_enabled
            )
        )
    )


async def delete_encryption(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    await app.buckets.delete_encryption(req.op, req.bucket)
    return Response(status_code=204)


async def get_versioning(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    await app.buckets.get(req.op, req.bucket)
    return xml_response(
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
    )
