"""checksums.py: published check values, streaming updates, S3's base64 form, composite multipart checksums."""

from __future__ import annotations

import base64
import hashlib
import zlib

import pytest
from botocore.httpchecksum import Crc32Checksum, Sha1Checksum, Sha256Checksum
from hypothesis import given
from hypothesis import strategies as st

from strongroom.core import checksums
from strongroom.core.checksums import ALGORITHMS, Checksum, combine_composite
from strongroom.core.errors import BadDigest, InvalidArgument

CHECK = b"123456789"


@pytest.mark.parametrize(
    ("algorithm", "digest_hex"),
    [
        ("CRC32", "cbf43926"),  # CRC-32/ISO-HDLC check value
        ("CRC32C", "e3069283"),  # CRC-32/ISCSI check value
        ("SHA1", "f7c3bc1d808e04732adf679965ccc34ca7ae3441"),
        ("SHA256", "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"),
    ],
)
def test_published_check_values(algorithm: str, digest_hex: str) -> None:
    checksum = Checksum(algorithm)
    checksum.update(CHECK)
    assert checksum.digest().hex() == digest_hex
    assert checksum.b64() == base64.b64encode(bytes.fromhex(digest_hex)).decode()
    assert checksum.algorithm == algorithm


def test_empty_input() -> None:
    assert Checksum("CRC32").b64() == "AAAAAA=="
    assert Checksum("CRC32C").b64() == "AAAAAA=="
    assert Checksum("SHA256").digest() == hashlib.sha256().digest()


@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 2000), max_size=6))
def test_streaming_equals_one_shot(data: bytes, cuts: list[int]) -> None:
    bounds = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for algorithm in ALGORITHMS:
        streamed = Checksum(algorithm)
        for start, end in zip(bounds, bounds[1:], strict=False):
            streamed.update(memoryview(data)[start:end])
        assert streamed.b64() == checksums.checksum_of(algorithm, data)


@given(data=st.binary(max_size=3000))
def test_matches_botocore(data: bytes) -> None:
    for algorithm, cls in (("CRC32", Crc32Checksum), ("SHA1", Sha1Checksum), ("SHA256", Sha256Checksum)):
        theirs = cls()
        theirs.update(data)
        assert checksums.checksum_of(algorithm, data) == theirs.b64digest()


def test_digest_does_not_finalise() -> None:
    checksum = Checksum("CRC32")
    checksum.update(b"1234")
    checksum.digest()
    checksum.update(b"56789")
    assert checksum.digest().hex() == "cbf43926"


def test_verify() -> None:
    checksum = Checksum("CRC32C")
    checksum.update(CHECK)
    checksum.verify("4waSgw==")
    with pytest.raises(BadDigest):
        checksum.verify("AAAAAA==")
    for malformed in ("", "4waSgw", "4waSgw==AA", "!!!!!!!!", "4waS gw==", "é"):
        with pytest.raises(InvalidArgument):
            checksum.verify(malformed)


def test_unknown_algorithms_are_refused() -> None:
    for name in ("MD5", "crc32", "CRC64", "SHA512", ""):
        with pytest.raises(InvalidArgument):
            Checksum(name)


def test_crc64nvme_only_with_awscrt() -> None:
    try:
        import awscrt  # noqa: F401
    except ImportError:
        assert "CRC64NVME" not in ALGORITHMS
        with pytest.raises(InvalidArgument):
            Checksum("CRC64NVME")
    else:  # pragma: no cover - depends on the environment
        checksum = Checksum("CRC64NVME")
        checksum.update(CHECK)
        assert checksum.digest().hex() == "ae8b14860a799888"  # CRC-64/NVME check value


def test_header_names() -> None:
    assert checksums.header_name("CRC32C") == "x-amz-checksum-crc32c"
    assert checksums.algorithm_for_header("X-Amz-Checksum-SHA256") == "SHA256"
    assert checksums.algorithm_for_header("x-amz-checksum-crc64nvme") == "CRC64NVME"
    assert checksums.algorithm_for_header("x-amz-checksum-type") is None
    assert checksums.algorithm_for_header("content-md5") is None


def test_composite_checksum() -> None:
    parts = [b"a" * 5, b"b" * 7, b"c"]
    part_b64s = [checksums.checksum_of("CRC32", p) for p in parts]
    # Independently: CRC32 of the concatenated big-endian part CRCs, then "-<number of parts>".
    raw = b"".join(zlib.crc32(p).to_bytes(4, "big") for p in parts)
    expected = base64.b64encode(zlib.crc32(raw).to_bytes(4, "big")).decode() + "-3"
    assert combine_composite("CRC32", part_b64s) == expected
    sha_parts = [checksums.checksum_of("SHA256", p) for p in parts]
    sha_expected = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    assert combine_composite("SHA256", sha_parts) == base64.b64encode(sha_expected).decode() + "-3"
    # One part is still a composite of one.
    assert combine_composite("CRC32C", ["4waSgw=="]).endswith("-1")


def test_composite_rejections() -> None:
    with pytest.raises(InvalidArgument):
        combine_composite("CRC32", [])
    with pytest.raises(InvalidArgument):
        combine_composite("CRC32", ["4waSgw==", "not base64"])
    with pytest.raises(InvalidArgument):
        combine_composite("SHA256", ["4waSgw=="])  # a CRC32-sized value
    with pytest.raises(InvalidArgument):
        combine_composite("CRC64NVME", ["AAAAAAAAAAA="])
