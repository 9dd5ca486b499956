"""Service-level operations (ListBuckets)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response

from strongroom.http.s3 import headers as hdr
from strongroom.http.s3 import xml
from strongroom.http.s3.request import decode_token, encode_token, xml_response

if TYPE_CHECKING:
    from strongroom.http.s3.app import S3App
    from strongroom.http.s3.request import S3Request


async def list_buckets(app: S3App, req: S3Request) -> Response:
    assert req.op is not None
    op = req.op
    buckets = await app.buckets.list(op)
    prefix = req.query.get("prefix")
    region = req.query.get("bucket-region")
    max_buckets = hdr.int_param(req.query.get("max-buckets"), "max-buckets", 10000, 1, 10000)
    token = req.query.get("continuation-token")
    after = decode_token(token) if token is not None else None
    chosen = [
        b
        for b in buckets
        if (not prefix or b.name.startswith(prefix))
        and (not region or b.region == region)
        and (after is None or b.name > after)
    ]
    page = chosen[:max_buckets]
    next_token = encode_token(page[-1].name) if len(chosen) > max_buckets else None
    entries = [xml.BucketEntry(name=b.name, creation_date=b.created_at, region=b.region) for b in page]
    owner_id, owner_name = await app.owner(op.principal.tenant_id)
    return xml_response(
        xml.render_list_buckets(owner_id, owner_name, entries, continuation_token=next_token, prefix=prefix)
    )
