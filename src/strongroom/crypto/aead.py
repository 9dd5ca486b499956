"""Thin wrappers over ``cryptography`` primitives, the DEK handle and the randomness seam.

Everything that needs random bytes calls :func:`random_bytes` through this module, so a
test can monkeypatch one function to make sealing deterministic.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from typing import NoReturn

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.core.errors import DecryptionFailed, InvalidKeyMaterial

__all__ = [
    "CIPHER_AES256GCM",
    "CIPHER_CHACHA20POLY1305",
    "KEY_LEN",
    "DataKey",
    "hkdf_sha256",
    "hmac_sha256",
    "open_small",
    "random_bytes",
    "seal_small",
]

CIPHER_AES256GCM = 1
CIPHER_CHACHA20POLY1305 = 2

KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16

log = logging.getLogger("strongroom.crypto")


def random_bytes(n: int) -> bytes:
    """Return ``n`` bytes from the OS CSPRNG. The one randomness seam of strongroom.crypto."""
    return os.urandom(n)


def reject(reason: str) -> NoReturn:
    """Raise the one opaque integrity error; the reason goes to the debug log only."""
    log.debug("decryption rejected: %s", reason)
    raise DecryptionFailed()


def check_key(key: object, what: str = "key") -> bytes:
    """Return ``key`` as bytes if it is 32 bytes of key material, else raise InvalidKeyMaterial."""
    if not isinstance(key, bytes | bytearray | memoryview):
        raise InvalidKeyMaterial(f"{what} must be bytes")
    key = bytes(key)
    if len(key) != KEY_LEN:
        raise InvalidKeyMaterial(f"{what} must be {KEY_LEN} bytes")
    return key


class DataKey:
    """32 bytes of data-encryption-key material in a handle that is hard to leak.

    The repr is redacted, pickling and copying are refused, and equality is constant time.
    Read the bytes with :meth:`material` only where a primitive needs them.
    """

    __slots__ = ("_material",)

    def __init__(self, material: bytes) -> None:
        self._material = check_key(material, "data key")

    @classmethod
    def generate(cls) -> DataKey:
        """A fresh random DEK."""
        return cls(random_bytes(KEY_LEN))

    def material(self) -> bytes:
        """The raw key bytes. Never log or store them unwrapped."""
        return self._material

    def __repr__(self) -> str:
        return "DataKey(<redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataKey):
            return NotImplemented
        return hmac.compare_digest(self._material, other._material)

    def __reduce__(self) -> NoReturn:
        raise TypeError("DataKey cannot be pickled or copied")

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("DataKey cannot be pickled or copied")


def seal_small(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM with a random 12-byte nonce; returns ``nonce || ciphertext || tag``."""
    aead = AESGCM(check_key(key))
    nonce = random_bytes(NONCE_LEN)
    return nonce + aead.encrypt(nonce, plaintext, aad)


def open_small(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Open :func:`seal_small` output; any failure raises :class:`DecryptionFailed`."""
    aead = AESGCM(check_key(key))
    if len(sealed) < NONCE_LEN + TAG_LEN:
        reject("sealed value too short")
    view = memoryview(sealed)
    try:
        return aead.decrypt(view[:NONCE_LEN], view[NONCE_LEN:], aad)
    except InvalidTag:
        reject("tag mismatch")


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 (RFC 5869), extract and expand."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104)."""
    return hmac.new(key, data, hashlib.sha256).digest()
