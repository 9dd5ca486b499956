"""DEK wrapping (envelope encryption) and SSE-C key derivation.

A wrapped DEK is bound to its layer, the wrapping key's id and version, and the object
identity, so it cannot be moved to another object, part or key slot.
"""

from __future__ import annotations

import hmac
import struct

from strongroom.crypto.aead import (
    KEY_LEN,
    NONCE_LEN,
    TAG_LEN,
    DataKey,
    check_key,
    hkdf_sha256,
    open_small,
    reject,
    seal_small,
)

__all__ = [
    "WRAPPED_LEN",
    "bucket_key",
    "customer_kek",
    "customer_verifier",
    "unwrap_dek",
    "verify_customer_key",
    "wrap_dek",
]

WRAPPED_LEN = NONCE_LEN + KEY_LEN + TAG_LEN  # 60
CONTEXT_LABEL = b"ctx"
WRAP_LABEL = b"SRM1-wrap"
SSEC_KEK_INFO = b"SRM1 SSE-C KEK"
SSEC_VERIFIER_INFO = b"SRM1 SSE-C verifier"
BUCKET_KEY_INFO = b"SRM1 bucket key"


def bucket_key(kek: bytes, *, tenant: str, key_id: str, key_version: int, bucket_id: bytes) -> bytes:
    """The layer-1 wrapping key of one bucket under one version of a vault key (S3 Bucket Keys' idea): HKDF-SHA256
    of the vault key's version with an empty salt and info ``"SRM1 bucket key" || u16 len || tenant ||
    u16 len || key id || u32 version || bucket id (16 bytes)``. Only the vault derives it (it never hands out ``kek``),
    so a gateway holds a key for one bucket, never one for every bucket under a shared SSE-KMS key."""
    check_key(kek)
    if len(bucket_id) != 16:
        raise ValueError("bucket id must be 16 bytes (a UUID)")
    if not 0 <= key_version <= 0xFFFFFFFF:
        raise ValueError("key version out of range")
    parts = []
    for text in (tenant, key_id):
        raw = text.encode("utf-8")
        if len(raw) > 0xFFFF:
            raise ValueError("name too long")
        parts.append(struct.pack(">H", len(raw)) + raw)
    info = BUCKET_KEY_INFO + b"".join(parts) + struct.pack(">I", key_version) + bytes(bucket_id)
    return hkdf_sha256(kek, b"", info)


def _wrap_aad(layer: int, key_id: str, key_version: int, identity: bytes, context: bytes = b"") -> bytes:
    if layer not in (1, 2):
        raise ValueError("layer must be 1 or 2")
    key_id_bytes = key_id.encode("utf-8")
    if len(key_id_bytes) > 0xFFFF:
        raise ValueError("key id too long")
    if not 0 <= key_version <= 0xFFFFFFFF:
        raise ValueError("key version out of range")
    if not isinstance(identity, bytes | bytearray | memoryview):
        raise TypeError("identity must be bytes")
    return b"".join(
        (
            WRAP_LABEL,
            struct.pack(">BH", layer, len(key_id_bytes)),
            key_id_bytes,
            struct.pack(">I", key_version),
            bytes(identity),
            # SSE-KMS encryption context (canonical JSON); absent (not even a length) when empty
            (CONTEXT_LABEL + struct.pack(">I", len(context)) + bytes(context)) if context else b"",
        )
    )


def wrap_dek(
    kek: bytes, dek: DataKey, *, layer: int, key_id: str, key_version: int, identity: bytes, context: bytes = b""
) -> bytes:
    """Wrap ``dek`` under ``kek``: 60 bytes ``nonce || ct || tag`` (AES-256-GCM).

    ``context`` (SSE-KMS encryption context, canonical JSON) is bound into the AAD when non-empty.
    """
    if not isinstance(dek, DataKey):
        raise TypeError("dek must be a DataKey")
    aad = _wrap_aad(layer, key_id, key_version, identity, context)
    return seal_small(kek, dek.material(), aad)


def unwrap_dek(
    kek: bytes, wrapped: bytes, *, layer: int, key_id: str, key_version: int, identity: bytes, context: bytes = b""
) -> DataKey:
    """Inverse of :func:`wrap_dek`. Any mismatch (the context included) raises :class:`DecryptionFailed`."""
    aad = _wrap_aad(layer, key_id, key_version, identity, context)
    if len(wrapped) != WRAPPED_LEN:
        check_key(kek)
        reject("wrapped key length")
    material = open_small(kek, wrapped, aad)
    if len(material) != KEY_LEN:  # unreachable unless the KEK sealed something else
        reject("unwrapped key length")
    return DataKey(material)


def customer_kek(customer_key: bytes, salt: bytes) -> bytes:
    """SSE-C: the KEK that wraps DEK1, derived from the client's key and a stored random salt."""
    return hkdf_sha256(check_key(customer_key, "customer key"), salt, SSEC_KEK_INFO, 32)


def customer_verifier(customer_key: bytes, salt: bytes) -> bytes:
    """SSE-C: a 32-byte value stored to recognise the client's key later. Never the key itself."""
    return hkdf_sha256(check_key(customer_key, "customer key"), salt, SSEC_VERIFIER_INFO, 32)


def verify_customer_key(customer_key: bytes, salt: bytes, verifier: bytes) -> bool:
    """True if ``customer_key`` produced ``verifier`` (constant-time comparison)."""
    return hmac.compare_digest(customer_verifier(customer_key, salt), verifier)
