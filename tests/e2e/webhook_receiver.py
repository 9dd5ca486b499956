"""A real local webhook receiver for the e2e tests: stdlib http.server in a thread, recording every POST and
answering with queued statuses (then 200); and the check a receiver makes of a delivery's signature."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Receiver:
    port: int = 0
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [b for _, b in self.got]


@contextmanager
def receiving() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with rec.lock:
                rec.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = rec.statuses.pop(0) if rec.statuses else 200
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        httpd.shutdown()
        httpd.server_close()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: recompute the MAC over ``timestamp "." body`` and compare in constant time."""
    mac = hmac.new(secret.encode(), headers["x-strongroom-timestamp"].encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(headers["x-strongroom-signature"], "sha256=" + mac.hexdigest())
