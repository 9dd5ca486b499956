"""Seal a stream of plaintext into one blob, and open byte ranges of sealed blobs.

This is the only place the service layer touches segments, DEKs and blob writers.
Work is batched (about 1 MiB) and run in worker threads, so the event loop only moves buffers.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio

from strongroom.core import errors
from strongroom.core.checksums import Checksum
from strongroom.crypto import (
    SEGMENT_SIZE,
    DataKey,
    PartOpener,
    PartSealer,
    hmac_sha256,
    object_identity,
    sealed_size,
    segment_count,
    unwrap_dek,
    wrap_dek,
)
from strongroom.keys.keystore import infra_key_id
from strongroom.metadata.models import SealedPartColumns
from strongroom.service.runtime import Runtime
from strongroom.storage import new_blob_id

BATCH = 1024 * 1024
BATCH_STEP = max(SEGMENT_SIZE, (BATCH // SEGMENT_SIZE) * SEGMENT_SIZE)  # reads: whole segments per batch
SSE_C_KEY_ID = "sse-c"


@dataclass(frozen=True)
class LayerOneKey:
    """The customer-controlled KEK a part's DEK1 is wrapped under."""

    kek_id: str
    version: int
    kek: bytes = field(repr=False)
    customer: bool = False  # SSE-C: the ETag is keyed so the MD5 of the data is not stored
    context: bytes = b""  # SSE-KMS encryption context (canonical JSON), bound into the DEK wrap

    def __reduce__(self) -> str:
        raise TypeError("LayerOneKey cannot be pickled")


@dataclass(frozen=True)
class PartTarget:
    """Where a part is sealed: its bucket's region and id, and the layer-1 key."""

    region: str
    bucket_id: str
    l1: LayerOneKey


@dataclass
class SealedPart:
    blob_id: str
    size: int
    md5: bytes
    etag: str
    checksum: str | None
    inner_header: bytes
    outer_header: bytes
    wrapped_dek1: bytes
    kek_id: str
    kek_version: int
    wrapped_dek2: bytes
    infra_version: int


def part_etag(md5: bytes, l1: LayerOneKey) -> str:
    if l1.customer:
        return hmac_sha256(l1.kek, b"SRM1 SSE-C etag" + md5)[:16].hex()
    return md5.hex()


class _PartWriter:
    """Runs in a worker thread: hash, seal and write batches of plaintext."""

    def __init__(self, rt: Runtime, region: str, sealer: PartSealer, checksum: Checksum | None) -> None:
        self.blob_id = new_blob_id()
        self.writer = rt.store(region).writer(self.blob_id)
        self.sealer = sealer
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.checksum = checksum
        self.size = 0
        self.writer.write(sealer.header())

    def feed(self, data: bytes) -> None:
        self.md5.update(data)
        if self.checksum is not None:
            self.checksum.update(data)
        self.size += len(data)
        out = self.sealer.update(data)
        if out:
            self.writer.write(out)

    def finish(self) -> None:
        self.writer.write(self.sealer.finish())
        self.writer.commit()

    def abort(self) -> None:
        self.writer.abort()


async def seal_part(
    rt: Runtime,
    *,
    target: PartTarget | Callable[[], PartTarget],
    key: str,
    version_id: str,
    part_number: int,
    body: AsyncIterator[bytes],
    checksum_algorithm: str | None,
    max_size: int,
    verify: Callable[[SealedPart], None] | None = None,
    publish: Callable[[SealedPart], None] | None = None,
) -> SealedPart:
    """Stream body into a new sealed blob; returns what the metadata row needs.

    ``target`` may be a blocking callable (a PUT's bucket lookup and key choice): it then runs in the first worker
    thread hop, once the first batch (or the whole of a small body) has arrived. ``verify`` (digests) and then
    ``publish`` (the metadata transaction, blocking) run in the worker thread that completes the blob, before this
    returns; if either raises, the blob is deleted. Any failure leaves no blob behind. A small object is resolved,
    sealed, written, verified and published in a single thread hop.
    """
    checksum = Checksum(checksum_algorithm) if checksum_algorithm else None
    state: dict[str, Any] = {}

    def step(batch: bytes, final: bool) -> SealedPart | None:
        """One worker-thread hop: (first time) target, keys, wraps and the temp blob; feed; (last time) finish."""
        if "pw" not in state:
            t = target() if callable(target) else target
            l1, region = t.l1, t.region
            identity = object_identity(uuid.UUID(t.bucket_id), key, version_id, part_number)
            dek1, dek2 = DataKey.generate(), DataKey.generate()
            infra_version, infra_kek = rt.keys.infra_encryption_key(region)
            state["wrapped1"] = wrap_dek(
                l1.kek, dek1, layer=1, key_id=l1.kek_id, key_version=l1.version, identity=identity, context=l1.context
            )
            state["wrapped2"] = wrap_dek(
                infra_kek, dek2, layer=2, key_id=infra_key_id(region), key_version=infra_version, identity=identity
            )
            state["infra_version"] = infra_version
            state["sealer"] = PartSealer(dek1, dek2, identity)
            state["target"] = t
            state["pw"] = _PartWriter(rt, region, state["sealer"], checksum)
        pw: _PartWriter = state["pw"]
        t = state["target"]
        if batch:
            pw.feed(batch)
        if not final:
            return None
        pw.finish()
        sealer: PartSealer = state["sealer"]
        md5 = pw.md5.digest()
        sealed = SealedPart(
            blob_id=pw.blob_id,
            size=pw.size,
            md5=md5,
            etag=part_etag(md5, t.l1),
            checksum=checksum.b64() if checksum else None,
            inner_header=sealer.inner_header,
            outer_header=sealer.outer_header,
            wrapped_dek1=state["wrapped1"],
            kek_id=t.l1.kek_id,
            kek_version=t.l1.version,
            wrapped_dek2=state["wrapped2"],
            infra_version=state["infra_version"],
        )
        state["published"] = True  # the blob is complete: from here on, failures delete it (not abort)
        try:
            if verify is not None:
                verify(sealed)
            if publish is not None:
                publish(sealed)
        except BaseException:
            rt.store(t.region).delete(sealed.blob_id)
            raise
        return sealed

    pending: list[bytes] = []
    pending_len = 0
    total = 0
    # One batch in flight: while a worker thread hashes, seals and writes batch N, the event loop receives (and
    # TLS-decrypts) batch N+1. Batches are still processed one at a time and in order.
    in_flight: asyncio.Future[SealedPart | None] | None = None
    try:
        async for chunk in body:
            if not chunk:
                continue
            total += len(chunk)
            if total > max_size:
                raise errors.EntityTooLarge(
                    f"Your proposed upload exceeds the maximum allowed size of {max_size} bytes"
                )
            pending.append(chunk)
            pending_len += len(chunk)
            if pending_len >= BATCH:
                batch = b"".join(pending)
                pending, pending_len = [], 0
                if in_flight is not None:
                    await in_flight
                in_flight = asyncio.ensure_future(rt.run(step, batch, False))
        if in_flight is not None:
            await in_flight
            in_flight = None
        sealed = await rt.run(step, b"".join(pending), True)
    except BaseException:
        with anyio.CancelScope(shield=True):
            if in_flight is not None:
                await asyncio.wait([in_flight])  # the worker is done with the blob before it is aborted
                if not in_flight.cancelled():
                    in_flight.exception()  # retrieved: its error (if any) is the one being raised, or moot
            if "pw" in state and "published" not in state:
                await anyio.to_thread.run_sync(state["pw"].abort)
        raise
    assert sealed is not None
    return sealed


def part_columns(sealed: SealedPart) -> dict[str, Any]:
    """The SealedPartColumns values of a sealed part (last_modified aside)."""
    return {
        "size": sealed.size,
        "etag": sealed.etag,
        "blob_id": sealed.blob_id,
        "inner_header": sealed.inner_header,
        "outer_header": sealed.outer_header,
        "wrapped_dek1": sealed.wrapped_dek1,
        "kek_id": sealed.kek_id,
        "kek_version": sealed.kek_version,
        "wrapped_dek2": sealed.wrapped_dek2,
        "infra_version": sealed.infra_version,
        "checksum_value": sealed.checksum,
    }


def fill_part_columns(row: SealedPartColumns, sealed: SealedPart) -> None:
    for name, value in part_columns(sealed).items():
        setattr(row, name, value)


def copy_part_columns(dst: SealedPartColumns, src: SealedPartColumns) -> None:
    for name in (
        "size",
        "etag",
        "blob_id",
        "inner_header",
        "outer_header",
        "wrapped_dek1",
        "kek_id",
        "kek_version",
        "wrapped_dek2",
        "infra_version",
        "checksum_value",
        "last_modified",
    ):
        setattr(dst, name, getattr(src, name))


@dataclass
class OpenPart:
    """A part ready to read: its opener and where its plaintext sits in the object."""

    opener: PartOpener
    blob_id: str
    offset: int
    size: int


def open_part(
    rt: Runtime,
    *,
    region: str,
    bucket_id: str,
    key: str,
    version_id: str,
    part_number: int,
    row: SealedPartColumns,
    offset: int,
    l1: LayerOneKey,
) -> OpenPart:
    """Unwrap both DEKs of a stored part (blocking: call in a thread)."""
    identity = object_identity(uuid.UUID(bucket_id), key, version_id, part_number)
    dek1 = unwrap_dek(
        l1.kek,
        row.wrapped_dek1,
        layer=1,
        key_id=row.kek_id,
        key_version=row.kek_version,
        identity=identity,
        context=l1.context,
    )
    infra_kek = rt.keys.infra_decryption_key(region, row.infra_version)
    dek2 = unwrap_dek(
        infra_kek,
        row.wrapped_dek2,
        layer=2,
        key_id=infra_key_id(region),
        key_version=row.infra_version,
        identity=identity,
    )
    opener = PartOpener(dek1, dek2, identity, row.inner_header, row.outer_header, row.size)
    return OpenPart(opener, row.blob_id, offset, row.size)


def read_plain(rt: Runtime, region: str, part: OpenPart, start: int, end: int) -> bytes:
    """Plaintext bytes [start, end] (inclusive, part-relative). Blocking: call in a thread.

    A read that starts at segment 0 also checks the blob's header against the metadata copy, and a
    read that reaches the final segment checks that nothing follows it (docs/FORMAT.md).
    """
    opener = part.opener
    first, last, blob_off, blob_len = opener.span(start, end)
    final = last == segment_count(opener.plaintext_size, opener.segment_size) - 1
    read_off = 0 if first == 0 else blob_off
    lead = blob_off - read_off
    raw = rt.store(region).read(part.blob_id, read_off, lead + blob_len + (1 if final else 0))
    if len(raw) != lead + blob_len:
        raise errors.DecryptionFailed("blob length differs from its metadata")
    if lead and raw[:lead] != opener.outer_header:
        raise errors.DecryptionFailed("blob header differs from its metadata")
    plain = opener.open(first, memoryview(raw)[lead:], last_segment=last)
    seg_start = first * opener.segment_size
    return plain[start - seg_start : end - seg_start + 1]


def check_blob(rt: Runtime, region: str, part: OpenPart) -> None:
    """The blob's length and header agree with the metadata (blocking). A GET too large to decrypt before it
    answers runs this on every blob it will stream, so a truncated, extended or swapped blob is a clean error
    before the status line, not a 200 cut short; damage inside a segment is only found when it is decrypted
    (docs/FORMAT.md, "What a reader sees")."""
    opener = part.opener
    store = rt.store(region)
    if store.size(part.blob_id) != sealed_size(opener.plaintext_size, opener.segment_size):
        raise errors.DecryptionFailed("blob length differs from its metadata")
    if store.read(part.blob_id, 0, len(opener.outer_header)) != opener.outer_header:
        raise errors.DecryptionFailed("blob header differs from its metadata")


def _spans(parts: list[OpenPart], start: int, end: int, step: int) -> Iterator[tuple[OpenPart, int, int]]:
    """(part, from, to) part-relative inclusive pieces of object bytes [start, end], at most ``step`` bytes each and
    ending on segment boundaries (so no segment is decrypted twice)."""
    for part in parts:
        p_start, p_end = part.offset, part.offset + part.size - 1
        if part.size == 0 or p_end < start or p_start > end:
            continue
        lo = max(start, p_start) - p_start
        hi = min(end, p_end) - p_start
        pos = lo
        while pos <= hi:
            stop = min(hi, ((pos // step) + 1) * step - 1)
            yield part, pos, stop
            pos = stop + 1


def read_range(rt: Runtime, region: str, parts: list[OpenPart], start: int, end: int) -> bytes:
    """Object plaintext [start, end] inclusive, in one piece (blocking: call in a thread)."""
    return b"".join(read_plain(rt, region, part, lo, hi) for part, lo, hi in _spans(parts, start, end, BATCH_STEP))


async def stream_range(rt: Runtime, region: str, parts: list[OpenPart], start: int, end: int) -> AsyncIterator[bytes]:
    """Yield object plaintext [start, end] inclusive across parts, about BATCH bytes at a time."""
    for part, lo, hi in _spans(parts, start, end, BATCH_STEP):
        yield await rt.run(read_plain, rt, region, part, lo, hi)
