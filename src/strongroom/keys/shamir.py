"""Shamir secret sharing over GF(2^8), share-compatible with HashiCorp Vault's ``shamir`` package.

Every byte of the secret is the constant term of its own random polynomial of degree
``threshold - 1`` over GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1 (0x11B).
A share is ``y_1 .. y_len(secret) || x``: one evaluation per secret byte, then the one-byte x
coordinate. The x coordinates are random, distinct and non-zero, so two splits of one secret never
line up. Shares made by Vault combine here and the other way round.

Arithmetic uses log/exp tables for the generator 0xE5, the same tables Vault publishes. Python
gives no constant-time guarantee; the unseal keys this splits are submitted rarely and by operators.
"""

from __future__ import annotations

from collections.abc import Sequence

from strongroom.core.errors import InvalidRequest
from strongroom.crypto import random_bytes

__all__ = ["MAX_SHARES", "SHARE_OVERHEAD", "combine", "split"]

#: Bytes a share adds to the secret: the trailing x coordinate.
SHARE_OVERHEAD = 1
#: x coordinates are the non-zero field elements, so at most 255 distinct shares exist.
MAX_SHARES = 255

_POLY = 0x11B
_GENERATOR = 0xE5


def _mult_slow(a: int, b: int) -> int:
    """Carry-less multiply of two field elements reduced by 0x11B (builds the tables)."""
    out = 0
    while b:
        if b & 1:
            out ^= a
        a <<= 1
        if a & 0x100:
            a ^= _POLY
        b >>= 1
    return out


def _build_tables() -> tuple[bytes, bytes]:
    """exp[i] = g^i for i in 0..255 (exp[255] = 1); log[g^i] = i for i in 1..255 (so log[1] = 255)."""
    exp = bytearray(256)
    log = bytearray(256)
    x = 1
    exp[0] = 1
    for i in range(1, 256):
        x = _mult_slow(x, _GENERATOR)
        exp[i] = x
        log[x] = i
    return bytes(exp), bytes(log)


EXP_TABLE, LOG_TABLE = _build_tables()


def add(a: int, b: int) -> int:
    """Addition (and subtraction) in GF(2^8)."""
    return a ^ b


def mult(a: int, b: int) -> int:
    """Multiplication in GF(2^8)."""
    if a == 0 or b == 0:
        return 0
    return EXP_TABLE[(LOG_TABLE[a] + LOG_TABLE[b]) % 255]


def div(a: int, b: int) -> int:
    """Division in GF(2^8); ``b`` must be non-zero."""
    if b == 0:
        raise ZeroDivisionError("division by zero in GF(2^8)")
    if a == 0:
        return 0
    return EXP_TABLE[(LOG_TABLE[a] - LOG_TABLE[b]) % 255]


def evaluate(coefficients: Sequence[int], x: int) -> int:
    """Value at ``x`` of the polynomial whose i-th coefficient is ``coefficients[i]`` (Horner)."""
    if x == 0:
        return coefficients[0]
    out = 0
    for coeff in reversed(coefficients):
        out = mult(out, x) ^ coeff
    return out


def interpolate(x_samples: Sequence[int], y_samples: Sequence[int], x: int) -> int:
    """Lagrange interpolation: the value at ``x`` of the polynomial through the sample points."""
    result = 0
    for i, xi in enumerate(x_samples):
        basis = 1
        for j, xj in enumerate(x_samples):
            if i != j:
                basis = mult(basis, div(x ^ xj, xi ^ xj))
        result ^= mult(y_samples[i], basis)
    return result


def _random_x_coordinates(count: int) -> list[int]:
    """``count`` distinct non-zero field elements in random order (partial Fisher-Yates over 1..255)."""
    xs = list(range(1, MAX_SHARES + 1))
    for i in range(count):
        j = i + _uniform_below(MAX_SHARES - i)
        xs[i], xs[j] = xs[j], xs[i]
    return xs[:count]


def _uniform_below(n: int) -> int:
    """A uniform integer in ``[0, n)`` for ``1 <= n <= 256``, by rejection sampling one byte at a time."""
    limit = 256 - 256 % n
    while True:
        b = random_bytes(1)[0]
        if b < limit:
            return b % n


def split(secret: bytes, shares: int, threshold: int) -> list[bytes]:
    """Split ``secret`` into ``shares`` shares, any ``threshold`` of which recover it.

    Contract: ``1 <= threshold <= shares <= 255`` and ``threshold >= 2`` unless ``shares == 1``;
    ``secret`` is non-empty. Each share is ``len(secret) + 1`` bytes, the last byte its x
    coordinate (random, distinct, non-zero). Fewer than ``threshold`` shares reveal nothing
    about the secret. Randomness comes from :func:`strongroom.crypto.random_bytes`.
    Raises :class:`InvalidRequest` for bad arguments.
    """
    if not isinstance(secret, bytes | bytearray | memoryview):
        raise InvalidRequest("secret must be bytes")
    secret = bytes(secret)
    for name, value in (("shares", shares), ("threshold", threshold)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"{name} must be an integer")
    if shares < 1:
        raise InvalidRequest("shares must be at least one")
    if shares > MAX_SHARES:
        raise InvalidRequest("shares cannot exceed 255")
    if threshold < 1:
        raise InvalidRequest("threshold must be at least one")
    if threshold > shares:
        raise InvalidRequest("threshold cannot be larger than shares")
    if shares > 1 and threshold < 2:
        raise InvalidRequest("threshold must be greater than one for multiple shares")
    if not secret:
        raise InvalidRequest("cannot split an empty secret")

    degree = threshold - 1
    xs = _random_x_coordinates(shares)
    out = [bytearray(len(secret) + SHARE_OVERHEAD) for _ in range(shares)]
    for share, x in zip(out, xs, strict=True):
        share[-1] = x
    coefficients = bytearray(random_bytes(len(secret) * degree))
    poly = bytearray(degree + 1)
    try:
        for idx, value in enumerate(secret):
            poly[0] = value
            poly[1:] = coefficients[idx * degree : (idx + 1) * degree]
            for share, x in zip(out, xs, strict=True):
                share[idx] = evaluate(poly, x)
    finally:
        coefficients[:] = bytes(len(coefficients))
        poly[:] = bytes(len(poly))
    return [bytes(share) for share in out]


def combine(shares: list[bytes]) -> bytes:
    """Recover the secret from shares made by :func:`split` (or by Vault's ``shamir.Split``).

    Contract: at least one share; all shares the same length (at least two bytes); x coordinates
    distinct and non-zero. Raises :class:`InvalidRequest` otherwise. With at least ``threshold``
    shares of one split the result is the secret; with fewer, or with a foreign or corrupted share,
    it is an unrelated byte string of the same length (callers verify it, e.g. by opening an AEAD
    ciphertext under it).
    """
    if not isinstance(shares, list | tuple) or not shares:
        raise InvalidRequest("less than one share cannot be used to reconstruct the secret")
    if len(shares) > MAX_SHARES:
        raise InvalidRequest("more than 255 shares cannot come from one split")
    parts: list[bytes] = []
    for share in shares:
        if not isinstance(share, bytes | bytearray | memoryview):
            raise InvalidRequest("shares must be bytes")
        parts.append(bytes(share))
    length = len(parts[0])
    if length < 1 + SHARE_OVERHEAD:
        raise InvalidRequest("shares must be at least two bytes")
    if any(len(part) != length for part in parts):
        raise InvalidRequest("all shares must be the same length")
    xs = [part[-1] for part in parts]
    if 0 in xs:
        raise InvalidRequest("share has an invalid x coordinate")
    if len(set(xs)) != len(xs):
        raise InvalidRequest("duplicate share detected")

    # The Lagrange basis at x = 0 depends only on the x coordinates: compute it once.
    basis: list[int] = []
    for i, xi in enumerate(xs):
        b = 1
        for j, xj in enumerate(xs):
            if i != j:
                b = mult(b, div(xj, xi ^ xj))
        basis.append(b)
    secret = bytearray(length - SHARE_OVERHEAD)
    for idx in range(len(secret)):
        value = 0
        for part, b in zip(parts, basis, strict=True):
            value ^= mult(part[idx], b)
        secret[idx] = value
    return bytes(secret)
