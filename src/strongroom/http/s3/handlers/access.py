"""Access-control subresources: bucket policy and its status, bucket and object ACLs, public access blocks,
object ownership controls."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from strongroom.http.s3 import accessxml
from strongroom.http.s3.request import xml_response

if TYPE_CHECKING:
    from strongroom.http.s3.app import S3App
    from strongroom.http.s3.request import S3Request

MAX_POLICY_BODY = 20 * 1024


async def put_bucket_policy(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    body = await req.read_small(limit=MAX_POLICY_BODY + 1)
    await app.acls.put_bucket_policy(req.op, req.bucket, body)
    return Response(status_code=204)


async def get_bucket_policy(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    text = await app.acls.get_bucket_policy(req.op, req.bucket)
    return Response(text.encode("utf-8"), media_type="application/json")


async def delete_bucket_policy(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    await app.acls.delete_bucket_policy(req.op, req.bucket)
    return Response(status_code=204)


async def get_bucket_policy_status(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    public = await app.acls.policy_is_public(req.op, req.bucket)
    return xml_response(accessxml.render_policy_status(public))


async def _acl_body(app: S3App, req: S3Request) -> Callable[[], Any] | None:
    body = await req.read_small()
    if not body.strip():
        return None
    return functools.partial(accessxml.parse_access_control_policy, body, app.acls.resolve_canonical_id)


async def put_bucket_acl(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    await app.acls.put_bucket_acl(req.op, req.bucket, req.headers, await _acl_body(app, req))
    return Response(status_code=200)


async def get_bucket_acl(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    acl = await app.acls.get_bucket_acl(req.op, req.bucket)
    return xml_response(accessxml.render_access_control_policy(acl))


async def put_object_acl(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None and req.key is not None
    await app.acls.put_object_acl(req.op, req.bucket, req.key, req.headers, await _acl_body(app, req), app.objects)
    return Response(status_code=200)


async def get_object_acl(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None and req.key is not None
    acl = await app.acls.get_object_acl(req.op, req.bucket, req.key, app.objects)
    return xml_response(accessxml.render_access_control_policy(acl))


async def put_public_access_block(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    block = accessxml.parse_public_access_block(await req.read_small())
    await app.acls.put_public_access_block(req.op, req.bucket, block)
    return Response(status_code=200)


async def get_public_access_block(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    block = await app.acls.get_public_access_block(req.op, req.bucket)
    return xml_response(accessxml.render_public_access_block(block))


async def delete_public_access_block(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    await app.acls.delete_public_access_block(req.op, req.bucket)
    return Response(status_code=204)


async def put_ownership_controls(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    value = accessxml.parse_ownership_controls(await req.read_small())
    await app.acls.put_ownership(req.op, req.bucket, value)
    return Response(status_code=200)


async def get_ownership_controls(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    value = await app.acls.get_ownership(req.op, req.bucket)
    return xml_response(accessxml.render_ownership_controls(value))


async def delete_ownership_controls(app: S3App, req: S3Request) -> Response:
    assert req.op is not None and req.bucket is not None
    await app.acls.delete_ownership(req.op, req.bucket)
    return Response(status_code=204)
