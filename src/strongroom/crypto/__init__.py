"""Strongroom's cryptography: SRM1 two-layer sealing, DEK wrapping, SSE-C derivation.

The only package that imports ``cryptography.hazmat``; everything else calls these recipes.
"""

from strongroom.crypto.aead import (
    CIPHER_AES256GCM,
    CIPHER_CHACHA20POLY1305,
    DataKey,
    hkdf_sha256,
    hmac_sha256,
    open_small,
    random_bytes,
    seal_small,
)
from strongroom.crypto.segments import (
    HEADER_LEN,
    LAYER_INFRA,
    LAYER_SERVICE,
    OVERHEAD,
    SEGMENT_SIZE,
    PartOpener,
    PartSealer,
    object_identity,
    sealed_size,
    segment_count,
)
from strongroom.crypto.wrap import (
    WRAPPED_LEN,
    bucket_key,
    customer_kek,
    customer_verifier,
    unwrap_dek,
    verify_customer_key,
    wrap_dek,
)

__all__ = [
    "CIPHER_AES256GCM",
    "CIPHER_CHACHA20POLY1305",
    "HEADER_LEN",
    "LAYER_INFRA",
    "LAYER_SERVICE",
    "OVERHEAD",
    "SEGMENT_SIZE",
    "WRAPPED_LEN",
    "DataKey",
    "PartOpener",
    "PartSealer",
    "bucket_key",
    "customer_kek",
    "customer_verifier",
    "hkdf_sha256",
    "hmac_sha256",
    "object_identity",
    "open_small",
    "random_bytes",
    "seal_small",
    "sealed_size",
    "segment_count",
    "unwrap_dek",
    "verify_customer_key",
    "wrap_dek",
]
