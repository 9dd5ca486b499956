"""The vault's Ed25519 key that signs the gateways' audit-log checkpoints.

One versioned key for the deployment, held in the root namespace's barrier storage (``sys/strongroom/audit-key``),
made at first need. The latest version signs; every version stays for verification, so an export signed before a
rotation still verifies after it. The private part never leaves this module: no API reads, exports or backs it
up; callers get signatures and public keys only (the same rule as transit's deletion-certificate key).

Stored entry (JSON, through the barrier; key material base64)::

    {"type": "ed25519", "latest_version": N,
     "versions": {"1": {"private_key": <64-byte seed||public>, "public_key": <32 bytes>, "creation_time": ...}}}

Signatures are pure Ed25519 over the caller's bytes (no prefix), so a customer verifies an export offline with
the public key alone.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from collections.abc import Callable
from typing import Any, NoReturn

from strongroom.core.errors import VaultInvalidRequest
from strongroom.crypto import transitprims as prims
from strongroom.keys.kv import rfc3339
from strongroom.keys.storage import VaultStorage

__all__ = ["AUDIT_KEY_NAME", "AUDIT_KEY_PATH", "AuditSigningKey"]

AUDIT_KEY_PATH = "sys/strongroom/audit-key"
AUDIT_KEY_NAME = "audit-checkpoints"
MAX_SIGN_INPUT = 64 * 1024  # a checkpoint note is a few hundred bytes


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class AuditSigningKey:
    """Sign with, list and rotate the audit checkpoint key. Thread-safe; every call needs the vault unsealed
    (the barrier raises KeyStoreSealed)."""

    def __init__(self, storage: VaultStorage, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self._storage = storage
        self._clock = clock
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "AuditSigningKey(<private key redacted>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("AuditSigningKey cannot be pickled")

    # --- storage ----------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        """The stored entry; made with version 1 when absent. Call with the lock held."""
        raw = self._storage.get(AUDIT_KEY_PATH)
        if raw is not None:
            entry: dict[str, Any] = json.loads(raw)
            return entry
        entry = {"type": "ed25519", "latest_version": 0, "versions": {}}
        self._add_version(entry)
        return entry

    def _add_version(self, entry: dict[str, Any]) -> int:
        version = int(entry["latest_version"]) + 1
        private = prims.ed25519_generate()
        entry["versions"][str(version)] = {
            "private_key": _b64(private),
            "public_key": _b64(prims.ed25519_public(private)),
            "creation_time": rfc3339(self._clock()),
        }
        entry["latest_version"] = version
        self._storage.put(AUDIT_KEY_PATH, json.dumps(entry, sort_keys=True, separators=(",", ":")).encode())
        return version

    # --- use --------------------------------------------------------------------------------------
    def sign(self, message: bytes) -> tuple[int, bytes]:
        """``(key version, 64-byte Ed25519 signature)`` of ``message`` under the latest version."""
        if len(message) > MAX_SIGN_INPUT:
            raise VaultInvalidRequest(f"input is larger than {MAX_SIGN_INPUT} bytes")
        with self._lock:
            entry = self._load()
        version = int(entry["latest_version"])
        private = base64.b64decode(entry["versions"][str(version)]["private_key"])
        return version, prims.ed25519_sign(private, message)

    def public_keys(self) -> dict[int, bytes]:
        """Every version's raw 32-byte public key."""
        with self._lock:
            entry = self._load()
        return {int(v): base64.b64decode(k["public_key"]) for v, k in entry["versions"].items()}

    def verify(self, message: bytes, signature: bytes, version: int) -> bool:
        """True when ``signature`` is version ``version``'s signature of ``message``."""
        public = self.public_keys().get(version)
        return public is not None and prims.ed25519_verify(public, message, signature)

    def rotate(self) -> int:
        """Add a version, which signs from now on; returns its number. Older versions keep verifying."""
        with self._lock:
            entry = self._load()
            return self._add_version(entry)

    def read(self) -> dict[str, Any]:
        """The key's public description, shaped like a transit ``ed25519`` key's read (no private material)."""
        with self._lock:
            entry = self._load()
        return {
            "name": AUDIT_KEY_NAME,
            "type": "ed25519",
            "keys": {
                v: {"name": "ed25519", "public_key": k["public_key"], "creation_time": k["creation_time"]}
                for v, k in sorted(entry["versions"].items(), key=lambda item: int(item[0]))
            },
            "latest_version": int(entry["latest_version"]),
            "min_available_version": 0,
            "min_decryption_version": 1,
            "min_encryption_version": 0,
            "exportable": False,
            "allow_plaintext_backup": False,
            "deletion_allowed": False,
            "supports_signing": True,
            "supports_encryption": False,
            "supports_decryption": False,
            "supports_derivation": False,
        }
