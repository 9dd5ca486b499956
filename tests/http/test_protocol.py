"""GatewayProtocol (http/protocol.py) on an in-memory transport: the head deadline, the head bound, the cap.

The end-to-end cases over real TLS are in tests/e2e/test_s3_slow_clients.py; here the timing is exact.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from strongroom.http import protocol
from strongroom.http.protocol import MAX_HEAD_BYTES, GatewayProtocol

pytestmark = pytest.mark.anyio


@pytest.fixture()
def anyio_backend() -> str:
    return "asyncio"  # uvicorn's protocols run on asyncio


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.out = b""
        self.closed = False
        self.paused = False

    def write(self, data: Any) -> None:
        self.out += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8443)}.get(name, default)

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False


async def ok_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def make(state: ServerState | None = None, **attrs: Any) -> tuple[GatewayProtocol, Transport]:
    config = Config(ok_app, http=GatewayProtocol)
    for name, value in attrs.items():
        setattr(config, name, value)
    config.load()
    proto = GatewayProtocol(config, state or ServerState(), {}, asyncio.get_running_loop())
    transport = Transport()
    proto.connection_made(transport)
    return proto, transport


def answer(out: bytes) -> tuple[int, str, bytes]:
    head, _, body = out.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, (ET.fromstring(body).findtext("Code") or "") if body.startswith(b"<?xml") else "", body


@pytest.fixture(autouse=True)
def quick_linger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol, "LINGER_SECONDS", 0.05)


async def test_a_silent_connection_is_closed_at_the_deadline_without_an_answer() -> None:
    proto, t = make(head_timeout=0.2)
    await asyncio.sleep(0.1)
    assert not t.closed
    await asyncio.sleep(0.2)
    assert t.closed and t.out == b""


async def test_the_deadline_counts_from_the_connection_for_the_whole_head() -> None:
    proto, t = make(head_timeout=0.3)
    for line in (b"GET / HTTP/1.1\r\n", b"host: x\r\n", b"a: 1\r\n", b"b: 2\r\n"):
        proto.data_received(line)  # each line promptly, the head never finished
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.15)
    status, code, _ = answer(t.out)
    assert (status, code) == (400, "RequestTimeout")
    assert b"connection: close" in t.out and t.paused
    await asyncio.sleep(0.1)
    assert t.closed  # after the linger


async def test_a_complete_head_disarms_the_deadline_and_the_next_request_gets_its_own() -> None:
    proto, t = make(head_timeout=0.2)
    proto.data_received(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    await asyncio.sleep(0.3)  # the request ran; no deadline passed for it
    assert t.out.startswith(b"HTTP/1.1 200") and not t.closed
    t.out = b""
    proto.data_received(b"GET / HTTP/1.1\r\n")
    await asyncio.sleep(0.3)
    assert answer(t.out)[:2] == (400, "RequestTimeout")


@pytest.mark.parametrize("piece", [16384, 100_000])
async def test_a_head_past_the_bound_is_refused_in_pieces_or_in_one_read(piece: int) -> None:
    proto, t = make(head_timeout=5)
    head = b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n"
    for i in range(0, len(head), piece):
        proto.data_received(head[i : i + piece])
    status, code, body = answer(t.out)
    assert (status, code) == (400, "RequestHeaderSectionTooLarge")
    assert ET.fromstring(body).findtext("MaxSizeAllowed") == str(MAX_HEAD_BYTES)
    assert t.out.count(b"HTTP/1.1") == 1  # one answer, not uvicorn's too


async def test_a_head_just_under_the_bound_is_served() -> None:
    proto, t = make(head_timeout=5)
    proto.data_received(b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * (MAX_HEAD_BYTES - 200) + b"\r\n\r\n")
    await asyncio.sleep(0.05)
    assert t.out.startswith(b"HTTP/1.1 200")


async def test_malformed_http_is_the_s3_error_document() -> None:
    proto, t = make()
    proto.data_received(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n")
    assert answer(t.out)[:2] == (400, "InvalidRequest")
    assert t.out.count(b"HTTP/1.1") == 1


async def test_a_request_past_the_connection_cap_gets_slow_down() -> None:
    state = ServerState()
    first, t1 = make(state, max_connections=1)
    second, t2 = make(state, max_connections=1)
    second.data_received(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    await asyncio.sleep(0.05)
    assert answer(t2.out)[:2] == (503, "SlowDown")
    first.data_received(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    await asyncio.sleep(0.05)
    assert t1.out.startswith(b"HTTP/1.1 200")
