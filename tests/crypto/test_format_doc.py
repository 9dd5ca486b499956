"""THE DOC TEST: decrypt SRM1 blobs with raw `cryptography` primitives, following docs/FORMAT.md.

strongroom is used only to *produce* blobs and wrapped keys; everything on the reading side below is
written from the document (section numbers refer to docs/FORMAT.md). The known-answer vectors are
the ones published in FORMAT.md section 9, so the format cannot drift silently.
"""

from __future__ import annotations

import hashlib
import os
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.crypto import (
    DataKey,
    PartSealer,
    customer_kek,
    customer_verifier,
    object_identity,
    wrap_dek,
)
from strongroom.crypto import aead as strongroom_aead

# --- the reader, from FORMAT.md ------------------------------------------------------------------


class Rejected(Exception):
    pass


def doc_identity(bucket_id: uuid.UUID, key: str, version_id: str, part_number: int) -> bytes:
    """Section 2."""
    k = key.encode("utf-8")
    v = version_id.encode("ascii")
    return (
        bucket_id.bytes
        + struct.pack(">I", len(k))
        + k
        + struct.pack(">H", len(v))
        + v
        + struct.pack(">I", part_number)
    )


def doc_hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


@dataclass(frozen=True)
class Header:
    raw: bytes
    layer: int
    cipher: int
    log2: int
    salt: bytes
    prefix: bytes


def doc_parse_header(raw: bytes, layer: int) -> Header:
    """Section 3 (layout) and section 7 (rejections)."""
    if len(raw) != 48:
        raise Rejected("header length")
    magic, version, hlayer, cipher, log2, salt, prefix, reserved = struct.unpack(">4sBBBB32s7sB", raw)
    if magic != b"SRM1" or version != 1 or hlayer != layer or cipher != layer or reserved != 0:
        raise Rejected("header fields")  # layer 1 uses cipher 1 (AES-256-GCM), layer 2 cipher 2
    if not 12 <= log2 <= 24:
        raise Rejected("segment size")
    return Header(raw, hlayer, cipher, log2, salt, prefix)


def doc_stream_key(dek: bytes, h: Header, identity: bytes) -> bytes:
    """Section 4."""
    return doc_hkdf(dek, h.salt, b"SRM1" + bytes([h.layer, h.cipher, h.log2]) + identity)


def doc_open(
    blob: bytes, inner_header: bytes, dek1: bytes, dek2: bytes, identity: bytes, plaintext_size: int
) -> bytes:
    """Sections 5-7: the whole-blob read."""
    h2 = doc_parse_header(blob[:48], 2)
    h1 = doc_parse_header(inner_header, 1)
    if h1.log2 != h2.log2:
        raise Rejected("segment sizes differ")
    P = 1 << h1.log2
    count = max(1, -(-plaintext_size // P))
    if len(blob) != 48 + count * 32 + plaintext_size:
        raise Rejected("blob length")
    aes = AESGCM(doc_stream_key(dek1, h1, identity))
    chacha = ChaCha20Poly1305(doc_stream_key(dek2, h2, identity))
    out = []
    for i in range(count):
        final = 1 if i == count - 1 else 0
        n = plaintext_size - i * P if final else P
        start = 48 + i * (P + 32)
        segment = blob[start : start + n + 32]
        tail = struct.pack(">IB", i, final)
        try:
            inner = chacha.decrypt(h2.prefix + tail, segment, h2.raw + tail)
            out.append(aes.decrypt(h1.prefix + tail, inner, h1.raw + tail))
        except InvalidTag as exc:
            raise Rejected("tag") from exc
    return b"".join(out)


def doc_unwrap(
    kek: bytes, wrapped: bytes, layer: int, key_id: str, key_version: int, identity: bytes
) -> bytes:
    """Section 8."""
    k = key_id.encode("utf-8")
    aad = b"SRM1-wrap" + bytes([layer]) + struct.pack(">H", len(k)) + k + struct.pack(">I", key_version)
    return AESGCM(kek).decrypt(wrapped[:12], wrapped[12:], aad + identity)


# --- producing blobs with strongroom ---------------------------------------------------------------


def scripted_random(monkeypatch: pytest.MonkeyPatch, *values: bytes) -> None:
    """Make strongroom's randomness seam return ``values`` in order (checking each length)."""
    queue = list(values)

    def fake(n: int) -> bytes:
        value = queue.pop(0)
        assert len(value) == n
        return value

    monkeypatch.setattr(strongroom_aead, "random_bytes", fake)


def seal(
    dek1: DataKey, dek2: DataKey, identity: bytes, plaintext: bytes, segment_size: int
) -> tuple[bytes, bytes]:
    sealer = PartSealer(dek1, dek2, identity, segment_size)
    blob = sealer.header() + sealer.update(plaintext) + sealer.finish()
    return blob, sealer.inner_header


BUCKET = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")


@pytest.mark.parametrize("n", [0, 1, 4095, 4096, 4097, 3 * 4096 + 7, 70000])
@pytest.mark.parametrize("segment_size", [4096, 65536])
def test_doc_decrypts_strongroom_blobs(n: int, segment_size: int) -> None:
    dek1, dek2 = DataKey.generate(), DataKey.generate()
    identity = object_identity(BUCKET, "docs/é.bin", "v7", 3)
    assert identity == doc_identity(BUCKET, "docs/é.bin", "v7", 3)
    plaintext = os.urandom(n)
    blob, inner_header = seal(dek1, dek2, identity, plaintext, segment_size)
    assert doc_open(blob, inner_header, dek1.material(), dek2.material(), identity, n) == plaintext


def test_doc_rejects_what_it_says_it_rejects() -> None:
    dek1, dek2 = DataKey.generate(), DataKey.generate()
    identity = doc_identity(BUCKET, "k", "v", 1)
    blob, inner = seal(dek1, dek2, identity, os.urandom(2 * 4096 + 1), 4096)
    k1, k2 = dek1.material(), dek2.material()
    size = 2 * 4096 + 1
    stride = 4096 + 32
    cases: list[Callable[[], bytes]] = [
        lambda: doc_open(blob[:-1], inner, k1, k2, identity, size),
        lambda: doc_open(blob + b"\x00", inner, k1, k2, identity, size),
        lambda: doc_open(blob[: 48 + 2 * stride], inner, k1, k2, identity, 2 * 4096),  # final missing
        lambda: doc_open(blob, inner, k2, k1, identity, size),
        lambda: doc_open(blob, inner, k1, k2, doc_identity(BUCKET, "k", "v", 2), size),
        lambda: doc_open(blob[:48] + blob[48 + stride :], inner, k1, k2, identity, size - 4096),  # dropped
    ]
    for case in cases:
        with pytest.raises(Rejected):
            case()


# --- known answers (FORMAT.md section 9) -------------------------------------------------------------

KAT_DEK1 = bytes(range(0x00, 0x20))
KAT_DEK2 = bytes(range(0x20, 0x40))
KAT_INNER_SALT = bytes(range(0x40, 0x60))
KAT_INNER_PREFIX = bytes(range(0x60, 0x67))
KAT_OUTER_SALT = bytes(range(0x80, 0xA0))
KAT_OUTER_PREFIX = bytes(range(0xA0, 0xA7))
KAT_IDENTITY_ARGS = (BUCKET, "photos/2024/été.jpg", "v1", 1)
KAT_PLAINTEXT = bytes(i % 256 for i in range(10000))  # P = 4096: segments of 4096, 4096, 1808

KAT_IDENTITY_HEX = (
    "00112233445566778899aabbccddeeff0000001570686f746f732f323032342fc3a974c3a92e6a70670002763100000001"
)
KAT_INNER_HEADER_HEX = (
    "53524d310101010c404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f6061626364656600"
)
KAT_OUTER_HEADER_HEX = (
    "53524d310102020c808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a600"
)
KAT_BLOB_LEN = 10144
KAT_BLOB_SHA256 = "d5e52c43bef9d8f15ea780daa2e74d9d14e28fe23dfb41b57afb5abb7603df52"
KAT_EMPTY_BLOB_HEX = (
    "53524d3101020210808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a600"
    "56f4a3f58816a1e98bc9757066d2a1bcdaa63d890d7cff83aa2f7e29cfb3b936"
)

KAT_KEK = bytes(range(0xC0, 0xE0))
KAT_WRAP_NONCE = bytes(range(0xE0, 0xEC))
KAT_WRAPPED_HEX = (
    "e0e1e2e3e4e5e6e7e8e9eaeb"
    "ae749c304caf2161400b1887cef3416902e5bc97bae3304a1fc2f3a470de239b"
    "244248e95c9ac6fa4e201f4060547af4"
)
KAT_CUSTOMER_KEY = bytes(range(0x10, 0x30))
KAT_SSEC_SALT = bytes(range(0x30, 0x50))
KAT_SSEC_KEK_HEX = "a47bc3e0feb09c44352593080dd4dff4533d41aa48a5ce8ee59f08404a5e63df"
KAT_SSEC_VERIFIER_HEX = "3321b52ccb12fdf22ba51b884892f818fc858feb3aaf4e8a02baba6e6fd7ce34"


def kat_random(monkeypatch: pytest.MonkeyPatch) -> None:
    # PartSealer draws: inner salt, inner nonce prefix, outer salt, outer nonce prefix.
    scripted_random(monkeypatch, KAT_INNER_SALT, KAT_INNER_PREFIX, KAT_OUTER_SALT, KAT_OUTER_PREFIX)


def test_known_answer_blob(monkeypatch: pytest.MonkeyPatch) -> None:
    kat_random(monkeypatch)
    identity = object_identity(*KAT_IDENTITY_ARGS)
    assert identity.hex() == KAT_IDENTITY_HEX == doc_identity(*KAT_IDENTITY_ARGS).hex()
    blob, inner_header = seal(DataKey(KAT_DEK1), DataKey(KAT_DEK2), identity, KAT_PLAINTEXT, 4096)
    assert inner_header.hex() == KAT_INNER_HEADER_HEX
    assert blob[:48].hex() == KAT_OUTER_HEADER_HEX
    assert len(blob) == KAT_BLOB_LEN
    assert hashlib.sha256(blob).hexdigest() == KAT_BLOB_SHA256
    assert doc_open(blob, inner_header, KAT_DEK1, KAT_DEK2, identity, len(KAT_PLAINTEXT)) == KAT_PLAINTEXT


def test_known_answer_empty_part(monkeypatch: pytest.MonkeyPatch) -> None:
    kat_random(monkeypatch)
    identity = object_identity(*KAT_IDENTITY_ARGS)
    blob, inner_header = seal(DataKey(KAT_DEK1), DataKey(KAT_DEK2), identity, b"", 65536)
    assert blob.hex() == KAT_EMPTY_BLOB_HEX
    assert doc_open(blob, inner_header, KAT_DEK1, KAT_DEK2, identity, 0) == b""


def test_known_answer_wrap_and_ssec(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted_random(monkeypatch, KAT_WRAP_NONCE)
    identity = object_identity(*KAT_IDENTITY_ARGS)
    wrapped = wrap_dek(
        KAT_KEK, DataKey(KAT_DEK1), layer=1, key_id="bucket-7", key_version=2, identity=identity
    )
    assert wrapped.hex() == KAT_WRAPPED_HEX
    assert doc_unwrap(KAT_KEK, wrapped, 1, "bucket-7", 2, identity) == KAT_DEK1
    kek = customer_kek(KAT_CUSTOMER_KEY, KAT_SSEC_SALT)
    verifier = customer_verifier(KAT_CUSTOMER_KEY, KAT_SSEC_SALT)
    assert kek == doc_hkdf(KAT_CUSTOMER_KEY, KAT_SSEC_SALT, b"SRM1 SSE-C KEK")
    assert verifier == doc_hkdf(KAT_CUSTOMER_KEY, KAT_SSEC_SALT, b"SRM1 SSE-C verifier")
    assert kek.hex() == KAT_SSEC_KEK_HEX
    assert verifier.hex() == KAT_SSEC_VERIFIER_HEX


def test_vectors_are_published_in_format_md() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "FORMAT.md").read_text(encoding="utf-8")
    flat = doc.replace("` `", "").replace(" ", "").replace("\n", "")
    for value in (
        KAT_IDENTITY_HEX,
        KAT_BLOB_SHA256,
        KAT_EMPTY_BLOB_HEX,
        KAT_WRAPPED_HEX,
        KAT_SSEC_KEK_HEX,
        KAT_SSEC_VERIFIER_HEX,
        KAT_DEK1.hex(),
        KAT_DEK2.hex(),
        KAT_INNER_SALT.hex(),
        KAT_OUTER_SALT.hex(),
        KAT_INNER_PREFIX.hex(),
        KAT_OUTER_PREFIX.hex(),
    ):
        assert value in flat, value
    assert f"{KAT_BLOB_LEN:,}" in doc
