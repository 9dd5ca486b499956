"""http.accesslog.AccessLog: one access line per request, its query values redacted, with the response's request id."""

from __future__ import annotations

import logging

import anyio
import pytest
from starlette.types import Message, Receive, Scope, Send

from strongroom.http.accesslog import AccessLog

SIGNATURE = "ab" * 32
QUERY = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=SRKEY%2F20250102%2Flocal%2Fs3%2Faws4_request"
    "&X-Amz-Date=20250102T030405Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=" + SIGNATURE
)
LOGGER = "strongroom.test.access"


def _scope(path: str = "/b/my%20key", query: str = QUERY, scope_type: str = "http") -> Scope:
    return {
        "type": scope_type,
        "method": "GET",
        "path": path.replace("%20", " "),
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "http_version": "1.1",
        "client": ("127.0.0.1", 5000),
        "headers": [(b"authorization", b"AWS4-HMAC-SHA256 Signature=" + SIGNATURE.encode())],
    }


def _app(status: int = 200, headers: list[tuple[bytes, bytes]] | None = None, fail: bool = False):
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if fail:
            raise RuntimeError("boom")
        await send({"type": "http.response.start", "status": status, "headers": headers or []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def _run(app, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    anyio.run(AccessLog(app, LOGGER), scope, receive, send)
    return sent


def _lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def test_a_presigned_request_is_logged_with_its_secrets_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    sent = _run(_app(403, [(b"content-type", b"application/xml"), (b"x-amz-request-id", b"REQ123")]), _scope())
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]  # passed through as they were
    (record,) = _lines(caplog)
    target = (
        "/b/my%20key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[redacted]&X-Amz-Date=20250102T030405Z"
        "&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=[redacted]"
    )
    assert record.getMessage() == f'127.0.0.1:5000 - "GET {target} HTTP/1.1" 403'
    assert record.levelno == logging.INFO
    fields = {k: getattr(record, k) for k in ("method", "path", "status", "client", "request_id")}
    assert fields == {
        "method": "GET",
        "path": target,
        "status": 403,
        "client": "127.0.0.1:5000",
        "request_id": "REQ123",
    }
    assert SIGNATURE not in caplog.text and "SRKEY" not in caplog.text


def test_the_admin_apis_request_id_header_and_no_query(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    _run(_app(200, [(b"x-request-id", b"ADM1")]), _scope("/_strongroom/api/v1/tenants", ""))
    (record,) = _lines(caplog)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /_strongroom/api/v1/tenants HTTP/1.1" 200'
    assert (record.path, record.request_id) == ("/_strongroom/api/v1/tenants", "ADM1")


def test_no_request_id_header_no_request_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    _run(_app(204), _scope("/v1/sys/health", "list=true"))
    (record,) = _lines(caplog)
    assert (record.path, record.status, record.request_id) == ("/v1/sys/health?list=true", 204, None)


def test_an_app_that_fails_before_answering_is_logged_as_500(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    with pytest.raises(RuntimeError, match="boom"):
        _run(_app(fail=True), _scope())
    (record,) = _lines(caplog)
    assert record.status == 500 and record.getMessage().endswith('HTTP/1.1" 500')


def test_nothing_is_logged_below_info_or_for_other_scopes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    assert [m["type"] for m in _run(_app(), _scope())] == ["http.response.start", "http.response.body"]
    caplog.set_level(logging.INFO, logger=LOGGER)
    _run(_app(), _scope(scope_type="websocket"))
    assert _lines(caplog) == []
