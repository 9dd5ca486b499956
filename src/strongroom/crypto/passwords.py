"""Password hashing (scrypt) and keyed digests of login secrets, for the vault's auth methods.

A password hash is a self-describing string, ``scrypt$<log2 n>$<r>$<p>$<b64 salt>$<b64 key>`` (standard base64
with padding), so stored hashes keep verifying if the cost parameters are raised later. New hashes use n=2**15,
r=8, p=1, a 16-byte random salt and a 32-byte output.

:func:`verify_password` never raises for a bad stored string: anything malformed (or with cost parameters outside
sane bounds, which would let a corrupted entry pin a core or exhaust memory) is simply ``False``.
:func:`burn_verify` spends the same work against a fixed dummy hash, so a login for an unknown user costs what a
wrong password costs. Nothing here logs; passwords and secrets never leave these functions.

:func:`secret_digest` is HMAC-SHA256 under a 32-byte key: how secret IDs (and other lookup credentials) are
indexed without ever being stored in clear.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from strongroom.core.errors import InvalidKeyMaterial
from strongroom.crypto import aead

__all__ = ["DIGEST_KEY_LEN", "burn_verify", "hash_password", "secret_digest", "verify_password"]

SCHEME = "scrypt"
LOG2_N = 15
R = 8
P = 1
SALT_LEN = 16
HASH_LEN = 32
DIGEST_KEY_LEN = 32

# Bounds a stored hash must respect before any work is done on it.
_MAX_LOG2_N = 20
_MAX_R = 32
_MAX_P = 16
_MAX_MEMORY = 128 * 1024 * 1024  # bytes: scrypt needs about 128 * r * n
_SALT_LENS = range(8, 65)
_HASH_LENS = range(16, 65)
_NUMBER = re.compile(r"[0-9]{1,3}")

# scrypt at these parameters needs ~32 MiB and ~0.1 s of one core per hash; logins need no token, so at most this
# many run at once in a process (the rest wait): memory and CPU stay bounded whatever the login rate.
CONCURRENT_HASHES = 2
_SLOTS = threading.BoundedSemaphore(CONCURRENT_HASHES)

# The hash of a random password nobody knows (generated once, then discarded), with the current parameters.
_DUMMY_HASH = "scrypt$15$8$1$VQP0BxNFsPlPES9vX1Tr7A==$CH+JR6XyoJLX3rZHFN+dDvBg3WvaPLLXynFSOdjc7RI="


def _encode(password: str) -> bytes:
    # JSON can carry lone surrogates; they must hash (consistently) rather than raise.
    return password.encode("utf-8", "surrogatepass")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    """A new salted scrypt hash of ``password``, as a self-describing string."""
    salt = aead.random_bytes(SALT_LEN)
    with _SLOTS:
        key = Scrypt(salt=salt, length=HASH_LEN, n=2**LOG2_N, r=R, p=P).derive(_encode(password))
    return f"{SCHEME}${LOG2_N}${R}${P}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    if not isinstance(stored, str):
        return None
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        return None
    if not all(_NUMBER.fullmatch(part) for part in parts[1:4]):
        return None
    log2_n, r, p = (int(part) for part in parts[1:4])
    if not (1 <= log2_n <= _MAX_LOG2_N and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P):
        return None
    if 128 * r * (2**log2_n) > _MAX_MEMORY:
        return None
    try:
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(salt) not in _SALT_LENS or len(key) not in _HASH_LENS:
        return None
    return log2_n, r, p, salt, key


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison); a malformed ``stored`` is ``False``."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    log2_n, r, p, salt, key = parsed
    kdf = Scrypt(salt=salt, length=len(key), n=2**log2_n, r=r, p=p)
    try:
        with _SLOTS:
            kdf.verify(_encode(password), key)
    except InvalidKey:
        return False
    return True


def burn_verify(password: str) -> None:
    """Spend the work of one :func:`verify_password` against a fixed dummy hash (unknown user, same cost)."""
    verify_password(password, _DUMMY_HASH)


def secret_digest(key: bytes, secret: str) -> str:
    """HMAC-SHA256 of ``secret`` under ``key`` (32 bytes), hex: the storage index of a login secret."""
    if not isinstance(key, bytes | bytearray) or len(key) != DIGEST_KEY_LEN:
        raise InvalidKeyMaterial("digest key must be 32 bytes")
    mac = crypto_hmac.HMAC(bytes(key), hashes.SHA256())
    mac.update(_encode(secret))
    return mac.finalize().hex()
