"""CORS: the bucket's configuration (Put/Get/DeleteBucketCors) and the browsers' preflight (OPTIONS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response

from strongroom.http.s3 import cors as cors_http
from strongroom.http.s3 import corsxml
from strongroom.http.s3.request import xml_response
from strongroom.policy.cors import requested_headers

if TYPE_CHECKING:
    from strongroom.http.s3.app import S3App
    from strongroom.http.s3.request import S3Request


async def put_bucket_cors(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    config = corsxml.parse_cors_configuration(await req.read_small(limit=corsxml.MAX_CORS_BODY))
    await app.cors.put(req.op, req.bucket, config)
    return Response(status_code=200)


async def get_bucket_cors(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    return xml_response(corsxml.render_cors_configuration(await app.cors.get(req.op, req.bucket)))


async def delete_bucket_cors(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    await app.cors.delete(req.op, req.bucket)
    return Response(status_code=204)


async def preflight(app: S3App, req: S3Request) -> Response:
    """``OPTIONS`` on the service, a bucket or an object, unauthenticated (``Route.public``)."""
    assert req.op is not None
    match = await app.cors.preflight(
        req.op,
        req.bucket,
        req.headers.get("origin"),
        req.headers.get("access-control-request-method"),
        requested_headers(req.headers.get("access-control-request-headers")),
    )
    return cors_http.preflight_response(match)
