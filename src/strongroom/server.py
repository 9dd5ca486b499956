"""Run the server: bootstrap once in the parent, then uvicorn workers over TLS."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from typing import Any

import uvicorn

from strongroom import logs
from strongroom.bootstrap import INTERNAL_TOKEN_ENV, build_runtime, first_start
from strongroom.config import RESOLVED_ENV, Settings, StartupError, load_settings
from strongroom.core.metrics import MULTIPROC_ENV
from strongroom.tls import TLS12_CIPHERS, TLSFiles, client_context, ensure_tls, server_context

log = logging.getLogger("strongroom")
#: listening sockets the parent binds before it prints anything, handed to the gateway and the vault by number
S3_FD_ENV = "STRONGROOM__S3_FD"
VAULT_FD_ENV = "STRONGROOM__VAULT_FD"
#: glibc malloc tuning of the gateway (the operator's own MALLOC_* variables win). Steady crypto buffers: a 1 MiB
#: feed allocates ~2 MiB and frees it at once (bench/crypto_limit.py), so blocks up to 8 MiB come from the heap (no
#: mmap/munmap per feed) and a heap keeps up to 4 MiB free at its top (no shrink and regrow per feed). The trim
#: threshold was 64 MiB: then no heap ever gave memory back, and every thread arena (glibc makes up to 8 per core,
#: one per worker thread that needs one) kept the high-water mark of the request buffers it ever held at once: in
#: bench/soak.py the gateway's RSS rose ~1.6 MiB a minute (mallinfo2: in-use flat, free bytes rising). Two arenas in
#: all are enough: the threads mostly allocate while holding the GIL. A 512 KiB mmap threshold with a 1 MiB trim
#: threshold was tried (docs/BENCHMARKS.md "Soak"): 8 MiB less RSS, the same slope, and large GETs up to a third
#: slower (page faults per buffer), so these stay.
GATEWAY_MALLOC_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(8 * 1024 * 1024),
    "MALLOC_TRIM_THRESHOLD_": str(4 * 1024 * 1024),
    "MALLOC_ARENA_MAX": "2",
}


def listen(host: str, port: int, what: str) -> socket.socket:
    """A listening TCP socket on host:port (as uvicorn binds), or StartupError in one line (a port in use)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = (exc.strerror or str(exc)).lower()
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise StartupError(f"cannot listen on {shown} for {what}: {reason}") from None
    return sock


def inherited_socket(env: str) -> socket.socket | None:
    """The listening socket the parent bound for this process (its descriptor number in ``env``), if any."""
    fd = os.environ.pop(env, "")
    return socket.socket(fileno=int(fd)) if fd.isdigit() else None


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

    def __init__(
        self,
        *args: Any,
        tls_files: TLSFiles | None = None,
        head_timeout: float = 0.0,
        max_connections: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.tls_files = tls_files
        self.head_timeout = head_timeout  # read by http/protocol.py's GatewayProtocol
        self.max_connections = max_connections

    def configure_logging(self) -> None:  # here and in every worker process uvicorn starts
        super().configure_logging()
        logging.captureWarnings(True)

    def load(self) -> None:
        uvicorn.Server._wait_tasks_to_complete = _wait_tasks_to_complete  # type: ignore[method-assign]
        super().load()
        if self.tls_files is not None:
            self.ssl = server_context(self.tls_files)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the vault child gets SIGTERM when the parent dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _wait_for_vault(settings: Settings, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    import httpx

    ca = settings.vault_ca_file()
    verify: ssl.SSLContext | bool = False
    if not settings.insecure_http and ca is not None:
        verify = client_context(ca)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the key vault exited with status {proc.returncode}")
        try:
            httpx.get(f"{settings.vault_endpoint}/v1/sys/health", verify=verify, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the key vault did not start")


def serve(settings: Settings) -> None:
    # both ports first: "address already in use" before any banner, and no window for another process to take them
    s3_sock = listen(settings.host, settings.port, "the S3 endpoint")
    try:
        vault_sock = listen(settings.host, settings.vault_port, "the key vault")
    except StartupError:
        s3_sock.close()
        raise
    logs.configure(settings.log_level, settings.log_format)
    rt = build_runtime(settings, run_migrations=True)
    first_start(rt)
    rt.close()
    scheme = "http" if settings.insecure_http else "https"
    tls_files: TLSFiles | None = None
    if settings.insecure_http:
        logs.notice(
            logging.WARNING,
            "WARNING: --insecure-http: TLS is OFF. Credentials, keys and data cross the network in the clear.",
            "Use this only for local debugging, never with real data.",
            loud=True,
        )
    else:
        tls_files = ensure_tls(settings)
        if tls_files.ca is not None:
            logs.notice(logging.INFO, f"TLS CA certificate for clients: {tls_files.ca.resolve()}")
    if not settings.audit_log:
        logs.notice(
            logging.WARNING,
            "WARNING: audit_log = false: no operation is recorded in the audit log. For measuring only.",
        )
    os.environ[RESOLVED_ENV] = settings.model_dump_json()
    os.environ[INTERNAL_TOKEN_ENV] = secrets.token_urlsafe(32)
    run_dir = settings.data_dir / "run"
    run_dir.mkdir(exist_ok=True, mode=0o700)
    ca_file = settings.vault_ca_file()
    ca = str(ca_file.resolve()) if ca_file is not None else ""
    (run_dir / "vault.json").write_text(json.dumps({"url": settings.vault_endpoint, "ca": ca}))
    host = "localhost" if settings.host in ("127.0.0.1", "0.0.0.0", "::", "::1") else settings.host  # noqa: S104
    (run_dir / "s3.json").write_text(json.dumps({"url": f"{scheme}://{host}:{settings.port}", "ca": ca}))
    # several gateway processes share their counters through files (core/metrics.py), emptied: they start at zero.
    # One process (the vault, a single gateway) keeps them in memory: a file write per count costs ~2x as much
    metrics_dir = run_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.environ.pop(MULTIPROC_ENV, None)
    vault_env = dict(os.environ, **{VAULT_FD_ENV: str(vault_sock.fileno())})
    vault = subprocess.Popen(
        [sys.executable, "-m", "strongroom.vaultserver"],
        preexec_fn=_die_with_parent,
        pass_fds=(vault_sock.fileno(),),
        env=vault_env,
    )
    vault_sock.close()  # the vault child holds it now
    try:
        _wait_for_vault(settings, vault)
    except BaseException:
        vault.terminate()
        raise
    logs.notice(logging.INFO, f"strongroom key vault: {settings.vault_endpoint}")
    logs.notice(logging.INFO, f"strongroom S3 endpoint: {scheme}://{settings.host}:{settings.port}")
    # Become the S3 gateway in a fresh interpreter: it imports only what serving needs (no CLI, no
    # migrations), which keeps every gateway's memory small. Same PID, so the vault child (which dies
    # with its parent) lives exactly as long as the gateway does.
    env = dict(os.environ)
    s3_sock.set_inheritable(True)
    env[S3_FD_ENV] = str(s3_sock.fileno())
    if settings.workers > 1:
        (metrics_dir / "s3").mkdir(parents=True, mode=0o700)
        env[MULTIPROC_ENV] = str(metrics_dir / "s3")
    env.update({k: v for k, v in GATEWAY_MALLOC_ENV.items() if k not in env})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "strongroom.gateway"], env)  # noqa: S606


def run_gateway() -> None:
    """The S3 gateway process (after serve's exec): settings come from the environment."""
    settings = load_settings()
    tls_files = None if settings.insecure_http else ensure_tls(settings)
    _run_s3(settings, tls_files)


def _run_s3(settings: Settings, tls_files: TLSFiles | None) -> None:
    from strongroom.http.protocol import GatewayProtocol

    kwargs: dict[str, Any] = dict(
        host=settings.host,
        port=settings.port,
        factory=True,
        workers=settings.workers,
        log_level=settings.log_level,
        log_config=logs.logging_config(settings.log_level, settings.log_format),
        access_log=False,  # http/accesslog.py writes the access lines (query values redacted)
        proxy_headers=False,
        server_header=False,
        date_header=True,
        timeout_graceful_shutdown=30,
        http=GatewayProtocol,  # httptools with a deadline and a size bound on the request head, a connection cap
        # S3 has no WebSocket endpoint: an "Upgrade: websocket" request must not leave the HTTP protocol (and with
        # it the head deadline and the connection cap) for uvicorn's WebSocket one, which answered a handshake 500
        # and held a POST that asked for one open with no deadline
        ws="none",
        head_timeout=settings.request_head_timeout_seconds,
        max_connections=settings.max_connections,
        # --workers N: a worker that misses the supervisor's ping this long is replaced. uvicorn's 5 s replaced
        # workers over and over on a loaded machine while they were still importing the app
        timeout_worker_healthcheck=30,
    )
    if tls_files is not None:
        kwargs.update(
            ssl_certfile=str(tls_files.cert),
            ssl_keyfile=str(tls_files.key),
            ssl_ciphers=TLS12_CIPHERS,
        )
    config = TLSConfig("strongroom.http.app:create_app", tls_files=tls_files, **kwargs)
    server = uvicorn.Server(config)
    sock = inherited_socket(S3_FD_ENV) or config.bind_socket()
    if settings.workers > 1:
        uvicorn.supervisors.Multiprocess(config, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])
