"""Primitives of the Vault-compatible transit engine, in HashiCorp Vault's exact wire formats.

The transit engine (``strongroom.keys.transit``) calls only these functions; this module is the
one place it reaches ``cryptography.hazmat``. Formats follow ``sdk/helper/keysutil/policy.go``:

* AEAD (``aes128-gcm96``, ``aes256-gcm96``, ``chacha20-poly1305``): ``nonce(12) || ciphertext || tag(16)``,
  random nonce, the caller's associated data as AAD.
* Derived keys: HKDF-SHA256 with an empty salt, the request context as ``info`` (Vault's ``Kdf_hkdf_sha256``);
  a derived Ed25519 key uses the first 32 derived bytes as its seed.
* Ed25519: the stored private key is Go's 64-byte form ``seed || public``; signatures are pure Ed25519 over
  the raw input; the public key is published as standard base64 of the 32 raw bytes.
* ECDSA: signs a digest; the signature is ASN.1 DER (``asn1``) or fixed-width ``r || s`` (``jws``).
* RSA: PSS (salt ``auto`` = as long as possible when signing, auto-detected when verifying) or PKCS#1 v1.5
  over a digest; encryption is OAEP with SHA-256 and MGF1-SHA-256.
* Public keys are PKIX PEM; exported private keys are SEC1 ``EC PRIVATE KEY`` and PKCS#1 ``RSA PRIVATE KEY``.

Integrity failures raise the one opaque :class:`~strongroom.core.errors.DecryptionFailed`; a malformed
signature or an unusable argument raises :class:`ValueError` with a message safe to show a client.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from strongroom.core.errors import DecryptionFailed, InvalidKeyMaterial
from strongroom.crypto.aead import random_bytes

__all__ = [
    "AEAD_KEY_SIZES",
    "CURVES",
    "HASH_SIZES",
    "NONCE_LEN",
    "TAG_LEN",
    "aead_open",
    "aead_seal",
    "derive_key",
    "digest",
    "ecdsa_generate",
    "ecdsa_private_pem",
    "ecdsa_public_pem",
    "ecdsa_sign_digest",
    "ecdsa_verify_digest",
    "ed25519_from_seed",
    "ed25519_generate",
    "ed25519_public",
    "ed25519_sign",
    "ed25519_verify",
    "hmac_digest",
    "random_bytes",
    "rsa_decrypt",
    "rsa_encrypt",
    "rsa_generate",
    "rsa_private_pem",
    "rsa_public_pem",
    "rsa_sign_digest",
    "rsa_verify_digest",
]

NONCE_LEN = 12
TAG_LEN = 16
AEAD_KEY_SIZES = {"aes128-gcm96": 16, "aes256-gcm96": 32, "chacha20-poly1305": 32}
CURVES: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}

# Vault's hash names (keysutil.HashTypeMap) -> hashlib constructor / cryptography algorithm.
_HASHLIB: dict[str, Callable[..., Any]] = {
    "sha1": hashlib.sha1,
    "sha2-224": hashlib.sha224,
    "sha2-256": hashlib.sha256,
    "sha2-384": hashlib.sha384,
    "sha2-512": hashlib.sha512,
    "sha3-224": hashlib.sha3_224,
    "sha3-256": hashlib.sha3_256,
    "sha3-384": hashlib.sha3_384,
    "sha3-512": hashlib.sha3_512,
}
_HAZMAT: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha2-224": hashes.SHA224,
    "sha2-256": hashes.SHA256,
    "sha2-384": hashes.SHA384,
    "sha2-512": hashes.SHA512,
    "sha3-224": hashes.SHA3_224,
    "sha3-256": hashes.SHA3_256,
    "sha3-384": hashes.SHA3_384,
    "sha3-512": hashes.SHA3_512,
}
HASH_SIZES = {name: ctor().digest_size for name, ctor in _HASHLIB.items()}
# ECDSA signs the digest bytes alone, so a prehashed input of any of these sizes can be labelled with
# any hash of the same size (Go's ecdsa.Sign takes the bytes as they come).
_DIGEST_BY_SIZE: dict[int, Callable[[], hashes.HashAlgorithm]] = {
    20: hashes.SHA1,
    28: hashes.SHA224,
    32: hashes.SHA256,
    48: hashes.SHA384,
    64: hashes.SHA512,
}


def _hash_ctor(name: str) -> Callable[..., Any]:
    try:
        return _HASHLIB[name]
    except KeyError:
        raise ValueError(f"unsupported hash algorithm {name!r}") from None


# --- symmetric -------------------------------------------------------------


def _aead(cipher: str, key: bytes) -> AESGCM | ChaCha20Poly1305:
    size = AEAD_KEY_SIZES.get(cipher)
    if size is None:
        raise ValueError(f"unsupported cipher {cipher!r}")
    if len(key) != size:
        raise InvalidKeyMaterial(f"{cipher} key must be {size} bytes")
    return ChaCha20Poly1305(key) if cipher == "chacha20-poly1305" else AESGCM(key)


def aead_seal(cipher: str, key: bytes, plaintext: bytes, aad: bytes | None = None) -> bytes:
    """Encrypt under a fresh random 96-bit nonce; returns ``nonce || ciphertext || tag`` (Vault's layout)."""
    aead = _aead(cipher, key)
    nonce = random_bytes(NONCE_LEN)
    return nonce + aead.encrypt(nonce, plaintext, aad or None)


def aead_open(cipher: str, key: bytes, blob: bytes, aad: bytes | None = None) -> bytes:
    """Inverse of :func:`aead_seal`; any integrity failure raises :class:`DecryptionFailed`."""
    aead = _aead(cipher, key)
    if len(blob) < NONCE_LEN + TAG_LEN:
        raise DecryptionFailed()
    try:
        return aead.decrypt(blob[:NONCE_LEN], blob[NONCE_LEN:], aad or None)
    except InvalidTag:
        raise DecryptionFailed() from None


def derive_key(ikm: bytes, context: bytes, length: int) -> bytes:
    """Vault's ``Kdf_hkdf_sha256``: HKDF-SHA256(ikm, salt=nil, info=context), ``length`` bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=context).derive(ikm)


def hmac_digest(hash_name: str, key: bytes, data: bytes) -> bytes:
    """HMAC with one of Vault's hash names (``sha2-256``, ``sha3-512``, ...)."""
    return hmac.new(key, data, _hash_ctor(hash_name)).digest()


def digest(hash_name: str, data: bytes) -> bytes:
    """The digest of ``data`` under one of Vault's hash names."""
    return _hash_ctor(hash_name)(data).digest()


# --- Ed25519 -----------------------------------------------------------------


def ed25519_from_seed(seed: bytes) -> bytes:
    """Go's 64-byte Ed25519 private key (``seed || public``) from a 32-byte seed."""
    if len(seed) != 32:
        raise InvalidKeyMaterial("ed25519 seed must be 32 bytes")
    public = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key()
    return seed + public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def ed25519_generate() -> bytes:
    """A fresh Ed25519 key in Go's 64-byte form."""
    return ed25519_from_seed(random_bytes(32))


def _ed25519_private(private: bytes) -> ed25519.Ed25519PrivateKey:
    if len(private) not in (32, 64):
        raise InvalidKeyMaterial("ed25519 private key must be 32 or 64 bytes")
    return ed25519.Ed25519PrivateKey.from_private_bytes(private[:32])


def ed25519_public(private: bytes) -> bytes:
    """The raw 32-byte public key of a 64-byte (or 32-byte seed) private key."""
    return (
        _ed25519_private(private).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def ed25519_sign(private: bytes, message: bytes) -> bytes:
    """A pure Ed25519 signature (64 bytes) over ``message``."""
    return _ed25519_private(private).sign(message)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` under the raw ``public`` key."""
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- ECDSA -------------------------------------------------------------------


def ecdsa_generate(curve: str) -> bytes:
    """A fresh ECDSA key on ``curve`` (``P-256``/``P-384``/``P-521``) as PKCS#8 DER."""
    try:
        key = ec.generate_private_key(CURVES[curve])
    except KeyError:
        raise ValueError(f"unsupported curve {curve!r}") from None
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _ec_private(der: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidKeyMaterial("not an ECDSA private key")
    return key


def _prehashed_for(digest_bytes: bytes) -> Prehashed:
    ctor = _DIGEST_BY_SIZE.get(len(digest_bytes))
    if ctor is None:
        raise ValueError(f"unsupported digest length {len(digest_bytes)}")
    return Prehashed(ctor())


def _coordinate_len(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> int:
    return (key.curve.key_size + 7) // 8


def ecdsa_sign_digest(der: bytes, digest_bytes: bytes, marshaling: str = "asn1") -> bytes:
    """Sign a digest; ``asn1`` gives DER ``SEQUENCE{r, s}``, ``jws`` gives fixed-width ``r || s``."""
    key = _ec_private(der)
    signature = key.sign(digest_bytes, ec.ECDSA(_prehashed_for(digest_bytes)))
    if marshaling == "asn1":
        return signature
    if marshaling == "jws":
        r, s = decode_dss_signature(signature)
        width = _coordinate_len(key)
        return r.to_bytes(width, "big") + s.to_bytes(width, "big")
    raise ValueError("requested marshaling type is invalid")


def _asn1_strict(signature: bytes) -> tuple[int, int]:
    """Decode a DER ECDSA signature; ValueError with Vault's messages when it is malformed."""
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        raise ValueError("supplied signature is invalid") from None
    if encode_dss_signature(r, s) != signature:
        raise ValueError("supplied signature contains extra data")
    return r, s


def ecdsa_verify_digest(der: bytes, digest_bytes: bytes, signature: bytes, marshaling: str = "asn1") -> bool:
    """Verify a digest signature made by :func:`ecdsa_sign_digest` (``der`` is the private key)."""
    public = _ec_private(der).public_key()
    if marshaling == "asn1":
        r, s = _asn1_strict(signature)
    elif marshaling == "jws":
        half = len(signature) // 2
        r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    else:
        raise ValueError("requested marshaling type is invalid")
    if r <= 0 or s <= 0:
        return False
    try:
        public.verify(encode_dss_signature(r, s), digest_bytes, ec.ECDSA(_prehashed_for(digest_bytes)))
    except InvalidSignature:
        return False
    return True


def ecdsa_public_pem(der: bytes) -> str:
    """The PKIX ``PUBLIC KEY`` PEM of an ECDSA private key, with Go's trailing newline."""
    return (
        _ec_private(der)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def ecdsa_private_pem(der: bytes) -> str:
    """The SEC1 ``EC PRIVATE KEY`` PEM Vault exports (without the trailing newline, as Vault trims it)."""
    pem = _ec_private(der).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return pem.decode().strip()


# --- RSA ---------------------------------------------------------------------


def rsa_generate(bits: int) -> bytes:
    """A fresh RSA key (e = 65537) of ``bits`` bits as PKCS#8 DER."""
    if bits not in (2048, 3072, 4096):
        raise ValueError(f"unsupported RSA size {bits}")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _rsa_private(der: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidKeyMaterial("not an RSA private key")
    return key


def _rsa_hash(hash_name: str, digest_bytes: bytes) -> hashes.HashAlgorithm:
    try:
        algorithm = _HAZMAT[hash_name]()
    except KeyError:
        raise ValueError(f"unsupported hash algorithm {hash_name!r}") from None
    if len(digest_bytes) != algorithm.digest_size:
        raise ValueError("input must be hashed message")
    return algorithm


def _pss_salt(salt_length: int | str, key_bytes: int, hash_size: int, signing: bool) -> int | object:
    if salt_length == "auto":
        return padding.PSS.MAX_LENGTH if signing else padding.PSS.AUTO
    if salt_length == "hash":
        return padding.PSS.DIGEST_LENGTH
    if not isinstance(salt_length, int) or isinstance(salt_length, bool):
        raise ValueError(f"salt length neither 'auto', 'hash', nor an int: {salt_length}")
    if not 0 <= salt_length <= key_bytes - 2 - hash_size:
        raise ValueError(f"requested salt length {salt_length} is invalid")
    return salt_length


def _rsa_padding(
    algorithm: str, salt_length: int | str, key: rsa.RSAPrivateKey, hash_algo: hashes.HashAlgorithm, signing: bool
) -> padding.AsymmetricPadding:
    if algorithm in ("", "pss"):
        key_bytes = (key.key_size + 7) // 8
        salt = _pss_salt(salt_length, key_bytes, hash_algo.digest_size, signing)
        return padding.PSS(mgf=padding.MGF1(hash_algo), salt_length=salt)  # type: ignore[arg-type]
    if algorithm == "pkcs1v15":
        return padding.PKCS1v15()
    raise ValueError(f"unsupported rsa signature algorithm {algorithm}")


def rsa_sign_digest(
    der: bytes, digest_bytes: bytes, hash_name: str, algorithm: str = "pss", salt_length: int | str = "auto"
) -> bytes:
    """Sign a ``hash_name`` digest with RSA-PSS (default) or PKCS#1 v1.5."""
    key = _rsa_private(der)
    hash_algo = _rsa_hash(hash_name, digest_bytes)
    pad = _rsa_padding(algorithm, salt_length, key, hash_algo, signing=True)
    return key.sign(digest_bytes, pad, Prehashed(hash_algo))


def rsa_verify_digest(
    der: bytes,
    digest_bytes: bytes,
    signature: bytes,
    hash_name: str,
    algorithm: str = "pss",
    salt_length: int | str = "auto",
) -> bool:
    """Verify a signature made by :func:`rsa_sign_digest` (``der`` is the private key)."""
    key = _rsa_private(der)
    hash_algo = _rsa_hash(hash_name, digest_bytes)
    pad = _rsa_padding(algorithm, salt_length, key, hash_algo, signing=False)
    try:
        key.public_key().verify(signature, digest_bytes, pad, Prehashed(hash_algo))
    except InvalidSignature:
        return False
    return True


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def rsa_encrypt(der: bytes, plaintext: bytes) -> bytes:
    """RSA-OAEP (SHA-256, MGF1-SHA-256, no label), as Vault encrypts with RSA keys."""
    try:
        return _rsa_private(der).public_key().encrypt(plaintext, _oaep())
    except ValueError:
        raise ValueError("message too long for RSA key size") from None


def rsa_decrypt(der: bytes, ciphertext: bytes) -> bytes:
    """Inverse of :func:`rsa_encrypt`; any failure raises :class:`DecryptionFailed`."""
    try:
        return _rsa_private(der).decrypt(ciphertext, _oaep())
    except ValueError:
        raise DecryptionFailed() from None


def rsa_public_pem(der: bytes) -> str:
    """The PKIX ``PUBLIC KEY`` PEM of an RSA private key, with Go's trailing newline."""
    return (
        _rsa_private(der)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def rsa_private_pem(der: bytes) -> str:
    """The PKCS#1 ``RSA PRIVATE KEY`` PEM Vault exports (with Go's trailing newline)."""
    return (
        _rsa_private(der)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        .decode()
    )
