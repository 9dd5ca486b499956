"""The key vault's use cases: init, unseal, seal, tokens, and the engines behind the barrier.

One VaultCore lives in the vault process. Engines are built over the barrier and refuse to work
while sealed (the barrier raises KeyStoreSealed).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strongroom.core import errors
from strongroom.keys.kv import KVv2Engine
from strongroom.keys.seal import InitResult, SealManager, SealStatus
from strongroom.keys.storage import VaultStorage
from strongroom.keys.tokens import TokenEntry, TokenStore
from strongroom.keys.transit import TransitEngine
from strongroom.metadata.repository import Repository

log = logging.getLogger("strongroom.vault")

CREDENTIALS_PREFIX = "strongroom/credentials/"


@dataclass(frozen=True)
class InitOutput:
    keys: list[bytes]
    root_token: str


class VaultCore:
    """The vault: seal state, tokens, transit and KV v2, and strongroom's own records (S3 credentials)."""

    def __init__(
        self,
        physical: VaultStorage,
        seal: SealManager,
        on_unsealed: Callable[[VaultCore], None] | None = None,
        repo: Repository | None = None,
    ) -> None:
        self.repo = repo  # the metadata repository, for operations that span keys and objects (rewrap)
        self.physical = physical
        self.seal_manager = seal
        self.on_unsealed = on_unsealed
        self._lock = threading.RLock()
        self.transit = TransitEngine(seal.barrier)
        self.kv = KVv2Engine(seal.barrier, mount="secret")
        self.tokens = TokenStore(seal.barrier)

    # --- seal -----------------------------------------------------------
    def status(self) -> SealStatus:
        return self.seal_manager.status()

    @property
    def sealed(self) -> bool:
        return self.seal_manager.sealed

    def initialized(self) -> bool:
        return self.seal_manager.initialized()

    def initialize(self, shares: int, threshold: int, root_token: str | None = None) -> InitOutput:
        """Initialise, register the root token, and leave the vault as Vault does (Shamir: sealed)."""
        with self._lock:
            result: InitResult = self.seal_manager.initialize(shares, threshold)
            token = root_token or result.root_token
            if self.seal_manager.seal_type == "shamir":
                for share in result.keys[: max(1, threshold)]:
                    self.seal_manager.submit_unseal_key(share)
                try:
                    self.tokens.create(policies=["root"], parent=None, token_id=token, display_name="root")
                finally:
                    self.seal_manager.seal()
            else:
                self.seal_manager.auto_unseal()
                self.tokens.create(policies=["root"], parent=None, token_id=token, display_name="root")
            return InitOutput(list(result.keys), token)

    def submit_unseal_key(self, key: bytes | None, reset: bool) -> SealStatus:
        was_sealed = self.sealed
        status = self.seal_manager.submit_unseal_key(key, reset=reset)
        if was_sealed and not status.sealed:
            self._unsealed()
        return status

    def auto_unseal(self) -> SealStatus:
        status = self.seal_manager.auto_unseal()
        self._unsealed()
        return status

    def _unsealed(self) -> None:
        if self.on_unsealed is not None:
            self.on_unsealed(self)

    def seal(self) -> None:
        self.seal_manager.seal()

    # --- tokens ---------------------------------------------------------
    def lookup_token(self, token: str | None) -> TokenEntry | None:
        if not token:
            return None
        return self.tokens.lookup(token)

    # --- S3 credentials (sealed in the barrier; workers fetch them over the internal API) ------
    def put_credential(
        self, access_key: str, secret: str, tenant: str, user: str = "admin", bootstrap: bool = False
    ) -> None:
        record = {
            "secret": secret,
            "tenant": tenant,
            "user": user,
            "bootstrap": bootstrap,
            "created": dt.datetime.now(dt.UTC).isoformat(),
        }
        self.seal_manager.barrier.put(CREDENTIALS_PREFIX + access_key, json.dumps(record).encode())

    def delete_credential(self, access_key: str) -> None:
        self.seal_manager.barrier.delete(CREDENTIALS_PREFIX + access_key)

    def get_credential(self, access_key: str) -> dict[str, Any] | None:
        raw = self.seal_manager.barrier.get(CREDENTIALS_PREFIX + access_key)
        return None if raw is None else dict(json.loads(raw))

    def count_credentials(self) -> int:
        return len(self.seal_manager.barrier.list(CREDENTIALS_PREFIX))

    # --- the object store's view of transit keys -------------------------
    def kek(self, name: str, version: int | None) -> dict[str, Any]:
        """KEK material for wrapping object DEKs (internal API only)."""
        got_version, material = self.transit.kek_material(name, version)
        info = self.transit.read_key(name)
        return {
            "name": name,
            "version": got_version,
            "material": base64.b64encode(material).decode(),
            "tenant": info.get("tenant", "root"),
            "region": info.get("region", "local"),
            "state": info.get("state", "enabled"),
        }


def require_unsealed(core: VaultCore) -> None:
    if core.sealed:
        raise errors.KeyStoreSealed("Vault is sealed")
