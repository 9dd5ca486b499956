"""chunked.py: aws-chunked bodies from AWS's worked examples and real botocore, fed in random slices."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import random
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum, Sha1Checksum, Sha256Checksum

from strongroom.core.checksums import Checksum
from strongroom.http.s3.chunked import ChunkedDecoder, decode_aws_chunked
from strongroom.http.s3.errors import S3Error
from strongroom.http.s3.sigv4 import AuthContext, authenticate

EMPTY = hashlib.sha256(b"").hexdigest()

# --- AWS's worked examples (sigv4-streaming, sigv4-streaming-trailers) ---------------

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_NOW = datetime(2013, 5, 24, tzinfo=UTC)
AWS_CHUNK_SIGNATURES = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
]
AWS_TRAILER_CHUNK_SIGNATURES = [
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
]
AWS_TRAILER_SIGNATURE = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"


def aws_context(trailer: bool) -> AuthContext:
    """Authenticate the documented request: this checks the documented seed signature too."""
    headers = {
        "content-encoding": "aws-chunked",
        "host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-decoded-content-length": "66560",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
    }
    if trailer:
        headers["x-amz-content-sha256"] = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
        headers["x-amz-trailer"] = "x-amz-checksum-crc32c"
        signed = "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
        signed += "x-amz-storage-class;x-amz-trailer"
        seed = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
    else:
        headers["x-amz-content-sha256"] = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
        headers["content-length"] = "66824"
        signed = "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        signed += "x-amz-decoded-content-length;x-amz-storage-class"
        seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={AWS_KEY}/20130524/us-east-1/s3/aws4_request,"
        f"SignedHeaders={signed},Signature={seed}"
    )
    lookup = {AWS_KEY: AWS_SECRET}.get
    ctx = authenticate("PUT", "/examplebucket/chunkObject.txt", "", headers, lookup, AWS_NOW)
    assert ctx.seed_signature == seed
    return ctx


def aws_body(trailer: bool) -> bytes:
    sigs = AWS_TRAILER_CHUNK_SIGNATURES if trailer else AWS_CHUNK_SIGNATURES
    body = f"10000;chunk-signature={sigs[0]}\r\n".encode() + b"a" * 65536 + b"\r\n"
    body += f"400;chunk-signature={sigs[1]}\r\n".encode() + b"a" * 1024 + b"\r\n"
    body += f"0;chunk-signature={sigs[2]}\r\n".encode()
    if trailer:
        body += f"x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:{AWS_TRAILER_SIGNATURE}\r\n".encode()
    return body + b"\r\n"


# --- helpers ---------------------------------------------------------------------------


async def _slices(data: bytes, rng: random.Random, max_piece: int) -> AsyncIterator[bytes]:
    pos = 0
    while pos < len(data):
        size = rng.randint(0, max_piece)  # empty pieces happen on the wire too
        yield data[pos : pos + size]
        pos += size


def decode(
    auth: AuthContext,
    body: bytes,
    trailer_names: Iterable[str] = (),
    *,
    seed: int = 0,
    max_piece: int = 7,
    **kw: Any,
) -> tuple[bytes, dict[str, str], list[bytes]]:
    decoder = ChunkedDecoder(auth, list(trailer_names), **kw)

    async def run() -> list[bytes]:
        return [piece async for piece in decoder.decode(_slices(body, random.Random(seed), max_piece))]

    pieces = asyncio.run(run())
    assert decoder.done
    return b"".join(pieces), decoder.trailers, pieces


def refused(auth: AuthContext, body: bytes, trailer_names: Iterable[str] = (), **kw: Any) -> S3Error:
    with pytest.raises(S3Error) as info:
        decode(auth, body, trailer_names, **kw)
    return info.value


# --- real signing: botocore for the seed, the documented algorithm for the chunks ------

ACCESS = "AKIASTRONGROOMTEST01"
SECRET = "chunky/secret+key"
NOW = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)


def _lookup(access_key: str) -> str | None:
    return SECRET if access_key == ACCESS else None


class _StreamingSigner(botocore.auth.S3SigV4Auth):
    def __init__(self, payload: str) -> None:
        super().__init__(Credentials(ACCESS, SECRET), "s3", "us-east-1")
        self._literal = payload

    def payload(self, request: Any) -> str:
        return self._literal


def botocore_streaming_context(payload: str, decoded_length: int | None, trailer: str | None = None) -> AuthContext:
    headers = {"Content-Encoding": "aws-chunked"}
    if decoded_length is not None:
        headers["X-Amz-Decoded-Content-Length"] = str(decoded_length)
    if trailer:
        headers["X-Amz-Trailer"] = trailer
    request = AWSRequest("PUT", "https://localhost:8443/bkt/obj", headers=headers)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        _StreamingSigner(payload).add_auth(request)
    wire = {k.lower(): v for k, v in request.headers.items()}
    wire["host"] = urlsplit(request.url).netloc
    return authenticate("PUT", "/bkt/obj", "", wire, _lookup, NOW)


def _signing_key(secret: str, date: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign_chunks(
    auth: AuthContext,
    chunks: list[bytes],
    trailers: list[tuple[str, str]] | None = None,
    *,
    secret: str = SECRET,
) -> bytes:
    """An aws-chunked body signed as the AWS docs describe (independent of the code under test)."""
    key = _signing_key(secret, auth.scope[:8])
    previous = auth.seed_signature
    body = b""
    for chunk in [*chunks, b""]:
        sts = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                auth.amz_date,
                auth.scope,
                previous,
                EMPTY,
                hashlib.sha256(chunk).hexdigest(),
            ]
        )
        previous = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        body += f"{len(chunk):x};chunk-signature={previous}\r\n".encode()
        if chunk:
            body += chunk + b"\r\n"
    if trailers is not None:
        canonical = "".join(f"{name}:{value}\n" for name, value in trailers)
        sts = "\n".join(
            [
                "AWS4-HMAC-SHA256-TRAILER",
                auth.amz_date,
                auth.scope,
                previous,
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        signature = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        for name, value in trailers:
            body += f"{name}:{value}\r\n".encode()
        body += f"x-amz-trailer-signature:{signature}\r\n".encode()
    return body + b"\r\n"


def botocore_unsigned_context(decoded_length: int) -> AuthContext:
    """The context of a real botocore PutObject over https (STREAMING-UNSIGNED-PAYLOAD-TRAILER)."""
    session = boto3.session.Session(aws_access_key_id=ACCESS, aws_secret_access_key=SECRET, region_name="us-east-1")
    client = session.client("s3", endpoint_url="https://localhost:8443", config=Config(s3={"addressing_style": "path"}))
    sent: list[Any] = []

    def capture(request: Any, **_: Any) -> AWSResponse:
        sent.append(request)
        raise RuntimeError("captured")

    client.meta.events.register("before-send", capture)
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)),
        pytest.raises(RuntimeError),
    ):
        client.put_object(Bucket="bkt", Key="obj", Body=b"x" * decoded_length)
    request = sent[0]
    wire = {k.lower(): v.decode("latin-1") if isinstance(v, bytes) else v for k, v in request.headers.items()}
    wire["host"] = urlsplit(request.url).netloc
    return authenticate("PUT", urlsplit(request.url).path, "", wire, _lookup, NOW)


@pytest.fixture(scope="module")
def unsigned_ctx() -> AuthContext:
    ctx = botocore_unsigned_context(5)
    assert ctx.payload_mode == "streaming-unsigned-trailer"
    return ctx


# --- the worked examples -------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_aws_example_streaming_signed(seed: int) -> None:
    data, trailers, _ = decode(aws_context(False), aws_body(False), seed=seed, max_piece=5000)
    assert data == b"a" * 66560 and trailers == {}
    assert len(aws_body(False)) == 66824  # the documented Content-Length


@pytest.mark.parametrize("seed", range(4))
def test_aws_example_streaming_signed_with_trailer(seed: int) -> None:
    ctx = aws_context(True)
    data, trailers, _ = decode(ctx, aws_body(True), ["x-amz-checksum-crc32c"], seed=seed, max_piece=5000)
    assert data == b"a" * 66560
    assert trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}
    crc = Checksum("CRC32C")
    crc.update(data)
    crc.verify(trailers["x-amz-checksum-crc32c"])


def test_the_test_signer_reproduces_the_aws_example() -> None:
    ctx = aws_context(False)
    assert sign_chunks(ctx, [b"a" * 65536, b"a" * 1024], secret=AWS_SECRET) == aws_body(False)
    ctx = aws_context(True)
    body = sign_chunks(ctx, [b"a" * 65536, b"a" * 1024], [("x-amz-checksum-crc32c", "sOO8/Q==")], secret=AWS_SECRET)
    assert body == aws_body(True)


def test_aws_example_every_byte_matters() -> None:
    ctx = aws_context(False)
    body = aws_body(False)
    rng = random.Random(7)
    for position in [0, 30, 100, 65536 + 90, 65536 + 200, len(body) - 30] + rng.sample(range(len(body)), 12):
        flipped = bytearray(body)
        flipped[position] ^= 0x01
        with pytest.raises(S3Error):
            decode(ctx, bytes(flipped), max_piece=9000)


def test_aws_example_chunks_cannot_be_reordered_or_dropped() -> None:
    ctx = aws_context(False)
    body = aws_body(False)
    split = body.index(b"\r\n") + 2 + 65536 + 2
    first, rest = body[:split], body[split:]
    assert rest.startswith(b"400;chunk-signature=")
    # Swapped: chunk 2 is not signed over the seed.
    assert refused(replace(ctx, decoded_length=None), rest + first).code == "SignatureDoesNotMatch"
    # Dropped: chunk 2 alone does not chain from the seed either.
    assert refused(replace(ctx, decoded_length=1024), rest).code == "SignatureDoesNotMatch"


# --- botocore's unsigned aws-chunked bodies ------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 5, 1024 * 1024, 1024 * 1024 + 17])
@pytest.mark.parametrize(
    ("checksum_cls", "name", "algorithm"),
    [
        (Crc32Checksum, "x-amz-checksum-crc32", "CRC32"),
        (Sha1Checksum, "x-amz-checksum-sha1", "SHA1"),
        (Sha256Checksum, "x-amz-checksum-sha256", "SHA256"),
    ],
)
def test_botocore_unsigned_trailer_bodies(
    size: int, checksum_cls: Any, name: str, algorithm: str, unsigned_ctx: AuthContext
) -> None:
    data = random.Random(size).randbytes(size)
    body = AwsChunkedWrapper(io.BytesIO(data), checksum_cls=checksum_cls, checksum_name=name).read()
    ctx = replace(unsigned_ctx, decoded_length=size)
    max_piece = 7 if size < 100 else 65536
    decoded, trailers, _ = decode(ctx, body, [name], max_piece=max_piece)
    assert decoded == data
    checksum = Checksum(algorithm)
    checksum.update(decoded)
    assert trailers == {name: checksum.b64()}


@pytest.mark.parametrize("seed", range(20))
def test_botocore_small_chunks_random_slices(seed: int, unsigned_ctx: AuthContext) -> None:
    rng = random.Random(seed)
    data = rng.randbytes(rng.randint(0, 300))
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=rng.randint(1, 40),
    )
    body = b"".join(wrapper)
    decoded, trailers, _ = decode(
        replace(unsigned_ctx, decoded_length=len(data)), body, ["x-amz-checksum-crc32"], seed=seed
    )
    assert decoded == data
    assert set(trailers) == {"x-amz-checksum-crc32"}


def test_botocore_put_object_body_end_to_end() -> None:
    session = boto3.session.Session(aws_access_key_id=ACCESS, aws_secret_access_key=SECRET, region_name="us-east-1")
    client = session.client("s3", endpoint_url="https://localhost:8443", config=Config(s3={"addressing_style": "path"}))
    data = random.Random(3).randbytes(1024 * 1024 + 5)
    captured: dict[str, Any] = {}

    def capture(request: Any, **_: Any) -> AWSResponse:
        captured["headers"] = {
            k.lower(): v.decode("latin-1") if isinstance(v, bytes) else v for k, v in request.headers.items()
        }
        captured["headers"]["host"] = urlsplit(request.url).netloc
        captured["body"] = request.body.read()
        raise RuntimeError("captured")

    client.meta.events.register("before-send", capture)
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)),
        pytest.raises(RuntimeError),
    ):
        client.put_object(Bucket="bkt", Key="big", Body=io.BytesIO(data), ChecksumAlgorithm="SHA256")
    headers = captured["headers"]
    ctx = authenticate("PUT", "/bkt/big", "", headers, _lookup, NOW)
    names = [n.strip().lower() for n in headers["x-amz-trailer"].split(",")]
    decoded, trailers, _ = decode(ctx, captured["body"], names, max_piece=100_000)
    assert decoded == data
    checksum = Checksum("SHA256")
    checksum.update(data)
    assert trailers == {"x-amz-checksum-sha256": checksum.b64()}


# --- signed bodies from a botocore-signed seed ------------------------------------------


def test_signed_streaming_from_botocore_seed() -> None:
    rng = random.Random(11)
    chunks = [rng.randbytes(8192), rng.randbytes(70000), rng.randbytes(5)]
    data = b"".join(chunks)
    ctx = botocore_streaming_context("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", len(data))
    assert ctx.payload_mode == "streaming-signed"
    decoded, trailers, _ = decode(ctx, sign_chunks(ctx, chunks), max_piece=3000)
    assert decoded == data and trailers == {}
    # The same body under another secret's signatures is refused.
    assert refused(ctx, sign_chunks(ctx, chunks, secret="other")).code == "SignatureDoesNotMatch"


def test_signed_streaming_with_trailer_from_botocore_seed() -> None:
    data = random.Random(12).randbytes(20000)
    ctx = botocore_streaming_context(
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", len(data), trailer="x-amz-checksum-crc32"
    )
    assert ctx.payload_mode == "streaming-signed-trailer"
    crc = Checksum("CRC32")
    crc.update(data)
    trailer = [("x-amz-checksum-crc32", crc.b64())]
    body = sign_chunks(ctx, [data[:10000], data[10000:]], trailer)
    decoded, trailers, _ = decode(ctx, body, ["x-amz-checksum-crc32"], max_piece=999)
    assert decoded == data and trailers == dict(trailer)
    # A trailer changed in flight breaks the trailer signature.
    forged = body.replace(crc.b64().encode(), b"AAAAAA==")
    assert refused(ctx, forged, ["x-amz-checksum-crc32"]).code == "SignatureDoesNotMatch"
    # So does a missing trailer signature.
    unsigned = body[: body.index(b"x-amz-trailer-signature")] + b"\r\n"
    assert refused(ctx, unsigned, ["x-amz-checksum-crc32"]).code == "SignatureDoesNotMatch"


def test_large_chunks_stream_in_pieces() -> None:
    chunk = random.Random(13).randbytes(1024 * 1024)
    ctx = botocore_streaming_context("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", len(chunk))
    decoded, _, pieces = decode(ctx, sign_chunks(ctx, [chunk]), max_piece=4096)
    assert decoded == chunk
    assert len(pieces) > 200 and max(len(p) for p in pieces) <= 4096


def test_signed_chunks_below_8k_only_at_the_end() -> None:
    ctx = botocore_streaming_context("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 8192 + 100)
    decode(ctx, sign_chunks(ctx, [b"x" * 8192, b"y" * 100]))
    err = refused(ctx, sign_chunks(ctx, [b"y" * 100, b"x" * 8192]))
    assert (err.code, err.status) == ("InvalidChunkSizeError", 403)


# --- framing rejections ---------------------------------------------------------------------


def test_unsigned_framing_rejections(unsigned_ctx: AuthContext) -> None:
    ctx = replace(unsigned_ctx, decoded_length=5)
    names = ["x-amz-checksum-crc32"]
    good = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"
    assert decode(ctx, good, names)[:2] == (b"hello", {"x-amz-checksum-crc32": "NhCmhg=="})
    cases = {
        b"zz\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n": "InvalidRequest",  # bad hex
        b"-5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n": "InvalidRequest",
        b" 5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n": "InvalidRequest",
        b"5\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n": "InvalidRequest",  # bare LF
        b"5\r\nhelloXX0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n": "InvalidRequest",  # no CRLF after data
        b"5;chunk-signature=" + b"0" * 64 + b"\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n": (
            "InvalidRequest"
        ),
        b"4\r\nhell\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n": "IncompleteBody",  # shorter than declared
        b"6\r\nhello!\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n": "InvalidRequest",  # longer than declared
        b"5\r\nhello\r\n0\r\n\r\n": "MalformedTrailerError",  # declared trailer missing
        b"5\r\nhello\r\n0\r\nx-amz-checksum-sha1:NhCmhg==\r\n\r\n": "MalformedTrailerError",  # undeclared
        b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n": (
            "MalformedTrailerError"
        ),
        b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32 NhCmhg==\r\n\r\n": "MalformedTrailerError",
        b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:Nh\x01Cm==\r\n\r\n": "MalformedTrailerError",
        good + b"extra": "InvalidRequest",  # data after the end
        b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n": "IncompleteBody",  # no final CRLF
    }
    for body, code in cases.items():
        assert refused(ctx, body, names).code == code, body
    # Truncated anywhere: never accepted.
    for cut in range(len(good)):
        assert refused(ctx, good[:cut], names).code in ("IncompleteBody", "InvalidRequest"), cut
    # Unknown length (no x-amz-decoded-content-length): whatever arrives, within the framing.
    assert decode(replace(ctx, decoded_length=None), good, names)[0] == b"hello"


def test_trailer_rules(unsigned_ctx: AuthContext) -> None:
    ctx = replace(unsigned_ctx, decoded_length=0)
    many = b"0\r\n" + b"".join(b"x-amz-checksum-c%d:AA==\r\n" % i for i in range(40)) + b"\r\n"
    assert refused(ctx, many, ["x-amz-checksum-crc32"]).code == "MalformedTrailerError"
    # Declared trailer names must be checksum trailers, once each.
    for names in (["content-type"], ["x-amz-checksum-crc32", "x-amz-checksum-crc32"], ["x-amz-trailer-signature"]):
        with pytest.raises(S3Error) as info:
            ChunkedDecoder(ctx, names)
        assert info.value.code == "InvalidRequest"
    # Trailers need a -TRAILER payload.
    signed = botocore_streaming_context("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", 0)
    with pytest.raises(S3Error):
        ChunkedDecoder(signed, ["x-amz-checksum-crc32"])
    body = sign_chunks(signed, [])
    assert decode(signed, body)[0] == b""
    with_trailer = body[:-2] + b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    assert refused(signed, with_trailer).code == "InvalidRequest"


def test_signed_framing_rejections() -> None:
    data = b"z" * 9000
    ctx = botocore_streaming_context("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", len(data))
    good = sign_chunks(ctx, [data])
    decode(ctx, good)
    header_end = good.index(b"\r\n")
    no_signature = b"2328\r\n" + good[header_end + 2 :]
    assert refused(ctx, no_signature).code == "InvalidRequest"
    short_signature = good[: header_end - 1] + good[header_end:]
    assert refused(ctx, short_signature).code == "InvalidRequest"
    upper = good[:header_end].upper().replace(b"CHUNK-SIGNATURE", b"chunk-signature") + good[header_end:]
    assert refused(ctx, upper).code == "InvalidRequest"
    # The final chunk's signature counts too.
    final = good.rindex(b"0;chunk-signature=")
    tampered = good[: final + 18] + (b"0" if good[final + 18] != ord("0") else b"1") + good[final + 19 :]
    assert refused(ctx, tampered).code == "SignatureDoesNotMatch"
    # Dropping the final chunk is a short body.
    assert refused(ctx, good[:final]).code == "IncompleteBody"


def test_chunk_size_limit_is_checked_before_reading() -> None:
    data = b"q" * 4096
    ctx = botocore_streaming_context("STREAMING-AWS4-HMAC-SHA256-PAYLOAD", len(data))
    body = sign_chunks(ctx, [data])
    err = refused(ctx, body, max_chunk_size=4095)
    assert err.code == "InvalidRequest" and "exceeds" in err.message
    huge = b"fffffffffffffff;chunk-signature=" + b"0" * 64 + b"\r\n"
    assert refused(replace(ctx, decoded_length=None), huge).code == "InvalidRequest"
    too_many_digits = b"1" + b"0" * 16 + b";chunk-signature=" + b"0" * 64 + b"\r\n"
    assert refused(ctx, too_many_digits).code == "InvalidRequest"


def test_buffering_is_bounded(unsigned_ctx: AuthContext) -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 512
            yield b"1" * 512

    async def run() -> None:
        async for _ in ChunkedDecoder(unsigned_ctx, ["x-amz-checksum-crc32"]).decode(endless()):
            pass

    with pytest.raises(S3Error) as info:
        asyncio.run(run())
    assert info.value.code == "InvalidRequest"
    assert pulled <= 4096


def test_decoder_contract(unsigned_ctx: AuthContext) -> None:
    presigned = replace(unsigned_ctx, payload_mode="presigned")
    with pytest.raises(ValueError):
        ChunkedDecoder(presigned, [])
    with pytest.raises(ValueError):
        ChunkedDecoder(unsigned_ctx, [], max_chunk_size=0)
    ctx = replace(unsigned_ctx, decoded_length=0)
    decoder = ChunkedDecoder(ctx, [])
    assert not decoder.done and decoder.trailers == {}

    async def body() -> AsyncIterator[bytes]:
        yield b"0\r\n\r\n"

    async def drain(iterator: AsyncIterator[bytes]) -> bytes:
        return b"".join([piece async for piece in iterator])

    assert asyncio.run(drain(decoder.decode(body()))) == b""
    assert decoder.done
    with pytest.raises(RuntimeError):
        asyncio.run(drain(decoder.decode(body())))
    assert asyncio.run(drain(decode_aws_chunked(body(), ctx, []))) == b""
