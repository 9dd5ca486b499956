"""The gateway's HTTP/1.1 connection protocol: uvicorn's httptools protocol with the deadlines it lacks.

uvicorn bounds the idle time *between* requests (``timeout_keep_alive``) but nothing else: a client that opens a
connection and sends nothing, or trickles its request head one byte a second, holds a connection and a parser
forever. Here:

* **The request head has one deadline** (``head_timeout`` seconds), counted from the connection's start for its
  first request and from the request's first byte for the next ones, not per line: a head still incomplete when
  it passes gets S3's ``400 RequestTimeout`` and the connection is closed. A connection that sent no byte at all is
  just closed.
* **The request head is bounded** (``MAX_HEAD_BYTES``, request line and headers): past it, S3's
  ``400 RequestHeaderSectionTooLarge`` and the connection is closed. (httptools, unlike h11, has no such bound.)
* **A connection cap** (``max_connections`` per process): a request on a connection that opened past the cap is
  answered ``503 SlowDown`` and its connection closed, before the app sees it; the connections already open keep
  working.

The idle-body timeout lives in the ASGI app (``http/app.py``: the request's own error document, audit entry and
metrics). uvicorn passes its ``Config`` to each protocol; ``GatewayConfig`` in ``server.py`` carries the values.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from strongroom.http.s3 import xml
from strongroom.http.s3.errors import CODES

DEFAULT_HEAD_TIMEOUT = 20.0
DEFAULT_MAX_CONNECTIONS = 1024
#: Request line plus headers, as received. AWS allows 8 KiB of headers; strongroom's bound is looser (long
#: presigned URLs and keys) but a bound: what a head may make the parser hold.
MAX_HEAD_BYTES = 64 * 1024
LINGER_SECONDS = 1.0


def error_bytes(code: str, **extra: str) -> bytes:
    """A complete ``Connection: close`` HTTP response carrying S3's error document for ``code``."""
    status, message = CODES[code]
    rid = secrets.token_hex(8).upper()
    body = xml.render_error(code, message, "/", rid, extra, host_id=rid)
    reason = {400: b"Bad Request", 503: b"Service Unavailable"}[status]
    head = [
        b"HTTP/1.1 %d %s" % (status, reason),
        b"content-type: application/xml",
        b"content-length: %d" % len(body),
        b"x-amz-request-id: " + rid.encode("ascii"),
        b"server: strongroom",
        b"connection: close",
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def _slow_down(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI app a request past the connection cap gets instead of strongroom's."""
    status, message = CODES["SlowDown"]
    rid = secrets.token_hex(8).upper()
    body = xml.render_error("SlowDown", message, scope.get("path") or "/", rid, host_id=rid)
    headers = [
        (b"content-type", b"application/xml"),
        (b"content-length", b"%d" % len(body)),
        (b"x-amz-request-id", rid.encode("ascii")),
        (b"server", b"strongroom"),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Refused(Exception):
    """Raised from a parser callback after the connection was answered and closed: nothing more is parsed."""


class GatewayProtocol(HttpToolsProtocol):
    """httptools' protocol with a whole-head deadline and a per-process connection cap (module docstring)."""

    def __init__(self, config: Any, server_state: Any, app_state: Any, _loop: Any = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_timeout: float = getattr(config, "head_timeout", DEFAULT_HEAD_TIMEOUT)
        self.max_connections: int = getattr(config, "max_connections", DEFAULT_MAX_CONNECTIONS)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = False  # a byte of the current request head has arrived
        self._over_cap = False
        self._refused = False  # answered with an error and closing: nothing more is read
        self._head_size = 0  # bytes received while a head was being read (bounds a head that never ends)
        self._head_len = 0  # the head's own bytes: URL, names and values (bounds a head that came in one read)

    # --- the head deadline --------------------------------------------------------------------------------------
    def _arm_head(self) -> None:
        if self._head_timer is None and self.head_timeout > 0:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_expired)

    def _disarm_head(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.transport is None or self.transport.is_closing() or self._refused:
            return
        busy = self.cycle is not None and not self.cycle.response_complete
        if self._head_bytes and not busy:
            self._refuse("RequestTimeout")
        else:
            self.transport.close()

    def _refuse(self, code: str, **extra: str) -> None:
        """Answer ``code`` and close, lingering: reads stop at once, the close comes LINGER_SECONDS later, so a
        client still sending gets to read the answer before its next bytes meet a reset."""
        self._disarm_head()
        if self._refused or self.transport.is_closing():
            return
        self._refused = True
        self.transport.write(error_bytes(code, **extra))
        self.flow.pause_reading()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        reading_head = self._head_bytes or self.cycle is None or self.cycle.response_complete
        if reading_head:
            self._head_size += len(data)
        super().data_received(data)
        if reading_head and self._head_bytes and self._head_size > MAX_HEAD_BYTES:
            self._refuse("RequestHeaderSectionTooLarge", MaxSizeAllowed=str(MAX_HEAD_BYTES))

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # past the cap when it opened: its requests are refused, the connections already open keep working
        self._over_cap = 0 < self.max_connections < len(self.connections)
        self._arm_head()  # a connection that never sends a byte is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self._refuse("InvalidRequest")  # malformed HTTP: S3's XML, not uvicorn's text (nothing after _refuse's own)

    def on_url(self, url: bytes) -> None:
        self._head_len += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_len += len(name) + len(value) + 4
        super().on_header(name, value)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = True
        self._head_len = 0
        self._arm_head()  # the first request keeps the deadline counted from the connection's start

    def on_headers_complete(self) -> None:
        self._disarm_head()
        self._head_bytes = False
        self._head_size = 0
        if self._head_len > MAX_HEAD_BYTES:  # the whole head came in one read, too big
            self._refuse("RequestHeaderSectionTooLarge", MaxSizeAllowed=str(MAX_HEAD_BYTES))
            raise _Refused  # stops the parser: httptools re-raises it, uvicorn answers with send_400_response
        self._head_len = 0
        if self._over_cap:
            app, self.app = self.app, _slow_down
            try:
                super().on_headers_complete()
            finally:
                self.app = app
            return
        super().on_headers_complete()
