"""The access log: one line per request, written when the response starts (uvicorn's own stays off).

uvicorn's access log prints the request target as it came, so a presigned URL's signature and credential would
land in the log. This one keeps the path and every query parameter's name, but only the values ``logs.redact_query``
knows to be harmless; it never sees a header.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from strongroom.logs import redact_query

_REQUEST_ID_HEADERS = (b"x-amz-request-id", b"x-request-id")


class AccessLog:
    """ASGI middleware: logs ``client - "METHOD target HTTP/v" status`` at INFO with the fields method, path,
    status, client and request_id (the response's ``x-amz-request-id`` or ``x-request-id``)."""

    def __init__(self, app: ASGIApp, logger: str = "strongroom.access") -> None:
        self.app = app
        self.log = logging.getLogger(logger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = False

        async def logged_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                self.line(scope, message["status"], _request_id(message))
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        except BaseException:
            if not started:
                self.line(scope, 500, None)  # uvicorn answers 500 for the app
            raise

    def line(self, scope: Scope, status: int, request_id: str | None) -> None:
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else quote(scope.get("root_path", "") + scope["path"])
        query = scope.get("query_string", b"").decode("latin-1")
        target = path + "?" + redact_query(query) if query else path
        host_port = scope.get("client")
        client = f"{host_port[0]}:{host_port[1]}" if host_port else "-"
        method = scope["method"]
        self.log.info(
            '%s - "%s %s HTTP/%s" %d',
            client,
            method,
            target,
            scope.get("http_version", "1.1"),
            status,
            extra={"method": method, "path": target, "status": status, "client": client, "request_id": request_id},
        )


def _request_id(message: Message) -> str | None:
    for name, value in message.get("headers", ()):
        if name.lower() in _REQUEST_ID_HEADERS:
            return bytes(value).decode("latin-1")
    return None
