"""SRM1: one part (one blob) sealed twice, in segments, with random access on read.

Layer 1 (service key) is AES-256-GCM, layer 2 (infrastructure key) is ChaCha20-Poly1305 over
exactly one layer-1 segment, so plaintext segment ``i`` lives at blob offset
``HEADER_LEN + i * (P + OVERHEAD)``. docs/FORMAT.md describes the bytes.
"""

from __future__ import annotations

import struct
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from strongroom.crypto import aead
from strongroom.crypto.aead import (
    CIPHER_AES256GCM,
    CIPHER_CHACHA20POLY1305,
    TAG_LEN,
    DataKey,
    hkdf_sha256,
    reject,
)

__all__ = [
    "FORMAT_VERSION",
    "HEADER_LEN",
    "LAYER_INFRA",
    "LAYER_SERVICE",
    "MAGIC",
    "OVERHEAD",
    "SEGMENT_SIZE",
    "PartOpener",
    "PartSealer",
    "object_identity",
    "sealed_size",
    "segment_count",
]

MAGIC = b"SRM1"
FORMAT_VERSION = 1
SEGMENT_SIZE = 65536
HEADER_LEN = 48
OVERHEAD = 2 * TAG_LEN
LAYER_SERVICE = 1
LAYER_INFRA = 2

SALT_LEN = 32
PREFIX_LEN = 7
MIN_LOG2_SEGMENT = 12
MAX_LOG2_SEGMENT = 24
MAX_SEGMENTS = 1 << 32  # the segment index is a uint32 in every nonce

_LAYER_CIPHER = {LAYER_SERVICE: CIPHER_AES256GCM, LAYER_INFRA: CIPHER_CHACHA20POLY1305}
_HEADER = struct.Struct(">4sBBBB32s7sB")
_TAIL = struct.Struct(">IB")  # segment index, final flag: the last 5 bytes of every nonce and AAD
assert _HEADER.size == HEADER_LEN


def object_identity(bucket_id: uuid.UUID, key: str, version_id: str, part_number: int) -> bytes:
    """The bytes that bind ciphertext and wrapped keys to one part of one object version.

    ``bucket_id.bytes || u32(len key) || key utf-8 || u16(len version) || version ascii || u32(part)``.
    """
    if not isinstance(bucket_id, uuid.UUID):
        raise TypeError("bucket_id must be a uuid.UUID")
    key_bytes = key.encode("utf-8")
    version_bytes = version_id.encode("ascii")
    if len(key_bytes) > 0xFFFFFFFF:
        raise ValueError("object key too long")
    if len(version_bytes) > 0xFFFF:
        raise ValueError("version id too long")
    if not 0 <= part_number <= 0xFFFFFFFF:
        raise ValueError("part number out of range")
    return b"".join(
        (
            bucket_id.bytes,
            struct.pack(">I", len(key_bytes)),
            key_bytes,
            struct.pack(">H", len(version_bytes)),
            version_bytes,
            struct.pack(">I", part_number),
        )
    )


def _log2_segment(segment_size: int) -> int:
    log2 = segment_size.bit_length() - 1
    if segment_size != 1 << log2 or not MIN_LOG2_SEGMENT <= log2 <= MAX_LOG2_SEGMENT:
        raise ValueError("segment size must be a power of two between 4 KiB and 16 MiB")
    return log2


def segment_count(plaintext_size: int, segment_size: int = SEGMENT_SIZE) -> int:
    """Number of segments of a part: ``max(1, ceil(n / P))`` (an empty part has one empty segment)."""
    if plaintext_size < 0:
        raise ValueError("plaintext size must be >= 0")
    return max(1, -(-plaintext_size // segment_size))


def sealed_size(plaintext_size: int, segment_size: int = SEGMENT_SIZE) -> int:
    """Blob length for a part of ``plaintext_size`` bytes."""
    return HEADER_LEN + segment_count(plaintext_size, segment_size) * OVERHEAD + plaintext_size


def _stream_key(dek: DataKey, header: bytes, layer: int, cipher: int, log2: int, identity: bytes) -> bytes:
    info = MAGIC + bytes((layer, cipher, log2)) + identity
    return hkdf_sha256(dek.material(), header[8:40], info, 32)


def _new_header(layer: int, log2: int) -> bytes:
    salt = aead.random_bytes(SALT_LEN)
    prefix = aead.random_bytes(PREFIX_LEN)
    if len(salt) != SALT_LEN or len(prefix) != PREFIX_LEN:
        raise RuntimeError("random_bytes returned the wrong length")
    return _HEADER.pack(MAGIC, FORMAT_VERSION, layer, _LAYER_CIPHER[layer], log2, salt, prefix, 0)


def _parse_header(header: bytes, layer: int) -> int:
    """Validate a header for ``layer``; return its log2(segment size). Malformed -> DecryptionFailed."""
    if len(header) != HEADER_LEN:
        reject("header length")
    magic, version, hlayer, cipher, log2, _salt, _prefix, reserved = _HEADER.unpack(header)
    if (
        magic != MAGIC
        or version != FORMAT_VERSION
        or hlayer != layer
        or cipher != _LAYER_CIPHER[layer]
        or not MIN_LOG2_SEGMENT <= log2 <= MAX_LOG2_SEGMENT
        or reserved != 0
    ):
        reject("malformed header")
    return int(log2)


def _as_bytes(value: bytes, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"{name} must be bytes")
    return bytes(value)


class PartSealer:
    """Seals one part (one blob) in two layers, incrementally, with bounded memory.

    Write :meth:`header` first, then everything :meth:`update` and :meth:`finish` return, in order.
    At most one segment of plaintext is buffered: the last full segment is held back until more
    data arrives or :meth:`finish` is called, because only then is its final flag known.
    A sealer seals exactly one part; after :meth:`finish` it refuses further use. Not thread-safe.
    """

    inner_header: bytes
    outer_header: bytes
    plaintext_size: int
    segment_size: int

    def __init__(self, dek1: DataKey, dek2: DataKey, identity: bytes, segment_size: int = SEGMENT_SIZE) -> None:
        if not isinstance(dek1, DataKey) or not isinstance(dek2, DataKey):
            raise TypeError("dek1 and dek2 must be DataKey")
        identity = _as_bytes(identity, "identity")
        log2 = _log2_segment(segment_size)
        self.segment_size = segment_size
        self.inner_header = _new_header(LAYER_SERVICE, log2)
        self.outer_header = _new_header(LAYER_INFRA, log2)
        self._aead1 = AESGCM(_stream_key(dek1, self.inner_header, LAYER_SERVICE, CIPHER_AES256GCM, log2, identity))
        self._aead2 = ChaCha20Poly1305(
            _stream_key(dek2, self.outer_header, LAYER_INFRA, CIPHER_CHACHA20POLY1305, log2, identity)
        )
        self._prefix1 = self.inner_header[40:47]
        self._prefix2 = self.outer_header[40:47]
        self._inner: bytearray | None = None  # layer-1 output buffer, reused across full segments (made on first use)
        self._pending = bytearray()  # plaintext not yet sealed: at most one segment
        self._index = 0  # index of the next segment to seal
        self._finished = False
        self.plaintext_size = 0

    def header(self) -> bytes:
        """The 48-byte outer header: the first bytes of the blob."""
        return self.outer_header

    def _seal(self, chunk: bytes | bytearray | memoryview, final: bool) -> bytes:
        tail = _TAIL.pack(self._index, final)
        n = len(chunk)
        if n == self.segment_size:
            if self._inner is None:
                self._inner = bytearray(n + TAG_LEN)
            inner = self._inner
        else:  # the final, short segment: a small object's only one (no 64 KiB buffer to zero for it)
            inner = bytearray(n + TAG_LEN)
        self._aead1.encrypt_into(self._prefix1 + tail, chunk, self.inner_header + tail, inner)
        self._index += 1
        return self._aead2.encrypt(self._prefix2 + tail, inner, self.outer_header + tail)

    def update(self, data: bytes | bytearray | memoryview) -> bytes:
        """Feed plaintext; return the sealed segments completed so far (possibly ``b""``)."""
        if self._finished:
            raise RuntimeError("PartSealer already finished")
        view = memoryview(data).cast("B")
        n = len(view)
        if n == 0:
            return b""
        size = self.segment_size
        pending = self._pending
        total = len(pending) + n
        ready = (total - 1) // size  # full segments with at least one byte after them
        if self._index + ready >= MAX_SEGMENTS:
            raise ValueError("part too large for SRM1")
        self.plaintext_size += n
        if ready == 0:
            pending += view
            return b""
        out: list[bytes] = []
        pos = 0
        if pending:
            pos = size - len(pending)
            pending += view[:pos]
            out.append(self._seal(pending, False))
            pending.clear()
        for _ in range(len(out), ready):
            out.append(self._seal(view[pos : pos + size], False))
            pos += size
        pending += view[pos:]
        return out[0] if len(out) == 1 else b"".join(out)

    def finish(self) -> bytes:
        """Seal and return the final segment (32 bytes for an empty part). The sealer is then spent."""
        if self._finished:
            raise RuntimeError("PartSealer already finished")
        self._finished = True
        pending = self._pending
        sealed = self._seal(pending, True)
        pending[:] = bytes(len(pending))  # best-effort scrub of buffered plaintext
        pending.clear()
        return sealed


class PartOpener:
    """Opens the segments of one sealed part, with random access by segment index.

    Both headers come from the metadata row; ``plaintext_size`` too. The size is not trusted
    blindly: it fixes every segment's length and which segment carries the final flag, and both
    are authenticated, so a wrong size fails decryption. Safe to share between threads.
    """

    segment_size: int
    plaintext_size: int

    def __init__(
        self,
        dek1: DataKey,
        dek2: DataKey,
        identity: bytes,
        inner_header: bytes,
        outer_header: bytes,
        plaintext_size: int,
    ) -> None:
        if not isinstance(dek1, DataKey) or not isinstance(dek2, DataKey):
            raise TypeError("dek1 and dek2 must be DataKey")
        identity = _as_bytes(identity, "identity")
        inner_header = _as_bytes(inner_header, "inner_header")
        outer_header = _as_bytes(outer_header, "outer_header")
        log2 = _parse_header(inner_header, LAYER_SERVICE)
        if _parse_header(outer_header, LAYER_INFRA) != log2:
            reject("headers disagree on segment size")
        if not isinstance(plaintext_size, int) or plaintext_size < 0:
            reject("bad plaintext size")
        size = 1 << log2
        count = segment_count(plaintext_size, size)
        if count > MAX_SEGMENTS:
            reject("bad plaintext size")
        self.segment_size = size
        self.plaintext_size = plaintext_size
        self.inner_header = inner_header
        self.outer_header = outer_header
        self._last = count - 1
        self._final_len = plaintext_size - self._last * size  # plaintext bytes in the final segment
        self._aead1 = AESGCM(_stream_key(dek1, inner_header, LAYER_SERVICE, CIPHER_AES256GCM, log2, identity))
        self._aead2 = ChaCha20Poly1305(
            _stream_key(dek2, outer_header, LAYER_INFRA, CIPHER_CHACHA20POLY1305, log2, identity)
        )
        self._prefix1 = inner_header[40:47]
        self._prefix2 = outer_header[40:47]

    def _length_of(self, first: int, last: int) -> int:
        """Sealed length of segments ``first..last``, or -1 if they are not segments of this part."""
        if not 0 <= first <= last <= self._last:
            return -1
        last_len = (self._final_len if last == self._last else self.segment_size) + OVERHEAD
        return (last - first) * (self.segment_size + OVERHEAD) + last_len

    def span(self, start: int, end: int) -> tuple[int, int, int, int]:
        """Outer segments covering plaintext bytes ``[start, end]`` (inclusive).

        Returns ``(first_segment, last_segment, blob_offset, blob_length)``.
        """
        if not 0 <= start <= end < self.plaintext_size:
            raise ValueError("range outside the part")
        size = self.segment_size
        first, last = start // size, end // size
        return first, last, HEADER_LEN + first * (size + OVERHEAD), self._length_of(first, last)

    def open(
        self, first_segment: int, sealed: bytes | bytearray | memoryview, *, last_segment: int | None = None
    ) -> bytes:
        """Decrypt consecutive outer segments starting at ``first_segment``; return their plaintext.

        ``sealed`` must hold whole segments. All or nothing: any length, order, final-flag or tag
        failure raises :class:`DecryptionFailed` and no plaintext is returned.

        A prefix of a part's segments is a valid range, so a blob store that returns fewer bytes
        than :meth:`span` asked for cannot be told apart from a shorter request. Pass
        ``last_segment`` (from :meth:`span`) to have a short read rejected here; otherwise the
        caller must check that it read the whole ``blob_length``.
        """
        if first_segment < 0:
            raise ValueError("segment index must be >= 0")
        view = memoryview(sealed).cast("B")
        total = len(view)
        if total == 0:
            reject("no segments")
        if last_segment is not None and total != self._length_of(first_segment, last_segment):
            reject("sealed length differs from the requested segments")
        size = self.segment_size
        inner = memoryview(bytearray(size + TAG_LEN))
        out: list[bytes] = []
        index = first_segment
        pos = 0
        while pos < total:
            if index > self._last:
                reject("bytes after the final segment")
            final = index == self._last
            seg_len = (self._final_len if final else size) + OVERHEAD
            if total - pos < seg_len:
                reject("truncated segment")
            tail = _TAIL.pack(index, final)
            buf = inner[: seg_len - TAG_LEN]
            try:
                self._aead2.decrypt_into(self._prefix2 + tail, view[pos : pos + seg_len], self.outer_header + tail, buf)
                out.append(self._aead1.decrypt(self._prefix1 + tail, buf, self.inner_header + tail))
            except InvalidTag:
                reject(f"tag mismatch in segment {index}")
            pos += seg_len
            index += 1
        return out[0] if len(out) == 1 else b"".join(out)

    def open_all(self, blob: bytes | bytearray | memoryview) -> bytes:
        """Open a whole blob: checks its length and header, then every segment."""
        view = memoryview(blob).cast("B")
        if len(view) != sealed_size(self.plaintext_size, self.segment_size):
            reject("blob length")
        if view[:HEADER_LEN] != self.outer_header:
            reject("blob header differs from metadata")
        return self.open(0, view[HEADER_LEN:])
