"""Security property: the S3 listener speaks only modern TLS, and key files are private.

TLS 1.0/1.1 and plain HTTP on the TLS port fail; TLS 1.2 (AEAD suites only) and TLS 1.3 work and verify against the
generated CA at DATA/tls/ca.pem for localhost and 127.0.0.1. Root key files under DATA/keys and DATA/tls/*-key.pem are
mode 0600 (and their directories 0700).
"""

from __future__ import annotations

import socket
import ssl
import stat
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import Server

pytestmark = pytest.mark.e2e


def _client_ctx(server: Server, lo: ssl.TLSVersion, hi: ssl.TLSVersion, ciphers: str | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(server.ca)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1/TLSv1_1 members are deprecated
        if ciphers:
            ctx.set_ciphers(ciphers)
        ctx.minimum_version = lo
        ctx.maximum_version = hi
    return ctx


def _handshake(port: int, ctx: ssl.SSLContext, host: str = "localhost") -> tuple[str | None, str | None]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            cipher = tls.cipher()
            return tls.version(), cipher[0] if cipher else None


def _legacy_versions() -> tuple[ssl.TLSVersion, ssl.TLSVersion]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1


def _legacy_control_server(server: Server) -> tuple[int, threading.Thread]:
    """A throwaway TLS 1.0/1.1-only listener with the same certificate: proves the client side can speak TLS 1.1 here,
    so a failed handshake with strongroom is strongroom's refusal, not a client limitation."""
    v10, v11 = _legacy_versions()
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        sctx.minimum_version = v10
        sctx.maximum_version = v11
    tls_dir = server.data_dir / "tls"
    sctx.load_cert_chain(str(tls_dir / "server.pem"), str(tls_dir / "server-key.pem"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            with sctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except OSError:
            pass
        finally:
            listener.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return int(listener.getsockname()[1]), t


def test_tls_1_1_and_older_refused(server: Server) -> None:
    v10, v11 = _legacy_versions()
    legacy = _client_ctx(server, v10, v11, "DEFAULT:@SECLEVEL=0")
    control_port, t = _legacy_control_server(server)
    try:
        version, _cipher = _handshake(control_port, legacy)
    except ssl.SSLError as exc:
        pytest.skip(f"this OpenSSL cannot negotiate TLS 1.1 even with itself ({exc}); the check would be vacuous")
    finally:
        t.join(10)
    assert version in ("TLSv1", "TLSv1.1")

    for hi in (v10, v11):
        ctx = _client_ctx(server, v10, hi, "DEFAULT:@SECLEVEL=0")
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            got = _handshake(server.port, ctx)
            pytest.fail(f"strongroom accepted {got}")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls1.2", "tls1.3"])
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_modern_tls_works_with_the_generated_ca(server: Server, version: ssl.TLSVersion, host: str) -> None:
    ctx = _client_ctx(server, version, version)
    got, cipher = _handshake(server.port, ctx, host)
    assert got == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
    if version == ssl.TLSVersion.TLSv1_2:
        assert cipher is not None and cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher), cipher
    r = httpx.get(f"https://{host}:{server.port}/_strongroom/health", verify=ctx, timeout=10)
    assert r.status_code == 200
    assert r.headers.get("strict-transport-security", "").startswith("max-age=")


@pytest.mark.parametrize(
    "ciphers",
    ["ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA", "AES128-SHA:AES256-SHA256:AES128-GCM-SHA256"],
    ids=["ecdhe-cbc", "static-rsa"],
)
def test_tls_1_2_refuses_non_aead_and_non_forward_secret_suites(server: Server, ciphers: str) -> None:
    ctx = _client_ctx(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, ciphers)
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        got = _handshake(server.port, ctx)
        pytest.fail(f"strongroom accepted {got}")


def test_untrusted_clients_cannot_verify_without_the_ca(server: Server) -> None:
    """The certificate is from the private CA: a client with only the system store refuses it (no silent trust)."""
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(server.port, ssl.create_default_context())


def test_wrong_hostname_is_rejected(server: Server) -> None:
    ctx = _client_ctx(server, ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(server.port, ctx, "not-this-server.example")


def test_plain_http_on_the_tls_port_is_refused(server: Server) -> None:
    try:
        r = httpx.get(f"http://localhost:{server.port}/_strongroom/health", timeout=10)
    except httpx.HTTPError:
        pass
    else:
        assert r.status_code >= 400 and b'"ok"' not in r.content, (r.status_code, r.text)
    # and raw bytes: no HTTP success, and never S3 data
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(b"GET /_strongroom/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        try:
            reply = raw.recv(4096)
        except OSError:
            reply = b""
    assert not reply.startswith(b"HTTP/1.1 2") and b'"ok"' not in reply, reply


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_key_files_are_private(server: Server) -> None:
    data = server.data_dir
    keys = sorted(p for p in (data / "keys").iterdir() if p.is_file())
    assert {p.name for p in keys} >= {"unseal.key", "infra-root.key"}
    tls_keys = sorted((data / "tls").glob("*-key.pem"))
    assert {p.name for p in tls_keys} >= {"server-key.pem"}
    bad = {str(p.relative_to(data)): oct(_mode(p)) for p in [*keys, *tls_keys] if _mode(p) != 0o600}
    assert not bad, f"key files not 0600: {bad}"
    dirs = {str(p.relative_to(data)) or ".": oct(_mode(p)) for p in (data, data / "keys", data / "tls")}
    assert all(v == "0o700" for v in dirs.values()), f"key directories not 0700: {dirs}"
