"""Run the server: bootstrap once in the parent, then uvicorn workers over TLS."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from typing import Any

import uvicorn

from strongroom.bootstrap import build_runtime, first_start
from strongroom.config import RESOLVED_ENV, Settings
from strongroom.tls import TLS12_CIPHERS, TLSFiles, ensure_tls, server_context

log = logging.getLogger("strongroom")


async def _wait_tasks_to_complete(self: uvicorn.Server) -> None:
    """Graceful shutdown that does not wait on idle keep-alive TLS connections.

    uvicorn closes idle connections with transport.close(), which over TLS waits up to 30 s for the
    peer's close_notify; idle clients never send it. In-flight requests still run to completion.
    """
    while self.server_state.connections and not self.force_exit:
        for conn in list(self.server_state.connections):
            cycle = getattr(conn, "cycle", None)
            transport = getattr(conn, "transport", None)
            if transport is not None and (cycle is None or cycle.response_complete):
                transport.abort()
                self.server_state.connections.discard(conn)
        await asyncio.sleep(0.1)
    while self.server_state.tasks and not self.force_exit:
        await asyncio.sleep(0.1)


class TLSConfig(uvicorn.Config):
    """uvicorn config whose SSL context is strongroom's (TLS 1.2 minimum, AEAD ciphers, optional mTLS)."""

    def __init__(self, *args: Any, tls_files: TLSFiles | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tls_files = tls_files

    def load(self) -> None:
        uvicorn.Server._wait_tasks_to_complete = _wait_tasks_to_complete  # type: ignore[method-assign]
        super().load()
        if self.tls_files is not None:
            self.ssl = server_context(self.tls_files)


def serve(settings: Settings) -> None:
    rt = build_runtime(settings, run_migrations=True)
    creds = first_start(rt)
    rt.repo.close()
    scheme = "http" if settings.insecure_http else "https"
    if creds is not None:
        print("=" * 72)
        print("strongroom root credentials (shown once; the secret is not stored in plaintext):")
        print(f"  access key: {creds.access_key}")
        print(f"  secret key: {creds.secret_key}")
        print("=" * 72, flush=True)
    tls_files: TLSFiles | None = None
    if settings.insecure_http:
        banner = "!" * 72
        print(banner, file=sys.stderr)
        print(
            "WARNING: --insecure-http: TLS is OFF. Credentials, keys and data cross the network in the clear.",
            file=sys.stderr,
        )
        print("Use this only for local debugging, never with real data.", file=sys.stderr)
        print(banner, file=sys.stderr, flush=True)
    else:
        tls_files = ensure_tls(settings)
        if tls_files.ca is not None:
            print(f"TLS CA certificate for clients: {tls_files.ca.resolve()}", flush=True)
    os.environ[RESOLVED_ENV] = settings.model_dump_json()
    print(f"strongroom S3 endpoint: {scheme}://{settings.host}:{settings.port}", flush=True)
    kwargs: dict[str, Any] = dict(
        host=settings.host,
        port=settings.port,
        factory=True,
        workers=settings.workers,
        log_level=settings.log_level,
        proxy_headers=False,
        server_header=False,
        date_header=True,
        timeout_graceful_shutdown=30,
        h11_max_incomplete_event_size=64 * 1024,
    )
    if tls_files is not None:
        kwargs.update(
            ssl_certfile=str(tls_files.cert),
            ssl_keyfile=str(tls_files.key),
            ssl_ciphers=TLS12_CIPHERS,
        )
    config = TLSConfig("strongroom.http.app:create_app", tls_files=tls_files, **kwargs)
    server = uvicorn.Server(config)
    if settings.workers > 1:
        sock = config.bind_socket()
        uvicorn.supervisors.Multiprocess(config, sockets=[sock]).run()
    else:
        server.run()
