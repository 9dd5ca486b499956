"""The runtime: everything a service call needs, built once per process and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from strongroom.config import Settings
from strongroom.core import errors
from strongroom.keys.keystore import KeyStore
from strongroom.keys.vaultclient import VaultClient
from strongroom.metadata.repository import Repository
from strongroom.storage import BlobStore


@dataclass
class Runtime:
    settings: Settings
    repo: Repository
    keys: KeyStore
    vault: VaultClient
    stores: dict[str, BlobStore] = field(default_factory=dict)

    def store(self, region: str) -> BlobStore:
        try:
            return self.stores[region]
        except KeyError:
            raise errors.Unavailable(f"region {region} has no backend") from None

    def close(self) -> None:
        self.vault.close()
        self.repo.close()
