"""Listings: objects (v1, v2), versions, multipart uploads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from strongroom.http.s3 import headers as hdr
from strongroom.http.s3 import xml
from strongroom.http.s3.errors import s3_error
from strongroom.http.s3.request import decode_token, encode_token, xml_response
from strongroom.service.objects import quote_etag

if TYPE_CHECKING:
    from strongroom.http.s3.app import S3App
    from strongroom.http.s3.request import S3Request


def _encoding(req: S3Request) -> str | None:
    enc = req.query.get("encoding-type")
    if enc is not None and enc != "url":
        raise s3_error(
            "InvalidArgument",
            "Invalid Encoding Method specified in Request",
            ArgumentName="encoding-type",
            ArgumentValue=enc,
        )
    return enc


def _entries(rows: list[Any], owner: tuple[str, str] | None) -> list[xml.ObjectEntry]:
    return [
        xml.ObjectEntry(
            key=r.key,
            last_modified=r.last_modified,
            etag=quote_etag(r.etag),
            size=r.size,
            storage_class=r.storage_class or "STANDARD",
            owner_id=owner[0] if owner else None,
            owner_name=owner[1] if owner else None,
            checksum_algorithm=r.checksum_algorithm,
            checksum_type=r.checksum_type if r.checksum_algorithm else None,
        )
        for r in rows
    ]


async def list_v1(app: S3App, req: S3Request) -> Response:
    q = req.query
    assert req.op is not None and req.bucket is not None
    enc = _encoding(req)
    max_keys = hdr.int_param(q.get("max-keys"), "max-keys", 1000, 0, 2**31 - 1)
    prefix, delimiter, marker = q.get("prefix", ""), q.get("delimiter", ""), q.get("marker", "")
    listing = await app.listing.list(
        req.op,
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
            contents=_entries(listing.contents, await app.owner(listing.bucket.tenant_id)),
            common_prefixes=listing.common_prefixes,
            encoding_type=enc,
        )
    )


async def list_v2(app: S3App, req: S3Request) -> Response:
    q = req.query
    assert req.op is not None and req.bucket is not None
    enc = _encoding(req)
    max_keys = hdr.int_param(q.get("max-keys"), "max-keys", 1000, 0, 2**31 - 1)
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    token = q.get("continuation-token")
    start_after = q.get("start-after")
    after = start_after or None
    if token is not None:
        after = decode_token(token)
    listing = await app.listing.list(
        req.op, req.bucket, prefix=prefix, delimiter=delimiter, after=after, max_keys=min(max_keys, 1000)
    )
    next_token = None
    if listing.is_truncated and listing.last_key is not None:
        next_token = encode_token(listing.last_key)
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
            contents=_entries(
                listing.contents,
                await app.owner(listing.bucket.tenant_id) if q.get("fetch-owner") == "true" else None,
            ),
            common_prefixes=listing.common_prefixes,
            encoding_type=enc,
            fetch_owner=q.get("fetch-owner") == "true",
        )
    )


async def list_versions(app: S3App, req: S3Request) -> Response:
    q = req.query
    assert req.op is not None and req.bucket is not None
    enc = _encoding(req)
    max_keys = hdr.int_param(q.get("max-keys"), "max-keys", 1000, 0, 2**31 - 1)
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    key_marker = q.get("key-marker") or None
    listing = await app.listing.list(
        req.op,
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
            versions=_entries(listing.contents, await app.owner(listing.bucket.tenant_id)),
            delete_markers=[],
            common_prefixes=listing.common_prefixes,
            encoding_type=enc,
        )
    )


async def list_uploads(app: S3App, req: S3Request) -> Response:
    q = req.query
    assert req.op is not None and req.bucket is not None
    enc = _encoding(req)
    max_uploads = hdr.int_param(q.get("max-uploads"), "max-uploads", 1000, 0, 2**31 - 1)
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter", "")
    key_marker = q.get("key-marker") or None
    upload_marker = q.get("upload-id-marker") or None
    _b, ups, truncated = await app.multipart.list_uploads(
        req.op, req.bucket, prefix, key_marker, upload_marker, min(max_uploads, 1000)
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
