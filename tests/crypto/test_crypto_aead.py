"""aead.py: DataKey handle, small AEAD seal/open, HKDF and HMAC against published vectors."""

from __future__ import annotations

import copy
import pickle

import pytest

from strongroom.core.errors import DecryptionFailed, InvalidKeyMaterial
from strongroom.crypto import DataKey, aead, hkdf_sha256, hmac_sha256, open_small, random_bytes, seal_small

KEY = bytes(range(32))


def test_datakey_validates_length_and_type() -> None:
    for bad in (b"", b"\x00" * 31, b"\x00" * 33, "x" * 32, None, 32):
        with pytest.raises(InvalidKeyMaterial):
            DataKey(bad)  # type: ignore[arg-type]
    assert DataKey(bytearray(KEY)).material() == KEY


def test_datakey_is_hard_to_leak() -> None:
    key = DataKey(KEY)
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert "redacted" in text
        assert KEY.hex() not in text and str(KEY) not in text
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(key, protocol=protocol)
    with pytest.raises(TypeError):
        copy.copy(key)
    with pytest.raises(TypeError):
        copy.deepcopy(key)
    with pytest.raises(AttributeError):
        key.extra = 1  # type: ignore[attr-defined]


def test_datakey_equality_and_generate() -> None:
    assert DataKey(KEY) == DataKey(KEY)
    assert DataKey(KEY) != DataKey(bytes(32))
    assert DataKey(KEY) != KEY
    a, b = DataKey.generate(), DataKey.generate()
    assert a != b and len(a.material()) == 32


def test_generate_uses_the_randomness_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aead, "random_bytes", lambda n: b"\x07" * n)
    assert DataKey.generate().material() == b"\x07" * 32


def test_random_bytes() -> None:
    assert len(random_bytes(12)) == 12
    assert random_bytes(16) != random_bytes(16)


def test_seal_small_round_trip_and_layout() -> None:
    sealed = seal_small(KEY, b"secret", b"aad")
    assert len(sealed) == 12 + 6 + 16
    assert open_small(KEY, sealed, b"aad") == b"secret"
    assert seal_small(KEY, b"secret", b"aad")[:12] != sealed[:12]  # fresh nonce


def test_seal_small_known_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """McGrew & Viega, GCM spec, test case 16 (AES-256, 96-bit IV, with AAD)."""
    key = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    iv = bytes.fromhex("cafebabefacedbaddecaf888")
    pt = bytes.fromhex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
    )
    aad = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    ct = bytes.fromhex(
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
    )
    tag = bytes.fromhex("76fc6ece0f4e1768cddf8853bb2d551b")
    monkeypatch.setattr(aead, "random_bytes", lambda n: iv)
    assert seal_small(key, pt, aad) == iv + ct + tag
    assert open_small(key, iv + ct + tag, aad) == pt


def test_open_small_rejections() -> None:
    sealed = seal_small(KEY, b"secret", b"aad")
    for bad in (b"", sealed[:27], sealed[:-1], sealed + b"\x00", bytes(len(sealed))):
        with pytest.raises(DecryptionFailed):
            open_small(KEY, bad, b"aad")
    for pos in range(len(sealed)):
        flipped = bytearray(sealed)
        flipped[pos] ^= 0x80
        with pytest.raises(DecryptionFailed):
            open_small(KEY, bytes(flipped), b"aad")
    with pytest.raises(DecryptionFailed):
        open_small(KEY, sealed, b"aae")
    with pytest.raises(DecryptionFailed):
        open_small(bytes(32), sealed, b"aad")


def test_small_key_validation() -> None:
    with pytest.raises(InvalidKeyMaterial):
        seal_small(b"\x00" * 16, b"x", b"")
    with pytest.raises(InvalidKeyMaterial):
        open_small(b"\x00" * 16, b"\x00" * 40, b"")


def test_hkdf_rfc5869_case1() -> None:
    okm = hkdf_sha256(b"\x0b" * 22, bytes(range(13)), bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


def test_hmac_rfc4231_case2() -> None:
    assert hmac_sha256(b"Jefe", b"what do ya want for nothing?").hex() == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
