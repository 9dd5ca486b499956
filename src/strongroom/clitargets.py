"""Where the CLI finds the servers: the vault and the S3/admin endpoint, and the CA that verifies each.

One rule for every command, from highest to lowest: the flag (``--vault-addr``/``--endpoint``, ``--ca-bundle``),
the environment (``VAULT_ADDR``/``STRONGROOM_ENDPOINT``, ``VAULT_CACERT``/``STRONGROOM_CA_BUNDLE``), what the
running server recorded in its data directory (``run/vault.json``, ``run/s3.json``: absolute URL and CA path),
then the defaults of the settings. The data directory is ``--data-dir``, ``STRONGROOM_DATA_DIR``, ``data_dir`` in
strongroom.toml, or ``./strongroom-data``; with it the CLI works from any working directory.
"""

from __future__ import annotations

import json
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx

from strongroom.config import Settings
from strongroom.tls import client_context

#: URL -> what it is ("the vault", "the S3 endpoint"), for one-line errors when it cannot be reached
_KNOWN: dict[str, str] = {}


@dataclass(frozen=True)
class Target:
    what: str  # "the vault" or "the S3 endpoint"
    url: str
    ca: str  # a PEM file, or "" for the system's trust store

    def verify(self) -> ssl.SSLContext | bool:
        if self.url.startswith("https") and self.ca and Path(self.ca).is_file():
            return client_context(self.ca)
        return True


def _recorded(settings: Settings, name: str) -> dict[str, str]:
    path = settings.data_dir / "run" / name
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {k: str(v) for k, v in info.items()} if isinstance(info, dict) else {}


def _target(what: str, url: str, ca: str) -> Target:
    url = url.rstrip("/")
    _KNOWN[_origin(url)] = what
    return Target(what, url, ca)


def vault_target(settings: Settings, addr: str | None = None, ca: str | None = None) -> Target:
    info = _recorded(settings, "vault.json")
    url = addr or os.environ.get("VAULT_ADDR") or info.get("url") or settings.vault_endpoint
    default_ca = settings.vault_ca_file()
    chosen = ca or os.environ.get("VAULT_CACERT") or info.get("ca") or (str(default_ca) if default_ca else "")
    return _target("the vault", url, chosen)


def s3_target(settings: Settings, endpoint: str | None = None, ca: str | None = None) -> Target:
    info = _recorded(settings, "s3.json")
    scheme = "http" if settings.insecure_http else "https"
    url = (
        endpoint or os.environ.get("STRONGROOM_ENDPOINT") or info.get("url") or f"{scheme}://localhost:{settings.port}"
    )
    chosen = ca or os.environ.get("STRONGROOM_CA_BUNDLE") or info.get("ca") or str(settings.tls_dir / "ca.pem")
    return _target("the S3 endpoint", url, chosen)


def _origin(url: str) -> str:
    u = httpx.URL(url)
    return f"{u.scheme}://{u.host}:{u.port or (443 if u.scheme == 'https' else 80)}"


def unreachable_message(exc: httpx.TransportError) -> str:
    """One line for a server the CLI could not reach or could not verify."""
    try:
        url = str(exc.request.url)
    except RuntimeError:  # no request attached
        return f"cannot reach the server: {exc}"
    origin = _origin(url)
    what = _KNOWN.get(origin, "the server")
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return (
            f"cannot verify the certificate of {what} at {origin}: pass the CA with --ca-bundle (or VAULT_CACERT / "
            "STRONGROOM_CA_BUNDLE), or --data-dir of the server"
        )
    if isinstance(exc, httpx.TimeoutException):
        return f"{what} at {origin} did not answer in time: is `strongroom serve` running?"
    return f"cannot reach {what} at {origin}: is `strongroom serve` running?"
