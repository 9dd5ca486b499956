"""Slow and oversized clients (issue 12, hardening): the request head has one deadline, a paused body gets S3's
RequestTimeout, the head has a size bound, and a gateway process holds a bounded number of connections.

Raw TLS sockets send exactly the bytes each case needs; h11 (a maintained HTTP parser) reads the answers, so a
connection the server drops without an answer shows up as such.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import h11
import pytest
import tests.conftest as _ct
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from strongroom.devserver import ROOT_ACCESS, ROOT_SECRET

pytestmark = pytest.mark.e2e

HEAD_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ct.Server]:
    srv = _ct.start_server(
        tmp_path_factory.mktemp("slow-clients") / "data",
        env={
            "STRONGROOM_REQUEST_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT),
            "STRONGROOM_REQUEST_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        },
    )
    srv.client().create_bucket(Bucket="slow")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ct.Server]:
    srv = _ct.start_server(tmp_path_factory.mktemp("capped") / "data", env={"STRONGROOM_MAX_CONNECTIONS": "4"})
    yield srv
    srv.stop()


def connect(srv: _ct.Server) -> ssl.SSLSocket:
    ctx = ssl.create_default_context(cafile=srv.ca)
    port = int(srv.endpoint.rsplit(":", 1)[1])
    raw = socket.create_connection(("localhost", port), timeout=30)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_response(sock: ssl.SSLSocket) -> tuple[int, dict[bytes, bytes], bytes]:
    """One whole response (status, headers, body) or AssertionError if the connection ends before it does."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("host", "x")]))  # h11's state: a request was sent
    conn.send(h11.EndOfMessage())
    status, headers, body = 0, {}, bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = sock.recv(65536)
            assert data or status, "the connection was closed without an answer"
            assert data, "the connection was closed in the middle of the answer"
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Response):
            status, headers = event.status_code, dict(event.headers)
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return status, headers, bytes(body)


def trickle(sock: ssl.SSLSocket, pieces: list[bytes], pause: float) -> tuple[int, dict[bytes, bytes], bytes]:
    """Send ``pieces`` ``pause`` seconds apart from a thread while this one reads the answer, which ends it."""
    done = threading.Event()

    def send() -> None:
        for piece in pieces:
            if done.wait(pause):
                return
            try:
                sock.sendall(piece)
            except (OSError, ValueError):  # the server closed: the answer is what counts
                return

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        return read_response(sock)
    finally:
        done.set()
        sender.join(timeout=10)


def closed_by_server(sock: ssl.SSLSocket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, ssl.SSLError):
        return True


def code_of(body: bytes) -> str:
    return ET.fromstring(body).findtext("Code") or ""


def signed_head(srv: _ct.Server, method: str, path: str, body: bytes = b"") -> bytes:
    """The head of a SigV4-signed request for ``body`` (which the caller sends, or not, as the case needs)."""
    req = AWSRequest(method=method, url=srv.endpoint + path, data=body, headers={"content-length": str(len(body))})
    S3SigV4Auth(Credentials(ROOT_ACCESS, ROOT_SECRET), "s3", "local").add_auth(req)
    host = srv.endpoint.split("://", 1)[1]
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}"]
    lines += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_head_trickled_line_by_line_is_cut_off_at_the_deadline(slow: _ct.Server) -> None:
    """Each line arrives well within the deadline; the head as a whole does not: the deadline is for the head."""
    sock = connect(slow)
    started = time.monotonic()
    sock.sendall(b"GET /slow/k HTTP/1.1\r\nhost: localhost\r\n")
    status, headers, body = trickle(sock, [b"x-trickle-%d: 1\r\n" % i for i in range(40)], 0.5)
    elapsed = time.monotonic() - started
    assert status == 400 and code_of(body) == "RequestTimeout"
    assert headers[b"connection"] == b"close"
    assert HEAD_TIMEOUT - 0.1 <= elapsed < HEAD_TIMEOUT + 5, elapsed
    assert closed_by_server(sock)


def test_the_deadline_holds_for_a_head_that_has_not_begun_and_for_the_next_request(slow: _ct.Server) -> None:
    silent = connect(slow)
    started = time.monotonic()
    assert closed_by_server(silent)  # no byte sent: closed, nothing to answer
    assert time.monotonic() - started < HEAD_TIMEOUT + 5
    # a keep-alive connection: the first request is answered, the second one's head is trickled
    sock = connect(slow)
    sock.sendall(signed_head(slow, "GET", "/slow"))
    status, _, _ = read_response(sock)
    assert status == 200
    sock.sendall(b"GET /slow HTTP/1.1\r\n")
    status, _, body = read_response(sock)
    assert status == 400 and code_of(body) == "RequestTimeout"


def test_forty_slow_heads_are_all_closed_and_the_server_keeps_serving(slow: _ct.Server) -> None:
    socks = [connect(slow) for _ in range(40)]
    for s in socks:
        s.sendall(b"PUT /slow/k HTTP/1.1\r\nhost: localhost\r\n")
    answers = [read_response(s) for s in socks]
    assert {(a[0], code_of(a[2])) for a in answers} == {(400, "RequestTimeout")}
    assert all(closed_by_server(s) for s in socks)
    s3 = slow.client()
    s3.put_object(Bucket="slow", Key="after", Body=b"fine")
    assert s3.get_object(Bucket="slow", Key="after")["Body"].read() == b"fine"


def test_a_body_that_stops_gets_request_timeout_and_the_previous_object_stays(slow: _ct.Server) -> None:
    s3 = slow.client()
    s3.put_object(Bucket="slow", Key="kept", Body=b"previous version")
    sock = connect(slow)
    sock.sendall(signed_head(slow, "PUT", "/slow/kept", b"x" * 100) + b"x" * 15)
    started = time.monotonic()
    status, headers, body = read_response(sock)
    assert status == 400 and code_of(body) == "RequestTimeout", body
    assert headers[b"connection"] == b"close"
    assert BODY_TIMEOUT - 0.1 <= time.monotonic() - started < BODY_TIMEOUT + 5
    assert closed_by_server(sock)
    assert s3.get_object(Bucket="slow", Key="kept")["Body"].read() == b"previous version"


def test_a_slow_but_steady_body_and_a_long_slow_download_are_not_cut(slow: _ct.Server) -> None:
    """The body deadline is per pause, not per request, and ends with the body: a GET read slowly is served."""
    sock = connect(slow)
    sock.sendall(signed_head(slow, "PUT", "/slow/steady", b"12345"))
    for byte in b"12345":  # 5 pauses of 0.8 s: 4 s in all, twice the timeout
        time.sleep(0.8)
        sock.sendall(bytes([byte]))
    status, _, body = read_response(sock)
    assert status == 200, body
    s3 = slow.client()
    assert s3.get_object(Bucket="slow", Key="steady")["Body"].read() == b"12345"
    payload = bytes(range(256)) * 16384  # 4 MiB
    s3.put_object(Bucket="slow", Key="big", Body=payload)
    stream = s3.get_object(Bucket="slow", Key="big")["Body"]
    got = bytearray()
    started = time.monotonic()
    while chunk := stream.read(256 * 1024):
        got += chunk
        time.sleep(0.25)
    assert time.monotonic() - started > BODY_TIMEOUT + 1
    assert bytes(got) == payload


@pytest.mark.parametrize("trickled", [False, True])
def test_an_oversized_head_is_request_header_section_too_large(slow: _ct.Server, trickled: bool) -> None:
    sock = connect(slow)
    head = b"GET /slow/k HTTP/1.1\r\nhost: localhost\r\nx-big: " + b"a" * 70_000
    if trickled:  # in pieces, never finished: the bound holds before the head ends
        status, _, body = trickle(sock, [head[i : i + 4096] for i in range(0, len(head), 4096)], 0.01)
    else:
        sock.sendall(head + b"\r\n\r\n")
        status, _, body = read_response(sock)
    assert status == 400 and code_of(body) == "RequestHeaderSectionTooLarge", body
    assert ET.fromstring(body).findtext("MaxSizeAllowed") == "65536"
    assert closed_by_server(sock)


def test_malformed_http_gets_the_s3_error_document(slow: _ct.Server) -> None:
    sock = connect(slow)
    sock.sendall(b"GET /slow HTTP/1.1\r\nhost localhost\r\n\r\n")  # a header line without a colon
    status, headers, body = read_response(sock)
    assert status == 400 and code_of(body) == "InvalidRequest"
    assert headers[b"content-type"] == b"application/xml"
    assert closed_by_server(sock)


def test_past_the_connection_cap_a_request_gets_slow_down(capped: _ct.Server) -> None:
    held = [connect(capped) for _ in range(4)]
    extra = connect(capped)
    extra.sendall(signed_head(capped, "GET", "/"))
    status, headers, body = read_response(extra)
    assert status == 503 and code_of(body) == "SlowDown", body
    assert headers[b"connection"] == b"close"
    for s in held:
        s.close()
    deadline = time.monotonic() + 10
    while True:  # the server sees the closes a moment later
        again = connect(capped)
        again.sendall(signed_head(capped, "GET", "/"))
        status, _, _ = read_response(again)
        again.close()
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200
