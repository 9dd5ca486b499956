"""wrap.py: DEK wrapping bound to layer, key id, key version and identity; SSE-C derivation."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from strongroom.core.errors import DecryptionFailed, InvalidKeyMaterial
from strongroom.crypto import (
    WRAPPED_LEN,
    DataKey,
    aead,
    customer_kek,
    customer_verifier,
    hkdf_sha256,
    object_identity,
    open_small,
    unwrap_dek,
    verify_customer_key,
    wrap_dek,
)

KEK = bytes(range(32))
DEK = DataKey(bytes(range(64, 96)))
IDENTITY = object_identity(uuid.UUID("12345678-1234-5678-1234-567812345678"), "a/b", "v1", 1)
ARGS: dict[str, Any] = dict(layer=1, key_id="bucket-key", key_version=3, identity=IDENTITY)


def test_round_trip() -> None:
    wrapped = wrap_dek(KEK, DEK, **ARGS)
    assert len(wrapped) == WRAPPED_LEN == 60
    assert unwrap_dek(KEK, wrapped, **ARGS) == DEK
    assert wrap_dek(KEK, DEK, **ARGS) != wrapped  # random nonce
    assert DEK.material() not in wrapped


def test_aad_layout() -> None:
    """AAD = "SRM1-wrap" || u8 layer || u16 len(key id) || key id || u32 version || identity."""
    wrapped = wrap_dek(KEK, DEK, layer=2, key_id="infra-é", key_version=258, identity=IDENTITY)
    aad = b"SRM1-wrap" + b"\x02" + b"\x00\x08" + "infra-é".encode() + b"\x00\x00\x01\x02" + IDENTITY
    assert open_small(KEK, wrapped, aad) == DEK.material()


CHANGES: list[dict[str, Any]] = [
    {"layer": 2},
    {"key_id": "bucket-key2"},
    {"key_id": "Bucket-key"},
    {"key_version": 4},
    {"key_version": 0},
    {"identity": object_identity(uuid.UUID("12345678-1234-5678-1234-567812345678"), "a/b", "v2", 1)},
    {"identity": object_identity(uuid.UUID("12345678-1234-5678-1234-567812345678"), "a/b", "v1", 2)},
    {"identity": object_identity(uuid.UUID("12345678-1234-5678-1234-567812345678"), "a/c", "v1", 1)},
    {"identity": IDENTITY + b"\x00"},
]


@pytest.mark.parametrize("change", CHANGES)
def test_any_binding_change_fails(change: dict[str, Any]) -> None:
    wrapped = wrap_dek(KEK, DEK, **ARGS)
    with pytest.raises(DecryptionFailed):
        unwrap_dek(KEK, wrapped, **{**ARGS, **change})


def test_wrong_kek_and_damage_fail() -> None:
    wrapped = wrap_dek(KEK, DEK, **ARGS)
    with pytest.raises(DecryptionFailed):
        unwrap_dek(bytes(32), wrapped, **ARGS)
    for bad in (wrapped[:-1], wrapped + b"\x00", b"", bytes(60)):
        with pytest.raises(DecryptionFailed):
            unwrap_dek(KEK, bad, **ARGS)
    for pos in range(len(wrapped)):
        flipped = bytearray(wrapped)
        flipped[pos] ^= 1
        with pytest.raises(DecryptionFailed):
            unwrap_dek(KEK, bytes(flipped), **ARGS)


def test_argument_validation() -> None:
    with pytest.raises(InvalidKeyMaterial):
        wrap_dek(KEK[:16], DEK, **ARGS)
    with pytest.raises(InvalidKeyMaterial):
        unwrap_dek(KEK[:16], bytes(60), **ARGS)
    with pytest.raises(InvalidKeyMaterial):
        unwrap_dek(KEK[:16], bytes(10), **ARGS)
    with pytest.raises(ValueError):
        wrap_dek(KEK, DEK, **{**ARGS, "layer": 3})
    with pytest.raises(ValueError):
        wrap_dek(KEK, DEK, **{**ARGS, "key_version": -1})
    with pytest.raises(ValueError):
        wrap_dek(KEK, DEK, **{**ARGS, "key_id": "x" * 70000})
    with pytest.raises(TypeError):
        wrap_dek(KEK, DEK.material(), **ARGS)


def test_wrap_uses_the_randomness_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aead, "random_bytes", lambda n: b"\x01" * n)
    assert wrap_dek(KEK, DEK, **ARGS) == wrap_dek(KEK, DEK, **ARGS)


CUSTOMER_KEY = bytes(range(200, 232))
SALT = bytes(range(32))


def test_customer_kek_and_verifier() -> None:
    kek = customer_kek(CUSTOMER_KEY, SALT)
    verifier = customer_verifier(CUSTOMER_KEY, SALT)
    assert len(kek) == len(verifier) == 32
    assert kek != verifier and CUSTOMER_KEY not in (kek, verifier)
    assert kek == hkdf_sha256(CUSTOMER_KEY, SALT, b"SRM1 SSE-C KEK")
    assert verifier == hkdf_sha256(CUSTOMER_KEY, SALT, b"SRM1 SSE-C verifier")
    assert customer_kek(CUSTOMER_KEY, SALT[::-1]) != kek  # salted
    assert verify_customer_key(CUSTOMER_KEY, SALT, verifier)
    assert not verify_customer_key(bytes(32), SALT, verifier)
    assert not verify_customer_key(CUSTOMER_KEY, SALT[::-1], verifier)
    assert not verify_customer_key(CUSTOMER_KEY, SALT, verifier[:-1])
    for fn in (customer_kek, customer_verifier):
        with pytest.raises(InvalidKeyMaterial):
            fn(CUSTOMER_KEY[:31], SALT)


def test_ssec_end_to_end() -> None:
    wrapped = wrap_dek(customer_kek(CUSTOMER_KEY, SALT), DEK, **ARGS)
    assert unwrap_dek(customer_kek(CUSTOMER_KEY, SALT), wrapped, **ARGS) == DEK
    with pytest.raises(DecryptionFailed):
        unwrap_dek(customer_kek(bytes(32), SALT), wrapped, **ARGS)
