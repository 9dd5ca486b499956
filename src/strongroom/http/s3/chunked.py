"""aws-chunked request bodies, decoded as a stream with bounded buffers.

Wire format, by ``x-amz-content-sha256``::

    STREAMING-AWS4-HMAC-SHA256-PAYLOAD
        <hex-size>;chunk-signature=<sig>\\r\\n<data>\\r\\n ... 0;chunk-signature=<sig>\\r\\n\\r\\n
    STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
        ... 0;chunk-signature=<sig>\\r\\n<name>:<value>\\r\\n ...
        x-amz-trailer-signature:<sig>\\r\\n\\r\\n
    STREAMING-UNSIGNED-PAYLOAD-TRAILER
        <hex-size>\\r\\n<data>\\r\\n ... 0\\r\\n<name>:<value>\\r\\n ... \\r\\n

Chunk *n*'s signature is HMAC(signing key, "AWS4-HMAC-SHA256-PAYLOAD" \\n date \\n
scope \\n signature(n-1) \\n sha256("") \\n sha256(data)), chained from the
request's seed signature; the trailer signature chains from the final chunk's.

Decoded bytes are yielded as they arrive, before their chunk's signature (and
the trailing checksum) is checked: a consumer must treat an exception from the
iterator as "discard everything", which it must do anyway for a short body.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator

from strongroom.http.s3.errors import S3Error, s3_error
from strongroom.http.s3.sigv4 import EMPTY_SHA256, STREAMING_MODES, AuthContext, sign_hex, signatures_equal

DEFAULT_MAX_CHUNK_SIZE = 16 * 1024 * 1024
#: AWS: every signed chunk but the last data chunk carries at least 8 KiB.
MIN_SIGNED_CHUNK_SIZE = 8192
MAX_LINE = 1024
MAX_TRAILERS = 16
TRAILER_SIGNATURE = "x-amz-trailer-signature"

_SIGNED_CHUNK_HEADER = re.compile(rb"([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})")
_UNSIGNED_CHUNK_HEADER = re.compile(rb"[0-9a-fA-F]{1,16}")
_TRAILER_NAME = re.compile(r"x-amz-checksum-[a-z0-9]{1,32}")
_TOKEN = re.compile(rb"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}")


def _malformed(detail: str) -> S3Error:
    return s3_error("InvalidRequest", f"Malformed aws-chunked body: {detail}.")


def _incomplete() -> S3Error:
    return s3_error("IncompleteBody", "The request body terminated unexpectedly.")


def _malformed_trailer(detail: str) -> S3Error:
    return s3_error("MalformedTrailerError", f"The request contained trailing data that was not well-formed: {detail}.")


class _Reader:
    """Pulls pieces from an async byte source; holds at most one piece plus a partial line."""

    __slots__ = ("_buf", "_pos", "_source")

    def __init__(self, source: AsyncIterable[bytes]) -> None:
        self._source = source.__aiter__()
        self._buf = b""
        self._pos = 0

    async def _fill(self) -> bool:
        while True:
            try:
                piece = await self._source.__anext__()
            except StopAsyncIteration:
                return False
            if piece:
                break
        rest = self._buf[self._pos :]
        self._buf = rest + bytes(piece) if rest else bytes(piece)
        self._pos = 0
        return True

    async def line(self, limit: int = MAX_LINE) -> bytes:
        """The next CRLF-terminated line, without its CRLF."""
        while True:
            end = self._buf.find(b"\r\n", self._pos, self._pos + limit + 2)
            if end >= 0:
                line = self._buf[self._pos : end]
                self._pos = end + 2
                return line
            if len(self._buf) - self._pos >= limit + 2:
                raise _malformed("line too long or not terminated by CRLF")
            if not await self._fill():
                raise _incomplete()

    async def read(self, limit: int) -> bytes:
        """Between 1 and ``limit`` bytes."""
        if self._pos >= len(self._buf) and not await self._fill():
            raise _incomplete()
        end = min(len(self._buf), self._pos + limit)
        data = self._buf[self._pos : end]
        self._pos = end
        return data

    async def crlf(self) -> None:
        while len(self._buf) - self._pos < 2:
            if not await self._fill():
                raise _incomplete()
        if self._buf[self._pos : self._pos + 2] != b"\r\n":
            raise _malformed("chunk data not followed by CRLF")
        self._pos += 2

    async def at_end(self) -> bool:
        return self._pos >= len(self._buf) and not await self._fill()


class ChunkedDecoder:
    """Decodes one aws-chunked body for an authenticated request; ``trailers`` once it is done.

    ``trailer_names`` are the lower-cased names the signed ``x-amz-trailer`` header
    declared; exactly those must arrive. Trailers are only parsed, not checked
    against the data: verify ``x-amz-checksum-*`` values with core.checksums.
    """

    def __init__(
        self, auth: AuthContext, trailer_names: list[str], max_chunk_size: int = DEFAULT_MAX_CHUNK_SIZE
    ) -> None:
        if auth.payload_mode not in STREAMING_MODES:
            raise ValueError(f"payload mode {auth.payload_mode!r} is not aws-chunked")
        if max_chunk_size < 1:
            raise ValueError("max_chunk_size must be positive")
        self._auth = auth
        self._signed = auth.payload_mode in ("streaming-signed", "streaming-signed-trailer")
        self._with_trailer = auth.payload_mode in ("streaming-signed-trailer", "streaming-unsigned-trailer")
        self._max_chunk_size = max_chunk_size
        names = [name.strip().lower() for name in trailer_names if name.strip()]
        if names and not self._with_trailer:
            raise s3_error("InvalidRequest", "x-amz-trailer requires x-amz-content-sha256 to name a -TRAILER payload.")
        if len(set(names)) != len(names) or len(names) > MAX_TRAILERS - 1:
            raise s3_error("InvalidRequest", "The value specified in the x-amz-trailer header is not supported")
        for name in names:
            if not _TRAILER_NAME.fullmatch(name):
                raise s3_error("InvalidRequest", "The value specified in the x-amz-trailer header is not supported")
        self._trailer_names = names
        self._started = False
        self._done = False
        self.trailers: dict[str, str] = {}

    @property
    def done(self) -> bool:
        """True once the whole body decoded and verified."""
        return self._done

    async def decode(self, source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        if self._started:
            raise RuntimeError("a ChunkedDecoder decodes one body")
        self._started = True
        reader = _Reader(source)
        auth = self._auth
        expected_length = auth.decoded_length
        previous = auth.seed_signature
        total = 0
        short_chunk_seen = False
        while True:
            size, signature = self._chunk_header(await reader.line())
            if size > self._max_chunk_size:
                raise _malformed(f"chunk of {size} bytes exceeds the {self._max_chunk_size}-byte limit")
            if expected_length is not None and total + size > expected_length:
                raise s3_error("InvalidRequest", "The aws-chunked body is longer than x-amz-decoded-content-length.")
            if self._signed and size and short_chunk_seen:
                raise s3_error("InvalidChunkSizeError")
            if size == 0:
                if self._signed:
                    previous = self._verify_chunk(previous, EMPTY_SHA256, signature)
                break
            digest = hashlib.sha256() if self._signed else None
            remaining = size
            while remaining:
                data = await reader.read(remaining)
                remaining -= len(data)
                if digest is not None:
                    digest.update(data)
                yield data
            await reader.crlf()
            if digest is not None:
                previous = self._verify_chunk(previous, digest.hexdigest(), signature)
            total += size
            short_chunk_seen = size < MIN_SIGNED_CHUNK_SIZE
        if expected_length is not None and total != expected_length:
            raise _incomplete()
        trailers = await self._read_trailers(reader, previous)
        if not await reader.at_end():
            raise _malformed("data after the final chunk")
        self.trailers = trailers
        self._done = True

    def _chunk_header(self, line: bytes) -> tuple[int, str]:
        if self._signed:
            match = _SIGNED_CHUNK_HEADER.fullmatch(line)
            if match is None:
                raise _malformed("bad chunk header, expected <hex-size>;chunk-signature=<signature>")
            return int(match.group(1), 16), match.group(2).decode("ascii")
        if not _UNSIGNED_CHUNK_HEADER.fullmatch(line):
            raise _malformed("bad chunk header, expected <hex-size>")
        return int(line, 16), ""

    def _verify_chunk(self, previous: str, data_sha256: str, signature: str) -> str:
        auth = self._auth
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", auth.amz_date, auth.scope, previous, EMPTY_SHA256, data_sha256])
        if not signatures_equal(sign_hex(auth.signing_key, sts.encode("ascii")), signature):
            raise s3_error("SignatureDoesNotMatch")
        return signature

    async def _read_trailers(self, reader: _Reader, previous: str) -> dict[str, str]:
        lines: list[tuple[str, bytes]] = []
        while True:
            line = await reader.line()
            if not line:
                break
            if not self._with_trailer:
                raise _malformed("trailing headers are not allowed for this payload")
            if len(lines) >= MAX_TRAILERS:
                raise _malformed_trailer("too many trailing headers")
            raw_name, sep, raw_value = line.partition(b":")
            if not sep or not _TOKEN.fullmatch(raw_name):
                raise _malformed_trailer("a trailing header is not <name>:<value>")
            value = raw_value.strip(b" \t")
            if any(b < 0x20 or b == 0x7F for b in value):
                raise _malformed_trailer("a trailing header value holds control characters")
            lines.append((raw_name.decode("ascii").lower(), value))

        if self._signed and self._with_trailer:
            if not lines or lines[-1][0] != TRAILER_SIGNATURE:
                raise s3_error("SignatureDoesNotMatch", "The trailing headers are not signed.")
            signature = lines.pop()[1].decode("latin-1")
            canonical = b"".join(name.encode("ascii") + b":" + value + b"\n" for name, value in lines)
            sts = "\n".join(
                [
                    "AWS4-HMAC-SHA256-TRAILER",
                    self._auth.amz_date,
                    self._auth.scope,
                    previous,
                    hashlib.sha256(canonical).hexdigest(),
                ]
            )
            if not signatures_equal(sign_hex(self._auth.signing_key, sts.encode("ascii")), signature):
                raise s3_error("SignatureDoesNotMatch")

        trailers: dict[str, str] = {}
        for name, value in lines:
            if name in trailers or name not in self._trailer_names:
                raise _malformed_trailer(f"unexpected trailing header {name}")
            trailers[name] = value.decode("latin-1")
        missing = [name for name in self._trailer_names if name not in trailers]
        if missing:
            raise _malformed_trailer(f"missing trailing header {', '.join(missing)}")
        return trailers


def decode_aws_chunked(
    source: AsyncIterable[bytes],
    auth: AuthContext,
    trailer_names: list[str],
    max_chunk_size: int = DEFAULT_MAX_CHUNK_SIZE,
) -> AsyncIterator[bytes]:
    """Decode one aws-chunked body. Use :class:`ChunkedDecoder` to read the trailers afterwards."""
    return ChunkedDecoder(auth, trailer_names, max_chunk_size).decode(source)
