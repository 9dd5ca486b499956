"""SRM1 rejection paths: every tampering of blob or metadata raises DecryptionFailed, never plaintext."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from strongroom.core.errors import DecryptionFailed
from strongroom.crypto import HEADER_LEN, DataKey, PartOpener, PartSealer, aead, object_identity

P = 4096
STRIDE = P + 32
N = 3 * P + 100  # three full segments and a short final one
BUCKET = uuid.UUID("0b8e7d4c-1a2b-4c3d-8e9f-a0b1c2d3e4f5")
IDENTITY = object_identity(BUCKET, "k", "v1", 1)
DEK1 = DataKey(b"\x11" * 32)
DEK2 = DataKey(b"\x22" * 32)
PLAINTEXT = os.urandom(N)


class Part:
    def __init__(
        self, plaintext: bytes, identity: bytes = IDENTITY, dek1: DataKey = DEK1, dek2: DataKey = DEK2
    ) -> None:
        sealer = PartSealer(dek1, dek2, identity, P)
        self.blob = sealer.header() + sealer.update(plaintext) + sealer.finish()
        self.inner_header = sealer.inner_header
        self.outer_header = sealer.outer_header
        self.size = len(plaintext)
        self.identity = identity
        self.dek1, self.dek2 = dek1, dek2

    @property
    def segments(self) -> list[bytes]:
        body = self.blob[HEADER_LEN:]
        return [body[i : i + STRIDE] for i in range(0, len(body), STRIDE)]

    def opener(self, **kw: Any) -> PartOpener:
        args: dict[str, Any] = dict(
            dek1=self.dek1,
            dek2=self.dek2,
            identity=self.identity,
            inner_header=self.inner_header,
            outer_header=self.outer_header,
            plaintext_size=self.size,
        )
        args.update(kw)
        return PartOpener(**args)


def rejected(fn: Callable[[], object]) -> None:
    with pytest.raises(DecryptionFailed) as info:
        fn()
    assert str(info.value) == str(DecryptionFailed())  # one opaque message, no details


@pytest.fixture(scope="module")
def part() -> Part:
    return Part(PLAINTEXT)


@pytest.fixture
def fixed_random(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same salts and nonce prefixes for every sealer: only the identity tells parts apart."""
    monkeypatch.setattr(aead, "random_bytes", lambda n: bytes([0x5A]) * n)


def test_sanity(part: Part) -> None:
    assert part.opener().open_all(part.blob) == PLAINTEXT
    assert len(part.segments) == 4


def test_flip_every_byte_of_blob(part: Part) -> None:
    opener = part.opener()
    for pos in range(len(part.blob)):
        damaged = bytearray(part.blob)
        damaged[pos] ^= 1 << (pos % 8)
        rejected(lambda: opener.open_all(damaged))
        if pos >= HEADER_LEN:  # a range read of the damaged segment alone fails too
            index = (pos - HEADER_LEN) // STRIDE
            start = HEADER_LEN + index * STRIDE
            rejected(lambda: opener.open(index, damaged[start : start + STRIDE]))


@pytest.mark.parametrize("offset", [0, 17, P - 1, P, P + 15, STRIDE - 1])  # data, GCM tag, Poly1305 tag
@pytest.mark.parametrize("index", [0, 3])
def test_flip_bits_in_segment_and_tags(part: Part, index: int, offset: int) -> None:
    seg = part.segments[index]
    if offset >= len(seg):
        offset = len(seg) - 1 - (STRIDE - 1 - offset)
    for bit in (0, 7):
        damaged = bytearray(seg)
        damaged[offset] ^= 1 << bit
        rejected(lambda: part.opener().open(index, damaged))


def test_flip_every_bit_of_metadata_headers(part: Part) -> None:
    for which in ("inner_header", "outer_header"):
        header = getattr(part, which)
        for bit in range(len(header) * 8):
            damaged = bytearray(header)
            damaged[bit // 8] ^= 1 << (bit % 8)
            rejected(lambda: part.opener(**{which: bytes(damaged)}).open_all(part.blob))


def test_malformed_headers_rejected_at_construction(part: Part) -> None:
    rejected(lambda: part.opener(inner_header=part.outer_header, outer_header=part.inner_header))
    rejected(lambda: part.opener(inner_header=part.inner_header[:-1]))
    rejected(lambda: part.opener(outer_header=part.outer_header + b"\x00"))
    other = Part(b"x", identity=IDENTITY)
    small = PartSealer(DEK1, DEK2, IDENTITY, 8192)
    rejected(lambda: part.opener(outer_header=small.outer_header))  # segment sizes disagree
    assert other.inner_header != part.inner_header


BLOB_LEN = HEADER_LEN + 3 * STRIDE + 132


def truncations() -> Iterator[int]:
    yield from (0, 10, HEADER_LEN - 1)
    for i in range(4):
        boundary = HEADER_LEN + i * STRIDE
        yield from (boundary, boundary + 1, boundary + 100, boundary + 131)
        if i < 3:
            yield from (boundary + STRIDE // 2, boundary + STRIDE - 1)


@pytest.mark.parametrize("length", list(truncations()))
def test_truncation(part: Part, length: int) -> None:
    assert len(part.blob) == BLOB_LEN
    cut = part.blob[:length]
    rejected(lambda: part.opener().open_all(cut))
    rejected(lambda: part.opener().open(0, cut[HEADER_LEN:], last_segment=3))
    if (length - HEADER_LEN) % STRIDE:  # cut inside a segment: rejected even without last_segment
        rejected(lambda: part.opener().open(0, cut[HEADER_LEN:]))


def test_prefix_of_segments_is_a_valid_range(part: Part) -> None:
    """Why open() takes last_segment: a cut at a boundary looks exactly like a shorter range read."""
    cut = part.blob[HEADER_LEN : HEADER_LEN + 2 * STRIDE]
    assert part.opener().open(0, cut) == PLAINTEXT[: 2 * P]
    assert part.opener().open(0, cut, last_segment=1) == PLAINTEXT[: 2 * P]
    rejected(lambda: part.opener().open(0, cut, last_segment=2))
    rejected(lambda: part.opener().open(0, cut, last_segment=0))
    rejected(lambda: part.opener().open(0, cut, last_segment=4))


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_missing_final_segment_even_with_consistent_size(part: Part, keep: int) -> None:
    """A blob cut at a segment boundary, with a size that matches the cut: the final flag catches it."""
    cut = part.blob[: HEADER_LEN + keep * STRIDE]
    rejected(lambda: part.opener(plaintext_size=keep * P).open_all(cut))


@pytest.mark.parametrize("delta", [-P - 1, -P, -1, 1, P, P + 1])
def test_wrong_plaintext_size(part: Part, delta: int) -> None:
    rejected(lambda: part.opener(plaintext_size=N + delta).open(0, part.blob[HEADER_LEN:]))


def reassemble(part: Part, segments: list[bytes]) -> bytes:
    return part.blob[:HEADER_LEN] + b"".join(segments)


@pytest.mark.parametrize("drop", [0, 1, 2, 3])
def test_drop_segment(part: Part, drop: int) -> None:
    segs = part.segments
    del segs[drop]
    blob = reassemble(part, segs)
    rejected(lambda: part.opener().open_all(blob))
    size = N - P if drop < 3 else 3 * P  # a size consistent with what is left
    rejected(lambda: part.opener(plaintext_size=size).open_all(blob))


@pytest.mark.parametrize("dup", [0, 1, 2, 3])
def test_duplicate_segment(part: Part, dup: int) -> None:
    segs = part.segments
    segs.insert(dup, segs[dup])
    blob = reassemble(part, segs)
    rejected(lambda: part.opener().open_all(blob))
    if dup < 3:
        rejected(lambda: part.opener(plaintext_size=N + P).open_all(blob))


@pytest.mark.parametrize(("a", "b"), [(0, 1), (1, 2), (0, 2), (2, 3)])
def test_swap_segments(part: Part, a: int, b: int) -> None:
    segs = part.segments
    segs[a], segs[b] = segs[b], segs[a]
    rejected(lambda: part.opener().open_all(reassemble(part, segs)))
    rejected(lambda: part.opener().open(a, segs[a]))
    rejected(lambda: part.opener().open(b, segs[b]))


@pytest.mark.parametrize("extra", [b"\x00", b"\x00" * 32, None])
def test_appended_bytes(part: Part, extra: bytes | None) -> None:
    tail = part.segments[-1] if extra is None else extra
    rejected(lambda: part.opener().open_all(part.blob + tail))
    rejected(lambda: part.opener().open(0, part.blob[HEADER_LEN:] + tail))
    rejected(lambda: part.opener().open(3, part.segments[3] + tail))


OTHER_IDENTITIES = {
    "other key": object_identity(BUCKET, "k2", "v1", 1),
    "other version": object_identity(BUCKET, "k", "v2", 1),
    "other part": object_identity(BUCKET, "k", "v1", 2),
    "other bucket": object_identity(uuid.UUID(int=BUCKET.int ^ 1), "k", "v1", 1),
}


@pytest.mark.usefixtures("fixed_random")
@pytest.mark.parametrize("name", sorted(OTHER_IDENTITIES))
def test_splice_from_other_identity(name: str) -> None:
    mine = Part(PLAINTEXT)
    twin = Part(PLAINTEXT)
    assert twin.blob == mine.blob  # same keys and randomness: identity is the only difference below
    other = Part(PLAINTEXT, identity=OTHER_IDENTITIES[name])
    assert other.outer_header == mine.outer_header and other.inner_header == mine.inner_header
    for index in range(4):
        segs = mine.segments
        segs[index] = other.segments[index]
        rejected(lambda: mine.opener().open_all(reassemble(mine, segs)))
        rejected(lambda: mine.opener().open(index, other.segments[index]))
    rejected(lambda: mine.opener().open_all(other.blob))  # whole blob swapped
    rejected(lambda: other.opener().open_all(mine.blob))


def test_swap_whole_blobs_between_objects() -> None:
    a = Part(PLAINTEXT, identity=OTHER_IDENTITIES["other key"])
    b = Part(PLAINTEXT, identity=IDENTITY)
    rejected(lambda: a.opener().open_all(b.blob))
    rejected(lambda: b.opener().open_all(a.blob))
    # even with the blob's own headers copied into the victim's metadata row
    rejected(lambda: a.opener(inner_header=b.inner_header, outer_header=b.outer_header).open_all(b.blob))


def test_splice_segment_from_other_part_same_identity(part: Part) -> None:
    """A second upload of the same part (new salts) cannot lend segments to the first."""
    again = Part(PLAINTEXT)
    segs = part.segments
    segs[1] = again.segments[1]
    rejected(lambda: part.opener().open_all(reassemble(part, segs)))


def test_wrong_inner_header_from_metadata(part: Part) -> None:
    again = Part(PLAINTEXT)
    rejected(lambda: part.opener(inner_header=again.inner_header).open_all(part.blob))
    rejected(lambda: part.opener(outer_header=again.outer_header).open(0, part.blob[HEADER_LEN:]))


def test_either_key_alone_decrypts_nothing(part: Part) -> None:
    wrong = DataKey.generate()
    rejected(lambda: part.opener(dek1=wrong).open_all(part.blob))
    rejected(lambda: part.opener(dek2=wrong).open_all(part.blob))
    rejected(lambda: part.opener(dek1=DEK2, dek2=DEK1).open_all(part.blob))
    for index in range(4):
        seg = part.segments[index]
        rejected(lambda: part.opener(dek1=wrong).open(index, seg))
        rejected(lambda: part.opener(dek2=wrong).open(index, seg))


def test_wrong_identity(part: Part) -> None:
    for ident in OTHER_IDENTITIES.values():
        rejected(lambda: part.opener(identity=ident).open_all(part.blob))
