"""How S3 gateways reach the vault: its TLS listener, the internal API, an internal service token.

Translates the vault's answers back into strongroom's exception tree, so the object store sees
KeyDisabled / KeyDestroyed / KeyStoreSealed exactly as it would in process.
"""

from __future__ import annotations

import base64
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from strongroom.core import errors
from strongroom.core.types import KeyUse
from strongroom.tls import client_context

_ERRORS: dict[str, type[errors.StrongroomError]] = {
    "TransitKeyNotFound": errors.KeyNotFound,
    "VaultNotFound": errors.KeyNotFound,
    "TransitKeyDisabled": errors.KeyDisabled,
    "TransitKeyPendingDeletion": errors.KeyPendingDeletion,
    "TransitKeyDestroyed": errors.KeyDestroyed,
    "KeyStoreSealed": errors.KeyStoreSealed,
    "DeleteConflict": errors.DeleteConflict,
    "EntityAlreadyExists": errors.EntityAlreadyExists,
    "KeyReleaseRefused": errors.KeyReleaseRefused,
}


@dataclass(frozen=True)
class Credential:
    """An S3 access key's record in the vault: its secret (never logged), tenant and user."""

    secret: str = field(repr=False)
    tenant: str
    user: str
    bootstrap: bool = False  # made by the vault at first unseal (the tenant/user rows may not exist yet)


class VaultClient:
    """A small synchronous client for the vault's internal API. Thread-safe."""

    def __init__(self, url: str, token: str, ca: Path | None, timeout: float = 10.0) -> None:
        self._url = url.rstrip("/")
        self._token = token
        self._ca = ca
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"VaultClient({self._url!r}, token=<redacted>)"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                verify: ssl.SSLContext | bool = True
                if self._url.startswith("https") and self._ca is not None:
                    verify = client_context(self._ca)
                self._client = httpx.Client(
                    verify=verify,
                    timeout=self._timeout,
                    headers={"x-vault-token": self._token},
                    # idle connections retire before the vault's keep-alive timeout (uvicorn: 5 s) can close them
                    limits=httpx.Limits(max_connections=32, max_keepalive_connections=16, keepalive_expiry=2.0),
                )
            return self._client

    def _request(
        self, method: str, path: str, namespace: str | None = None, safe: bool = False, **kwargs: Any
    ) -> dict[str, Any] | None:
        """``safe``: the request changes nothing, so it may be sent again (GETs always are)."""
        url = f"{self._url}/v1/strongroom/internal/{path}"
        if namespace is not None:
            kwargs["headers"] = {"x-vault-namespace": namespace}
        try:
            try:
                r = self._http().request(method, url, **kwargs)
            except httpx.TransportError:
                if method != "GET" and not safe:
                    raise
                # a kept-alive connection the vault closed as it was reused: a read is safe to send again
                r = self._http().request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise errors.Unavailable("the key vault is unreachable") from exc
        if r.status_code == 204:
            return None
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        if r.status_code >= 400:
            cls_name = body.get("error_class", "")
            message = "; ".join(body.get("errors") or []) or f"vault answered {r.status_code}"
            if r.status_code == 503:
                raise errors.KeyStoreSealed("the key vault is sealed")
            exc_cls = _ERRORS.get(cls_name)
            if exc_cls is not None:
                raise exc_cls(message)
            if r.status_code == 404:
                return None
            if r.status_code == 403:
                raise errors.Unavailable("the key vault refused this gateway's internal token")
            if r.status_code >= 500:  # e.g. its audit device cannot be written (the vault fails closed)
                raise errors.Unavailable(f"the key vault failed: {message}")
            raise errors.InvalidArgument(message)
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    def status(self) -> dict[str, Any]:
        return self._request("GET", "status") or {}

    def may_read_metrics(self, token: str) -> bool:
        """Does the vault let ``token`` read ``sys/metrics`` (its ACL: the root token, or a token made by
        ``strongroom metrics token``)? Unavailable / KeyStoreSealed when the vault cannot say."""
        url = f"{self._url}/v1/sys/metrics"
        try:
            r = self._http().get(url, params={"format": "prometheus"}, headers={"x-vault-token": token})
        except httpx.HTTPError as exc:
            raise errors.Unavailable("the key vault is unreachable") from exc
        if r.status_code == 503:
            raise errors.KeyStoreSealed("the key vault is sealed")
        if r.status_code >= 500:
            raise errors.Unavailable(f"the key vault answered {r.status_code}")
        return r.status_code == 200

    def key_info(self, name: str, namespace: str) -> dict[str, Any]:
        """A transit key of the tenant namespace ``namespace``."""
        got = self._request("GET", f"keyinfo/{name}", namespace)
        if got is None:
            raise errors.KeyNotFound(f"Invalid keyId {name}")
        return got

    def create_key(self, name: str, namespace: str, region: str) -> dict[str, Any]:
        return self._request("POST", f"keys/{name}", namespace, json={"region": region}) or {}

    def bucket_key(
        self, name: str, version: int | None, namespace: str, bucket: str, bucket_id: str, use: KeyUse
    ) -> tuple[int, bytes, float]:
        """``(version, bucket key, seconds it may be kept)`` of ``bucket`` under key ``name`` (``version`` None:
        the latest, to encrypt with), for ``use``; KeyReleaseRefused when the vault's release rule refuses it."""
        body = {"version": version, "bucket": bucket, "bucket_id": bucket_id, **use.to_wire()}
        got = self._request("POST", f"bucket-key/{name}", namespace, safe=True, json=body)
        if got is None:
            raise errors.KeyNotFound(f"Invalid keyId {name}")
        try:
            key = base64.b64decode(str(got["key"]), validate=True)
            out = int(got["version"]), key, float(got.get("ttl", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.Unavailable("the key vault answered a malformed bucket key") from exc
        if len(key) != 32:
            raise errors.Unavailable("the key vault answered a malformed bucket key")
        return out

    def credential(self, access_key: str) -> Credential | None:
        got = self._request("GET", f"credentials/{access_key}")
        if got is None:
            return None
        return Credential(
            secret=str(got["secret"]),
            tenant=str(got["tenant"]),
            user=str(got.get("user") or "admin"),
            bootstrap=bool(got.get("bootstrap", False)),
        )

    def put_credential(self, access_key: str, secret: str, tenant: str, user: str) -> None:
        self._request("POST", f"credentials/{access_key}", json={"secret": secret, "tenant": tenant, "user": user})

    def bootstrap_credentials(self) -> list[dict[str, str]]:
        """The first unseal's credentials: access key id, tenant, user (no secrets)."""
        got = self._request("GET", "bootstrap") or {}
        return [dict(c) for c in got.get("credentials", [])]

    def delete_credential(self, access_key: str) -> None:
        self._request("DELETE", f"credentials/{access_key}")

    # --- tenants' namespaces ------------------------------------------------------------------------------------
    def create_namespace(self, name: str) -> dict[str, Any]:
        """Create the vault namespace of tenant ``name`` (idempotent): ``{"id", "path", "custom_metadata"}``."""
        return self._request("POST", f"namespaces/{name}") or {}

    def delete_namespace(self, name: str) -> None:
        """Delete tenant ``name``'s namespace; DeleteConflict while it still holds keys or secrets."""
        self._request("DELETE", f"namespaces/{name}")

    def namespace_token(self, name: str, ttl: int, display_name: str, user: str | None = None) -> dict[str, Any]:
        """A ``tenant-admin`` token of namespace ``name`` for its user ``user`` (revoked with that user):
        ``{"client_token", "accessor", "policies", "lease_duration", "namespace"}`` (the token is a secret: never
        log it). NotFound without the namespace."""
        body = {"ttl": ttl, "display_name": display_name, "user": user}
        got = self._request("POST", f"namespaces/{name}/token", json=body)
        if got is None:
            raise errors.NotFound(f"namespace {name} not found")
        return got

    def revoke_user_tokens(self, name: str, user: str) -> int:
        """Revoke the namespace tokens minted for tenant ``name``'s user ``user``; how many."""
        got = self._request("POST", f"namespaces/{name}/revoke-user-tokens", json={"user": user}) or {}
        return int(got.get("revoked") or 0)

    # --- the audit log's checkpoint key -------------------------------------------------------------------------
    def audit_sign(self, data: bytes) -> tuple[int, bytes]:
        """``(key version, 64-byte Ed25519 signature)`` of ``data`` by the vault's audit checkpoint key."""
        got = self._request("POST", "audit/sign", json={"input": base64.b64encode(data).decode("ascii")}) or {}
        try:
            version, signature = int(got["key_version"]), base64.b64decode(str(got["signature"]), validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.Unavailable("the key vault answered a malformed audit signature") from exc
        if len(signature) != 64 or version < 1:
            raise errors.Unavailable("the key vault answered a malformed audit signature")
        return version, signature

    def audit_public_keys(self) -> dict[int, bytes]:
        """Every version of the audit checkpoint key: version -> raw 32-byte Ed25519 public key."""
        got = self._request("GET", "audit/public-keys") or {}
        try:
            keys = {int(v): base64.b64decode(str(k), validate=True) for v, k in dict(got["keys"]).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.Unavailable("the key vault answered malformed audit public keys") from exc
        if not keys or any(len(k) != 32 for k in keys.values()):
            raise errors.Unavailable("the key vault answered malformed audit public keys")
        return keys

    # --- a tenant's crypto-shred (service/vaultshred.py does the vault's part) ------------------------------------
    def namespace_keys(self, name: str) -> dict[str, Any]:
        """``{"keys": [metadata of every transit key], "blockers": [purge-protected keys not due]}``; NotFound
        without the namespace."""
        got = self._request("GET", f"namespaces/{name}/keys")
        if got is None:
            raise errors.NotFound(f"namespace {name} not found")
        return got

    def shred_namespace(
        self, name: str, requested_by: dict[str, Any], request_id: str, inventory: dict[str, Any]
    ) -> dict[str, Any]:
        """Step 1: revoke the namespace's tokens, delete the tenant's credentials, destroy every key (idempotent:
        a repeated call keeps the first call's record). DeleteConflict while a purge-protected key blocks it."""
        body = {"requested_by": requested_by, "request_id": request_id, "inventory": inventory}
        got = self._request("POST", f"namespaces/{name}/shred", json=body)
        if got is None:
            raise errors.NotFound(f"namespace {name} not found")
        return got

    def complete_shred(self, name: str) -> dict[str, Any]:
        """Step 2: delete the namespace; the signed deletion certificate (the same one when called again)."""
        got = self._request("POST", f"namespaces/{name}/shred/complete")
        if got is None:
            raise errors.NotFound(f"tenant {name} was not shredded")
        return dict(got["certificate"])

    def shredded(self, name: str) -> dict[str, Any] | None:
        """The shred record of tenant ``name`` (its certificate once complete); None: never shredded."""
        return self._request("GET", f"shredded/{name}")
