"""TLS bootstrap (first-run CA) and ssl.SSLContext settings: TLS 1.2 minimum, modern ciphers."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from strongroom.config import Settings
from strongroom.crypto.x509ca import create_ca_and_server_cert

#: AEAD-only suites for TLS 1.2 (TLS 1.3 suites are always AEAD).
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


@dataclass(frozen=True)
class TLSFiles:
    cert: Path
    key: Path
    ca: Path | None
    client_ca: Path | None


def ensure_tls(settings: Settings) -> TLSFiles:
    """Use the operator's --cert/--key, or create (once) a CA and server certificate under DATA/tls."""
    if settings.cert and settings.key:
        return TLSFiles(settings.cert, settings.key, None, settings.client_ca)
    tls_dir = settings.tls_dir
    cert, key, ca = tls_dir / "server.pem", tls_dir / "server-key.pem", tls_dir / "ca.pem"
    if not (cert.exists() and key.exists() and ca.exists()):
        create_ca_and_server_cert(tls_dir)
    return TLSFiles(cert, key, ca, settings.client_ca)


def server_context(files: TLSFiles) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.load_cert_chain(str(files.cert), str(files.key))
    if files.client_ca:
        ctx.load_verify_locations(str(files.client_ca))
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(cafile: str | Path | None) -> ssl.SSLContext:
    """A client context trusting cafile. A server's own (leaf) certificate works too (partial chains)."""
    ctx = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cafile:
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return ctx
