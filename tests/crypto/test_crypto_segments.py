"""SRM1 segments: round trips, sizes, ranges, streaming behaviour."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.core.errors import DecryptionFailed
from strongroom.crypto import (
    HEADER_LEN,
    OVERHEAD,
    SEGMENT_SIZE,
    DataKey,
    PartOpener,
    PartSealer,
    object_identity,
    sealed_size,
    segment_count,
)

P = SEGMENT_SIZE
SMALL = 4096  # smallest allowed segment size: many segments from little data
BUCKET = uuid.UUID("6f1c2a52-52c4-4a0e-9d0c-3b7f3d1f8a10")
IDENTITY = object_identity(BUCKET, "dir/obj", "v1", 1)
DEK1 = DataKey(bytes(range(32)))
DEK2 = DataKey(bytes(range(100, 132)))


def seal(
    plaintext: bytes, segment_size: int = P, chunks: list[int] | None = None
) -> tuple[bytes, PartSealer]:
    sealer = PartSealer(DEK1, DEK2, IDENTITY, segment_size)
    out = [sealer.header()]
    if chunks is None:
        out.append(sealer.update(plaintext))
    else:
        pos = 0
        for c in chunks:
            out.append(sealer.update(memoryview(plaintext)[pos : pos + c]))
            pos += c
        out.append(sealer.update(plaintext[pos:]))
    out.append(sealer.finish())
    return b"".join(out), sealer


def opener_for(sealer: PartSealer, **kw: Any) -> PartOpener:
    args: dict[str, Any] = dict(
        dek1=DEK1,
        dek2=DEK2,
        identity=IDENTITY,
        inner_header=sealer.inner_header,
        outer_header=sealer.outer_header,
        plaintext_size=sealer.plaintext_size,
    )
    args.update(kw)
    return PartOpener(**args)


@pytest.mark.parametrize("n", [0, 1, P - 1, P, P + 1, 2 * P, 3 * P + 7])
def test_round_trip_boundaries(n: int) -> None:
    plaintext = os.urandom(n)
    blob, sealer = seal(plaintext)
    assert sealer.plaintext_size == n
    assert len(blob) == sealed_size(n) == HEADER_LEN + segment_count(n) * OVERHEAD + n
    assert blob[:HEADER_LEN] == sealer.outer_header == sealer.header()
    assert opener_for(sealer).open_all(blob) == plaintext


def test_sizes() -> None:
    assert segment_count(0) == 1
    assert segment_count(1) == 1
    assert segment_count(P) == 1
    assert segment_count(P + 1) == 2
    assert sealed_size(0) == HEADER_LEN + 32
    assert sealed_size(P) == HEADER_LEN + P + 32
    assert sealed_size(10, SMALL) == HEADER_LEN + 42
    assert sealed_size(2 * SMALL + 1, SMALL) == HEADER_LEN + 3 * 32 + 2 * SMALL + 1


def test_empty_part_is_one_short_final_segment() -> None:
    blob, sealer = seal(b"")
    assert len(blob) == HEADER_LEN + 32
    assert opener_for(sealer).open_all(blob) == b""
    assert opener_for(sealer).open(0, blob[HEADER_LEN:]) == b""


def test_update_holds_back_last_full_segment() -> None:
    sealer = PartSealer(DEK1, DEK2, IDENTITY, SMALL)
    assert sealer.update(b"") == b""
    assert sealer.update(b"a" * SMALL) == b""  # full, but its final flag is not known yet
    out = sealer.update(b"b")
    assert len(out) == SMALL + 32
    assert sealer.update(b"c" * (SMALL - 1)) == b""
    out = sealer.update(bytearray(b"d" * (3 * SMALL)))
    assert len(out) == 3 * (SMALL + 32)
    assert len(sealer.finish()) == SMALL + 32
    assert sealer.plaintext_size == 5 * SMALL


def test_sealer_refuses_reuse() -> None:
    sealer = PartSealer(DEK1, DEK2, IDENTITY)
    sealer.update(b"data")
    sealer.finish()
    with pytest.raises(RuntimeError):
        sealer.update(b"more")
    with pytest.raises(RuntimeError):
        sealer.finish()


def test_fresh_headers_per_part() -> None:
    a = PartSealer(DEK1, DEK2, IDENTITY)
    b = PartSealer(DEK1, DEK2, IDENTITY)
    assert a.inner_header != b.inner_header and a.outer_header != b.outer_header
    assert a.inner_header[8:40] != a.outer_header[8:40]  # salts drawn per layer


@pytest.mark.parametrize("size", [0, 1000, 2**11, 2**12 - 1, 2**25, 3 * 2**12])
def test_bad_segment_size_rejected(size: int) -> None:
    with pytest.raises(ValueError):
        PartSealer(DEK1, DEK2, IDENTITY, size)


def test_segment_size_limits_accepted() -> None:
    for log2 in (12, 24):
        blob, sealer = seal(b"xyz", 1 << log2)
        assert opener_for(sealer).segment_size == 1 << log2
        assert opener_for(sealer).open_all(blob) == b"xyz"


def test_object_identity_layout() -> None:
    ident = object_identity(BUCKET, "é", "v", 7)
    assert ident == BUCKET.bytes + b"\x00\x00\x00\x02" + "é".encode() + b"\x00\x01v" + b"\x00\x00\x00\x07"
    with pytest.raises(ValueError):
        object_identity(BUCKET, "k", "vé", 1)  # version ids are ASCII
    with pytest.raises(ValueError):
        object_identity(BUCKET, "k", "v", 2**32)
    with pytest.raises(TypeError):
        object_identity(str(BUCKET), "k", "v", 1)  # type: ignore[arg-type]


def test_span_examples() -> None:
    n = 3 * SMALL + 7
    _, sealer = seal(os.urandom(n), SMALL)
    o = opener_for(sealer)
    stride = SMALL + 32
    assert o.span(0, 0) == (0, 0, HEADER_LEN, stride)
    assert o.span(SMALL - 1, SMALL) == (0, 1, HEADER_LEN, 2 * stride)
    assert o.span(SMALL, n - 1) == (1, 3, HEADER_LEN + stride, 2 * stride + 7 + 32)
    assert o.span(n - 1, n - 1) == (3, 3, HEADER_LEN + 3 * stride, 39)
    for bad in ((-1, 0), (5, 4), (0, n)):
        with pytest.raises(ValueError):
            o.span(*bad)


def test_open_rejects_partial_and_misaligned_input() -> None:
    n = 2 * SMALL + 5
    blob, sealer = seal(os.urandom(n), SMALL)
    o = opener_for(sealer)
    body = blob[HEADER_LEN:]
    stride = SMALL + 32
    for bad in (body[:-1], body[1:], body[: stride - 1], body[stride:-1], b""):
        with pytest.raises(DecryptionFailed):
            o.open(0, bad)
    with pytest.raises(DecryptionFailed):
        o.open(1, body)  # right bytes, wrong starting index
    with pytest.raises(DecryptionFailed):
        o.open(3, body[2 * stride :])  # past the final segment
    with pytest.raises(ValueError):
        o.open(-1, body)


def test_random_access_survives_damage_elsewhere() -> None:
    n = 4 * SMALL
    plaintext = os.urandom(n)
    blob, sealer = seal(plaintext, SMALL)
    damaged = bytearray(blob)
    damaged[HEADER_LEN + 10] ^= 1  # segment 0
    o = opener_for(sealer)
    first, last, off, length = o.span(SMALL, 2 * SMALL - 1)
    assert o.open(first, damaged[off : off + length]) == plaintext[SMALL : 2 * SMALL]
    first, _, off, length = o.span(0, 10)
    with pytest.raises(DecryptionFailed):
        o.open(first, damaged[off : off + length])


def test_no_plaintext_in_blob() -> None:
    plaintext = (b"STRONGROOM-KNOWN-PATTERN-" * 1000)[: 3 * SMALL]
    blob, _ = seal(plaintext, SMALL)
    for i in range(0, len(plaintext) - 16, 16):
        assert plaintext[i : i + 16] not in blob


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=0, max_value=5 * SMALL + 3),
    chunks=st.lists(st.integers(min_value=0, max_value=3 * SMALL), max_size=8),
    data=st.data(),
)
def test_property_round_trip_and_ranges(n: int, chunks: list[int], data: st.DataObject) -> None:
    plaintext = os.urandom(n)
    blob, sealer = seal(plaintext, SMALL, chunks)
    assert len(blob) == sealed_size(n, SMALL)
    o = opener_for(sealer)
    assert o.open_all(blob) == plaintext
    if n == 0:
        return
    for _ in range(3):
        start = data.draw(st.integers(min_value=0, max_value=n - 1))
        end = data.draw(st.integers(min_value=start, max_value=n - 1))
        first, last, off, length = o.span(start, end)
        assert off + length <= len(blob)
        segment = o.open(first, memoryview(blob)[off : off + length], last_segment=last)
        assert segment == o.open(first, blob[off : off + length])
        assert len(segment) == min(n, (last + 1) * SMALL) - first * SMALL
        lo = start - first * SMALL
        assert segment[lo : lo + end - start + 1] == plaintext[start : end + 1]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(min_value=0, max_value=3 * P + 100), feed=st.integers(min_value=1, max_value=2 * P + 3))
def test_property_default_segment_size(n: int, feed: int) -> None:
    plaintext = os.urandom(n)
    blob, sealer = seal(plaintext, P, [feed] * (n // feed))
    assert opener_for(sealer).open_all(blob) == plaintext
