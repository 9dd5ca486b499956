"""The additional checksums S3 clients send and ask for, computed as a stream.

S3 carries every checksum as the base64 of its big-endian digest, in an
``x-amz-checksum-<algorithm>`` header or aws-chunked trailer. CRC64NVME needs
``awscrt``; without it the algorithm is not offered (:data:`ALGORITHMS`) and
asking for it is an :class:`~strongroom.core.errors.InvalidArgument`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import zlib
from collections.abc import Callable
from typing import Protocol

import crc32c as _crc32c

from strongroom.core.errors import BadDigest, InvalidArgument

try:  # pragma: no cover - depends on the environment
    from awscrt import checksums as _crt_checksums
except ImportError:  # pragma: no cover - depends on the environment
    _crt_checksums = None

Buffer = bytes | bytearray | memoryview

_HEADER_PREFIX = "x-amz-checksum-"


class _Digest(Protocol):
    def update(self, data: Buffer, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A CRC kept as an integer and rendered big-endian."""

    __slots__ = ("_fn", "_size", "_value")

    def __init__(self, fn: Callable[[Buffer, int], int], size: int) -> None:
        self._fn = fn
        self._size = size
        self._value = 0

    def update(self, data: Buffer, /) -> None:
        self._value = self._fn(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")


def _crc32(data: Buffer, value: int) -> int:
    return zlib.crc32(data, value)


def _crc32c_fn(data: Buffer, value: int) -> int:
    return int(_crc32c.crc32c(data, value))


def _crc64nvme(data: Buffer, value: int) -> int:  # pragma: no cover - needs awscrt
    assert _crt_checksums is not None
    return int(_crt_checksums.crc64nvme(bytes(data), value))


_FACTORIES: dict[str, Callable[[], _Digest]] = {
    "CRC32": lambda: _Crc(_crc32, 4),
    "CRC32C": lambda: _Crc(_crc32c_fn, 4),
    "SHA1": lambda: hashlib.sha1(),  # noqa: S324 - S3's checksum, not a security control
    "SHA256": lambda: hashlib.sha256(),
}
_SIZES = {"CRC32": 4, "CRC32C": 4, "SHA1": 20, "SHA256": 32, "CRC64NVME": 8}
if _crt_checksums is not None:  # pragma: no cover - depends on the environment
    _FACTORIES["CRC64NVME"] = lambda: _Crc(_crc64nvme, 8)

#: Algorithms this build can compute, in S3's upper-case spelling.
ALGORITHMS: tuple[str, ...] = tuple(_FACTORIES)

#: Algorithms whose multipart checksum may be COMPOSITE (checksum of the part checksums).
COMPOSITE_ALGORITHMS: tuple[str, ...] = tuple(a for a in ("CRC32", "CRC32C", "SHA1", "SHA256") if a in ALGORITHMS)


def _check_algorithm(algorithm: str) -> str:
    if algorithm not in _FACTORIES:
        raise InvalidArgument(
            f"Checksum algorithm {algorithm!r} is not supported; use one of {', '.join(ALGORITHMS)}.",
            ArgumentName="x-amz-checksum-algorithm",
        )
    return algorithm


def header_name(algorithm: str) -> str:
    """The header (or trailer) that carries ``algorithm``'s value: ``x-amz-checksum-crc32``."""
    return _HEADER_PREFIX + _check_algorithm(algorithm).lower()


def algorithm_for_header(name: str) -> str | None:
    """The algorithm an ``x-amz-checksum-*`` header or trailer name carries, None if not a checksum."""
    lowered = name.lower()
    if not lowered.startswith(_HEADER_PREFIX):
        return None
    algorithm = lowered[len(_HEADER_PREFIX) :].upper()
    return algorithm if algorithm in _SIZES else None


def decode_b64(algorithm: str, value: str) -> bytes:
    """Decode a checksum as S3 carries it; refuse anything that is not base64 of the right size."""
    _check_algorithm(algorithm)
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b""
    if len(raw) != _SIZES[algorithm]:
        raise InvalidArgument(
            f"Value for {header_name(algorithm)} header is invalid.",
            ArgumentName=header_name(algorithm),
        )
    return raw


class Checksum:
    """An incremental checksum. ``digest()`` does not finalise: more data may follow."""

    __slots__ = ("_algorithm", "_impl")

    def __init__(self, algorithm: str) -> None:
        self._algorithm = _check_algorithm(algorithm)
        self._impl = _FACTORIES[algorithm]()

    @property
    def algorithm(self) -> str:
        return self._algorithm

    def update(self, data: Buffer) -> None:
        self._impl.update(data)

    def digest(self) -> bytes:
        """The big-endian digest of everything fed so far."""
        return self._impl.digest()

    def b64(self) -> str:
        """The digest as S3 headers carry it."""
        return base64.b64encode(self.digest()).decode("ascii")

    def verify(self, expected_b64: str) -> None:
        """Raise :class:`BadDigest` unless the data fed so far matches the client's value."""
        expected = decode_b64(self._algorithm, expected_b64)
        if not hmac.compare_digest(expected, self.digest()):
            raise BadDigest(
                f"The {self._algorithm} you specified did not match the calculated checksum.",
                algorithm=self._algorithm,
            )


def checksum_of(algorithm: str, data: Buffer) -> str:
    """The base64 checksum of ``data`` in one call."""
    c = Checksum(algorithm)
    c.update(data)
    return c.b64()


def combine_composite(algorithm: str, part_b64s: list[str]) -> str:
    """A multipart upload's COMPOSITE checksum: the checksum of the parts' raw digests, ``-<parts>``.

    ``part_b64s`` are the parts' base64 checksums in part-number order.
    """
    _check_algorithm(algorithm)
    if algorithm not in COMPOSITE_ALGORITHMS:
        raise InvalidArgument(f"The {algorithm} checksum supports only the FULL_OBJECT checksum type.")
    if not part_b64s:
        raise InvalidArgument("A composite checksum needs at least one part.")
    combined = Checksum(algorithm)
    for value in part_b64s:
        combined.update(decode_b64(algorithm, value))
    return f"{combined.b64()}-{len(part_b64s)}"
