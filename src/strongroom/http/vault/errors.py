"""Vault wire errors: the one place that maps strongroom errors to Vault's JSON error shape."""

from __future__ import annotations

from strongroom.core import errors as e


class VaultHTTPError(Exception):
    """An error as Vault sends it: status and a list of messages (``{"errors": [...]}``)."""

    def __init__(self, status: int, messages: list[str], data: dict[str, object] | None = None) -> None:
        super().__init__(f"{status}: {messages}")
        self.status = status
        self.messages = messages
        self.data = data


def permission_denied() -> VaultHTTPError:
    return VaultHTTPError(403, ["permission denied"])


def from_domain(exc: e.StrongroomError) -> VaultHTTPError:
    """Translate a domain error; unknown ones become 500 with a generic message."""
    if isinstance(exc, e.KeyStoreSealed):
        return VaultHTTPError(503, ["Vault is sealed"])
    if isinstance(exc, e.VaultNotInitialized):
        return VaultHTTPError(501, ["Vault is not initialized"])
    if isinstance(exc, e.VaultError):
        return VaultHTTPError(exc.status, [exc.message] if exc.message else [], exc.data)
    if isinstance(exc, e.KeyReleaseRefused):
        return VaultHTTPError(403, [exc.message])
    if isinstance(exc, e.AccessDenied):
        return permission_denied()
    if isinstance(exc, (e.KeyDisabled, e.KeyPendingDeletion, e.KeyDestroyed)):
        return VaultHTTPError(400, [exc.message])
    if isinstance(exc, e.NotFound | e.KeyNotFound):
        return VaultHTTPError(404, [])
    if isinstance(exc, e.InvalidRequest | e.Conflict | e.SealMismatch):
        return VaultHTTPError(400, [exc.message])
    if isinstance(exc, e.SealDeviceError):
        return VaultHTTPError(500, ["the seal device could not unseal the vault"])
    if isinstance(exc, e.DecryptionFailed):
        return VaultHTTPError(400, ["cipher: message authentication failed"])
    return VaultHTTPError(500, ["internal error"])
