"""Object use cases. A PUT reads as a straight line:

authorize (bucket owned by the caller) -> choose the layer-1 key (SSE mode) -> seal both
layers while streaming into a temp blob, fsync, atomic publish (sealing.seal_part) ->
verify digests -> one metadata transaction replaces the current version -> old blobs go.
A GET is the same line backwards, reading only the segments the range needs.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime as dt
import hashlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import anyio

from strongroom.core import errors
from strongroom.core.types import (
    SSE_C,
    SSE_KMS,
    SSE_S3,
    ChecksumRequest,
    Conditions,
    CustomerKey,
    KeyUse,
    ObjectHeaders,
    Operation,
    SSERequest,
)
from strongroom.crypto import customer_kek, customer_verifier, random_bytes, verify_customer_key
from strongroom.metadata.models import Bucket, ObjectHeaderColumns, ObjectPart, ObjectRecord
from strongroom.metadata.repository import StoredObject, detached
from strongroom.policy.names import validate_key
from strongroom.service.access import confirm
from strongroom.service.buckets import BucketService, normalize_kms_key_id
from strongroom.service.runtime import Runtime
from strongroom.service.sealing import (
    SSE_C_KEY_ID,
    LayerOneKey,
    OpenPart,
    PartTarget,
    SealedPart,
    check_blob,
    open_part,
    part_columns,
    read_range,
    seal_part,
    stream_range,
)

MAX_SINGLE_PUT = 5 * 1024**3
#: GET ranges up to this size are decrypted whole before the response starts (one thread hop, and an integrity
#: failure becomes a clean 500); larger ones are streamed batch by batch.
SMALL_READ = 1024 * 1024
#: PUTs declaring at most this many bytes look their bucket up in the hop that seals and publishes the body.
SMALL_PUT = 1024 * 1024


def now() -> dt.datetime:
    """Current UTC time at millisecond precision (what S3 listings show)."""
    t = dt.datetime.now(dt.UTC)
    return t.replace(microsecond=(t.microsecond // 1000) * 1000)


@dataclass
class WriteKey:
    """The resolved service-layer encryption of a write."""

    mode: str
    l1: LayerOneKey
    kms_key_id: str | None = None
    kms_context: str | None = None
    bucket_key_enabled: bool = False
    ssec_salt: bytes | None = None
    ssec_verifier: bytes | None = None


@dataclass
class PutResult:
    etag: str
    version_id: str
    mode: str
    kms_key_id: str | None
    checksum_algorithm: str | None
    checksum: str | None
    bucket_key_enabled: bool
    last_modified: dt.datetime
    size: int


@dataclass
class ObjectView:
    """What a GET/HEAD needs to answer: the record, its parts, the byte range and a body."""

    bucket: Bucket
    record: ObjectRecord
    parts: list[ObjectPart]
    start: int
    end: int  # inclusive; -1 for an empty body
    partial: bool
    body: AsyncIterator[bytes] | None
    data: bytes | None = None  # the whole body, when the range was small enough to read up front


def quote_etag(etag: str) -> str:
    return f'"{etag}"'


def _etag_matches(header: str, etag: str) -> bool:
    for candidate in header.split(","):
        c = candidate.strip()
        if c.startswith("W/"):
            c = c[2:]
        if c == "*" or c.strip('"') == etag:
            return True
    return False


def check_conditions(cond: Conditions, etag: str, last_modified: dt.datetime, for_read: bool = True) -> None:
    """Evaluate HTTP preconditions the way S3 does (RFC 7232 ordering)."""
    lm = last_modified.replace(microsecond=0)
    if cond.if_match is not None:
        if not _etag_matches(cond.if_match, etag):
            raise errors.PreconditionFailed(Condition="If-Match")
    elif cond.if_unmodified_since is not None and lm > cond.if_unmodified_since:
        raise errors.PreconditionFailed(Condition="If-Unmodified-Since")
    if cond.if_none_match is not None:
        if _etag_matches(cond.if_none_match, etag):
            if for_read:
                raise errors.NotModified(ETag=etag, LastModified=last_modified)
            raise errors.PreconditionFailed(Condition="If-None-Match")
    elif cond.if_modified_since is not None and lm <= cond.if_modified_since:
        if for_read:
            raise errors.NotModified(ETag=etag, LastModified=last_modified)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single 'bytes=' range -> (start, end) inclusive; None means the whole object.

    Unparseable or multi-range headers are ignored, as S3 does; unsatisfiable ones raise InvalidRange.
    """
    if not header:
        return None
    header = header.strip()
    if not header.startswith("bytes=") or "," in header:
        return None
    spec = header[6:].strip()
    first, sep, last = spec.partition("-")
    if not sep:
        return None
    try:
        if first == "":
            n = int(last)
            if n <= 0 or last.strip() != last:
                raise errors.InvalidRange(ActualObjectSize=str(size), RangeRequested=header)
            if size == 0:
                raise errors.InvalidRange(ActualObjectSize=str(size), RangeRequested=header)
            return max(0, size - n), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start < 0 or (last and end < start):
        return None
    if start >= size:
        raise errors.InvalidRange(ActualObjectSize=str(size), RangeRequested=header)
    return start, min(end, size - 1)


class ObjectService:
    def __init__(self, rt: Runtime, buckets: BucketService) -> None:
        self.rt = rt
        self.buckets = buckets

    # --- encryption resolution --------------------------------------------
    def resolve_write_key(self, op: Operation, bucket: Bucket, sse: SSERequest) -> WriteKey:
        """Pick the layer-1 KEK for a new write (blocking: call in a thread); the operation records which."""
        wk = self._write_key(bucket, sse, KeyUse.of(op))
        op.data_key = (wk.l1.kek_id, wk.l1.version)
        return wk

    def _write_key(self, bucket: Bucket, sse: SSERequest, use: KeyUse) -> WriteKey:
        if sse.customer_key is not None:
            if sse.algorithm is not None:
                raise errors.InvalidArgument(
                    "Server Side Encryption with Customer provided key is incompatible with the encryption method "
                    "specified"
                )
            salt = random_bytes(32)
            kek = customer_kek(sse.customer_key.material, salt)
            return WriteKey(
                SSE_C,
                LayerOneKey(SSE_C_KEY_ID, 0, kek, customer=True),
                ssec_salt=salt,
                ssec_verifier=customer_verifier(sse.customer_key.material, salt),
            )
        algorithm = sse.algorithm or bucket.sse_algorithm
        if algorithm == "AES256":
            version, kek = self.rt.keys.encryption_key(bucket.bucket_key_id, bucket, use)
            return WriteKey(SSE_S3, LayerOneKey(bucket.bucket_key_id, version, kek))
        if algorithm in ("aws:kms", "aws:kms:dsse"):
            key_id = sse.kms_key_id if sse.algorithm else bucket.kms_key_id
            key_id = normalize_kms_key_id(key_id) if key_id else bucket.bucket_key_id
            version, kek = self.rt.keys.encryption_key(key_id, bucket, use)
            if sse.kms_context is not None:
                _validate_context(sse.kms_context)
            bke = sse.bucket_key_enabled if sse.bucket_key_enabled is not None else bucket.bucket_key_enabled
            return WriteKey(
                SSE_KMS,
                LayerOneKey(key_id, version, kek, context=canonical_context(sse.kms_context)),
                kms_key_id=key_id,
                kms_context=sse.kms_context,
                bucket_key_enabled=bool(bke),
            )
        raise errors.InvalidArgument(f"The encryption method specified is not supported: {algorithm}")

    def read_key(
        self,
        bucket: Bucket,
        cols: ObjectHeaderColumns,
        kek_id: str,
        kek_version: int,
        ck: CustomerKey | None,
        use: KeyUse,
    ) -> LayerOneKey:
        """The layer-1 key to open a stored part of ``bucket``, for ``use`` (blocking)."""
        if cols.sse_mode == SSE_C:
            if ck is None:
                raise errors.CustomerKeyRequired(
                    "The object was stored using a form of Server Side Encryption. The correct parameters must be "
                    "provided to retrieve the object."
                )
            assert cols.ssec_salt is not None and cols.ssec_verifier is not None
            if not verify_customer_key(ck.material, cols.ssec_salt, cols.ssec_verifier):
                raise errors.CustomerKeyMismatch()
            return LayerOneKey(SSE_C_KEY_ID, 0, customer_kek(ck.material, cols.ssec_salt), customer=True)
        if ck is not None:
            raise errors.InvalidRequest("The encryption parameters are not applicable to this object.")
        return LayerOneKey(
            kek_id,
            kek_version,
            self.rt.keys.decryption_key(kek_id, kek_version, bucket, use),
            context=canonical_context(cols.kms_context) if cols.sse_mode == SSE_KMS else b"",
        )

    # --- PUT --------------------------------------------------------------
    async def put(
        self,
        op: Operation,
        bucket_name: str,
        key: str,
        body: AsyncIterator[bytes],
        headers: ObjectHeaders,
        sse: SSERequest,
        checksum: ChecksumRequest,
        content_md5: str | None,
        conditions: Conditions | None = None,
        size_hint: int | None = None,
        acl: str | None = None,
    ) -> PutResult:
        """Store an object. With a ``size_hint`` (the declared length) of at most SMALL_PUT bytes, the bucket and key
        are resolved in the same worker-thread hop that seals and publishes the body (one hop in all); otherwise
        first, so a large upload to a missing bucket fails before its body is read."""
        validate_key(key)
        version_id = uuid.uuid4().hex
        resolved: list[tuple[Bucket, WriteKey]] = []
        published: list[ObjectRecord] = []

        def resolve() -> PartTarget:
            if not resolved:
                resolved.append(self._prepare_write(op, bucket_name, key, sse, conditions or Conditions()))
            bucket, wk = resolved[0]
            return PartTarget(bucket.region, bucket.id, wk.l1)

        if size_hint is None or size_hint > SMALL_PUT:
            await self.rt.run(resolve)

        def publish(sealed: SealedPart) -> None:
            """In the worker thread that completed the blob: one metadata transaction replaces the current version."""
            bucket, wk = resolved[0]
            ts = now()
            record = new_record(
                bucket,
                key,
                version_id,
                headers,
                wk,
                ts,
                size=sealed.size,
                etag=sealed.etag,
                parts_count=None,
                checksum_algorithm=checksum.algorithm,
                checksum_type="FULL_OBJECT" if checksum.algorithm else None,
                checksum_value=sealed.checksum,
                acl=acl,
            )
            part = detached(ObjectPart, part_number=1, offset=0, last_modified=ts, **part_columns(sealed))
            self.rt.repo.put_object(record, [part], bucket.region)
            published.append(record)

        sealed = await seal_part(
            self.rt,
            target=resolve,
            key=key,
            version_id=version_id,
            part_number=1,
            body=body,
            checksum_algorithm=checksum.algorithm,
            max_size=MAX_SINGLE_PUT,
            verify=lambda s: verify_digests(s, content_md5, checksum),
            publish=publish,
        )
        wk = resolved[0][1]
        return PutResult(
            etag=sealed.etag,
            version_id=version_id,
            mode=wk.mode,
            kms_key_id=wk.kms_key_id,
            checksum_algorithm=checksum.algorithm,
            checksum=sealed.checksum,
            bucket_key_enabled=wk.bucket_key_enabled,
            last_modified=published[0].last_modified,
            size=sealed.size,
        )

    def _prepare_write(
        self, op: Operation, bucket_name: str, key: str, sse: SSERequest, conditions: Conditions
    ) -> tuple[Bucket, WriteKey]:
        """Blocking: the caller's bucket, the write's layer-1 key, and the write preconditions (when sent)."""
        bucket = confirm(op, self.rt.repo.get_bucket(bucket_name), bucket_name, key=key)
        wk = self.resolve_write_key(op, bucket, sse)
        if conditions != Conditions():
            self._write_conditions_hold(bucket, key, conditions)
        return bucket, wk

    async def check_write_conditions(self, op: Operation, bucket_name: str, key: str, conditions: Conditions) -> None:
        """Conditional writes (If-Match / If-None-Match: *) against the current object, for any writer."""
        if conditions.if_match is None and conditions.if_none_match is None:
            return
        bucket = await self.buckets.get(op, bucket_name, key)
        await self._check_write_conditions(bucket, key, conditions)

    async def _check_write_conditions(self, bucket: Bucket, key: str, cond: Conditions) -> None:
        await anyio.to_thread.run_sync(self._write_conditions_hold, bucket, key, cond)

    def _write_conditions_hold(self, bucket: Bucket, key: str, cond: Conditions) -> None:
        """Blocking: raise unless If-None-Match / If-Match hold against the current object."""
        existing = self.rt.repo.get_object(bucket.id, key)
        if cond.if_none_match is not None:
            if existing is not None and cond.if_none_match.strip() == "*":
                raise errors.PreconditionFailed(Condition="If-None-Match")
        if cond.if_match is not None:
            if existing is None:
                raise errors.NoSuchKey(Key=key)
            if not _etag_matches(cond.if_match, existing.record.etag):
                raise errors.PreconditionFailed(Condition="If-Match")

    async def _publish(self, bucket: Bucket, record: ObjectRecord, parts: list[ObjectPart]) -> None:
        try:
            await anyio.to_thread.run_sync(self.rt.repo.put_object, record, parts, bucket.region)
        except BaseException:
            with anyio.CancelScope(shield=True):
                for p in parts:
                    await anyio.to_thread.run_sync(self.rt.store(bucket.region).delete, p.blob_id)
            raise

    # --- GET / HEAD ---------------------------------------------------------
    async def load(self, op: Operation, bucket_name: str, key: str) -> tuple[Bucket, StoredObject]:
        return await anyio.to_thread.run_sync(self._load, op, bucket_name, key)

    def _load(self, op: Operation, bucket_name: str, key: str) -> tuple[Bucket, StoredObject]:
        """Blocking: the caller's bucket and its object at key (one read)."""
        found, stored = self.rt.repo.get_bucket_and_object(bucket_name, key)
        bucket = confirm(op, found, bucket_name, key=key)
        if stored is None:
            raise errors.NoSuchKey("The specified key does not exist.", Key=key)
        return bucket, stored

    async def get(
        self,
        op: Operation,
        bucket_name: str,
        key: str,
        *,
        range_header: str | None,
        part_number: int | None,
        conditions: Conditions,
        customer_key: CustomerKey | None,
        head: bool,
        answer: Callable[[ObjectView], tuple[int, int]] | None = None,
    ) -> ObjectView:
        """The object's view. ``answer`` gives the (status, bytes out) the caller will answer with a view: when the
        whole answer is known in the worker-thread hop (a HEAD, a small GET), the audit entry is written there."""
        args = (op, bucket_name, key, range_header, part_number, conditions, customer_key, head, answer)
        try:
            return await self._get(*args)
        except errors.BlobNotFound:
            # the version read from the database was replaced (and its blobs collected) before its first
            # byte was read: answer with the current version instead
            return await self._get(*args)

    async def _get(self, *args: Any) -> ObjectView:
        # one worker-thread hop: the metadata, both keys of each part, and a small body's plaintext
        view, opened = await self.rt.run(self._open, *args)
        if view.data is None and opened and view.end >= view.start:  # a GET (a HEAD opens no keys) too big for one hop
            start, end = view.start, view.end
            blob_ids = [p.blob_id for p in opened if p.size and p.offset <= end and p.offset + p.size - 1 >= start]
            region = view.bucket.region
            view.body = await _prefetched(_leased(stream_range(self.rt, region, opened, start, end), blob_ids))
        return view

    def _open(
        self,
        op: Operation,
        bucket_name: str,
        key: str,
        range_header: str | None,
        part_number: int | None,
        conditions: Conditions,
        customer_key: CustomerKey | None,
        head: bool,
        answer: Callable[[ObjectView], tuple[int, int]] | None = None,
    ) -> tuple[ObjectView, list[OpenPart]]:
        """Blocking: resolve the object and its keys, check preconditions and the range, and read the plaintext
        when the range is at most SMALL_READ bytes (larger ones are streamed by the caller)."""
        bucket, stored = self._load(op, bucket_name, key)
        rec = stored.record
        opened: list[OpenPart] = []
        if stored.parts:
            op.data_key = (stored.parts[0].kek_id, stored.parts[0].kek_version)
        use = KeyUse.of(op)
        if head:
            # HEAD still proves the caller holds the key (SSE-C) and that the key is usable
            if rec.sse_mode == SSE_C or customer_key is not None:
                self.read_key(bucket, rec, stored.parts[0].kek_id, stored.parts[0].kek_version, customer_key, use)
        else:
            l1_cache: dict[tuple[str, int], LayerOneKey] = {}
            for p in stored.parts:
                ident = (p.kek_id, p.kek_version)
                if ident not in l1_cache:
                    l1_cache[ident] = self.read_key(bucket, rec, p.kek_id, p.kek_version, customer_key, use)
                opened.append(
                    open_part(
                        self.rt,
                        region=bucket.region,
                        bucket_id=bucket.id,
                        key=key,
                        version_id=rec.version_id,
                        part_number=p.part_number,
                        row=p,
                        offset=p.offset,
                        l1=l1_cache[ident],
                    )
                )
        check_conditions(conditions, rec.etag, rec.last_modified)
        rng: tuple[int, int] | None
        if part_number is not None:
            rng = self._part_range(stored, part_number)
        else:
            rng = parse_range(range_header, rec.size)
        start, end = rng if rng is not None else (0, rec.size - 1)
        view = ObjectView(bucket, rec, stored.parts, start, end, rng is not None, None)
        if not head and end >= start and end - start + 1 > SMALL_READ:  # streamed: check every blob it needs first
            for part in opened:
                if part.size and part.offset <= end and part.offset + part.size - 1 >= start:
                    check_blob(self.rt, bucket.region, part)
        if not head and end >= start and end - start + 1 <= SMALL_READ:
            blob_ids = [p.blob_id for p in opened]
            READ_LEASES.acquire(blob_ids)
            try:
                view.data = read_range(self.rt, bucket.region, opened, start, end)
            finally:
                READ_LEASES.release(blob_ids)
            view.body = _once(view.data)
        if answer is not None and (head or view.data is not None or end < start):
            status, bytes_out = answer(view)
            self.rt.audit.record_now(op, "s3", status, None, bytes_out)
        return view, opened

    def _part_range(self, stored: StoredObject, part_number: int) -> tuple[int, int] | None:
        """The byte range of the part_number-th part (parts are numbered 1..PartsCount in the object)."""
        count = stored.record.parts_count
        if count is None:
            if part_number == 1:
                return None
        elif 1 <= part_number <= len(stored.parts):
            p = stored.parts[part_number - 1]
            return (p.offset, p.offset + p.size - 1)
        raise errors.InvalidRange(
            "The requested partnumber is not satisfiable",
            PartNumberRequested=str(part_number),
            ActualPartCount=str(count or 1),
        )

    async def read_for_copy(
        self,
        op: Operation,
        bucket_name: str,
        key: str,
        *,
        range_header: str | None,
        conditions: Conditions,
        customer_key: CustomerKey | None,
    ) -> ObjectView:
        """Open a copy source. Copy preconditions fail with 412, never 304."""
        try:
            return (
                await self.get(
                    op,
                    bucket_name,
                    key,
                    range_header=None,
                    part_number=None,
                    conditions=conditions,
                    customer_key=customer_key,
                    head=False,
                )
                if range_header is None
                else await self._get_copy_range(op, bucket_name, key, range_header, conditions, customer_key)
            )
        except errors.NotModified:
            raise errors.PreconditionFailed() from None
        except errors.NoSuchKey as exc:
            raise errors.NoSuchSourceKey(exc.message, **exc.context) from None

    async def _get_copy_range(
        self,
        op: Operation,
        bucket_name: str,
        key: str,
        range_header: str,
        conditions: Conditions,
        customer_key: CustomerKey | None,
    ) -> ObjectView:
        bucket, stored = await self.load(op, bucket_name, key)
        size = stored.record.size
        spec = range_header.strip()
        try:
            if not spec.startswith("bytes="):
                raise ValueError
            a, b = spec[6:].split("-", 1)
            start, end = int(a), int(b)
        except ValueError:
            raise errors.InvalidArgument(
                "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are "
                "the zero-based offsets of the first and last bytes to copy"
            ) from None
        if start > end or end >= size:
            raise errors.InvalidRange(ActualObjectSize=str(size), RangeRequested=range_header)
        return await self.get(
            op,
            bucket_name,
            key,
            range_header=f"bytes={start}-{end}",
            part_number=None,
            conditions=conditions,
            customer_key=customer_key,
            head=False,
        )

    # --- DELETE -------------------------------------------------------------
    async def delete(self, op: Operation, bucket_name: str, key: str) -> None:
        bucket = await self.buckets.get(op, bucket_name, key)
        await anyio.to_thread.run_sync(self.rt.repo.delete_object, bucket.id, key, bucket.region)

    async def delete_many(
        self, op: Operation, bucket_name: str, keys: list[str]
    ) -> tuple[list[str], list[tuple[str, str, str]]]:
        bucket = await self.buckets.get(op, bucket_name)
        deleted: list[str] = []
        failed: list[tuple[str, str, str]] = []
        for key in keys:
            try:
                validate_key(key)
                await anyio.to_thread.run_sync(self.rt.repo.delete_object, bucket.id, key, bucket.region)
                deleted.append(key)
            except errors.StrongroomError as exc:
                failed.append((key, type(exc).__name__, exc.message))
        return deleted, failed

    # --- COPY ---------------------------------------------------------------
    async def copy(
        self,
        op: Operation,
        src_op: Operation,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        *,
        metadata_directive: str,
        headers: ObjectHeaders,
        sse: SSERequest,
        source_customer_key: CustomerKey | None,
        source_conditions: Conditions,
        checksum: ChecksumRequest,
        acl: str | None = None,
    ) -> PutResult:
        validate_key(dst_key)
        view = await self.read_for_copy(
            src_op,
            src_bucket,
            src_key,
            range_header=None,
            conditions=source_conditions,
            customer_key=source_customer_key,
        )
        src = view.record
        if metadata_directive not in ("COPY", "REPLACE"):
            raise errors.InvalidArgument("Unknown metadata directive.")
        same = view.bucket.name == dst_bucket and src_key == dst_key
        if (
            same
            and metadata_directive == "COPY"
            and sse.algorithm is None
            and sse.customer_key is None
            and headers.storage_class == src.storage_class
        ):
            raise errors.InvalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself without changing the "
                "object's metadata, storage class, website redirect location or encryption attributes."
            )
        if metadata_directive == "COPY":
            headers = ObjectHeaders(
                content_type=src.content_type,
                content_encoding=src.content_encoding,
                content_disposition=src.content_disposition,
                content_language=src.content_language,
                cache_control=src.cache_control,
                expires=src.expires,
                user_metadata=json.loads(src.user_metadata),
                storage_class=headers.storage_class,
            )
        algorithm = checksum.algorithm or src.checksum_algorithm
        body = view.body if view.body is not None else _empty()
        return await self.put(
            op, dst_bucket, dst_key, body, headers, sse, ChecksumRequest(algorithm=algorithm), None, acl=acl
        )


async def _empty() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover


class ReadLeases:
    """Blobs that GETs in this process are streaming: garbage collection leaves them alone until done.

    An overwrite or delete queues the old version's blobs as garbage; without a lease, collecting them
    would cut off a download of the old version that is still in flight.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: collections.Counter[str] = collections.Counter()

    def acquire(self, blob_ids: list[str]) -> None:
        with self._lock:
            self._held.update(blob_ids)

    def release(self, blob_ids: list[str]) -> None:
        with self._lock:
            self._held.subtract(blob_ids)
            for blob_id in blob_ids:
                if self._held[blob_id] <= 0:
                    del self._held[blob_id]

    def __contains__(self, blob_id: object) -> bool:
        with self._lock:
            return blob_id in self._held


READ_LEASES = ReadLeases()
#: How long the write path leaves superseded blobs alone, so GETs streaming them from other worker
#: processes (whose leases this process cannot see) can finish. The periodic sweeper does not wait.
GARBAGE_GRACE_SECONDS = 120.0


async def _leased(gen: AsyncIterator[bytes], blob_ids: list[str]) -> AsyncIterator[bytes]:
    READ_LEASES.acquire(blob_ids)
    try:
        async for chunk in gen:
            yield chunk
    finally:
        READ_LEASES.release(blob_ids)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _prefetched(gen: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Decrypt the first batch before the response starts, so early failures become clean errors."""
    try:
        first = await gen.__anext__()
    except StopAsyncIteration:
        first = None

    async def chain() -> AsyncIterator[bytes]:
        if first is not None:
            yield first
        async for chunk in gen:
            yield chunk

    return chain()


def canonical_context(ctx_b64: str | None) -> bytes:
    """The SSE-KMS encryption context as canonical JSON (sorted keys, no spaces); b"" when absent."""
    if not ctx_b64:
        return b""
    ctx = json.loads(base64.b64decode(ctx_b64, validate=True))
    return json.dumps(ctx, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _validate_context(ctx_b64: str) -> None:
    try:
        ctx = json.loads(base64.b64decode(ctx_b64, validate=True))
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: nested past the decoder's depth
        raise errors.InvalidArgument(
            "The x-amz-server-side-encryption-context header is not valid base64 JSON"
        ) from None
    if not isinstance(ctx, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in ctx.items()):
        raise errors.InvalidArgument("The encryption context must be a JSON object of strings")


def verify_digests(sealed: SealedPart, content_md5: str | None, checksum: ChecksumRequest) -> None:
    if content_md5 is not None:
        try:
            want = base64.b64decode(content_md5, validate=True)
        except binascii.Error:
            raise errors.InvalidArgument("The Content-MD5 you specified is not valid.") from None
        if len(want) != 16:
            raise errors.InvalidArgument("The Content-MD5 you specified is not valid.")
        if want != sealed.md5:
            raise errors.BadDigest("The Content-MD5 you specified did not match what we received.")
    if checksum.value is not None and checksum.value != sealed.checksum:
        raise errors.BadDigest(f"The {checksum.algorithm} you specified did not match the calculated checksum.")


def new_record(
    bucket: Bucket,
    key: str,
    version_id: str,
    headers: ObjectHeaders,
    wk: WriteKey,
    ts: dt.datetime,
    **columns: Any,
) -> ObjectRecord:
    """A new object row (not yet in the database): identity, time, headers and encryption, plus ``columns``."""
    return detached(
        ObjectRecord,
        bucket_id=bucket.id,
        key=key,
        version_id=version_id,
        last_modified=ts,
        **header_columns(headers, wk),
        **columns,
    )


def header_columns(headers: ObjectHeaders, wk: WriteKey) -> dict[str, Any]:
    """The ObjectHeaderColumns values of a write."""
    return {
        "content_type": headers.content_type,
        "content_encoding": headers.content_encoding,
        "content_disposition": headers.content_disposition,
        "content_language": headers.content_language,
        "cache_control": headers.cache_control,
        "expires": headers.expires,
        "user_metadata": json.dumps(headers.user_metadata, sort_keys=True),
        "storage_class": headers.storage_class,
        "sse_mode": wk.mode,
        "kms_key_id": wk.kms_key_id,
        "kms_context": wk.kms_context,
        "bucket_key_enabled": wk.bucket_key_enabled,
        "ssec_salt": wk.ssec_salt,
        "ssec_verifier": wk.ssec_verifier,
    }


def apply_headers(cols: ObjectHeaderColumns, headers: ObjectHeaders, wk: WriteKey) -> None:
    for name, value in header_columns(headers, wk).items():
        setattr(cols, name, value)


def collect_garbage(rt: Runtime, min_age: float = 0.0) -> int:
    """Delete queued garbage blobs from their backends, then forget them. Blocking.

    Blobs queued less than ``min_age`` seconds ago, blobs queued while a backup holds its lease (any process's),
    and blobs a GET in this process is streaming, stay queued for a later pass.
    """
    done: list[str] = []
    now = dt.datetime.now(dt.UTC)
    cutoff: dt.datetime | None = now - dt.timedelta(seconds=min_age) if min_age > 0 else None
    held = rt.repo.garbage_held_since(now)  # a backup in progress may reference what was queued since
    if held is not None:
        cutoff = held if cutoff is None else min(cutoff, held)
    for g in rt.repo.take_garbage(1000, older_than=cutoff):
        if g.blob_id in READ_LEASES:
            continue
        try:
            rt.store(g.region).delete(g.blob_id)
            done.append(g.blob_id)
        except errors.StrongroomError:
            continue
    rt.repo.forget_garbage(done)
    return len(done)


def multipart_etag(part_etags: list[str]) -> str:
    h = hashlib.md5(usedforsecurity=False)
    for e in part_etags:
        h.update(bytes.fromhex(e))
    return f"{h.hexdigest()}-{len(part_etags)}"
