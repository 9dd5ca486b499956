"""The runtime: everything a service call needs, built once per process and passed down."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar, TypeVarTuple

import anyio
from anyio.lowlevel import RunVar

from strongroom.audit.sink import AuditLog
from strongroom.config import Settings
from strongroom.core import errors
from strongroom.keys.keystore import KeyStore
from strongroom.keys.vaultclient import VaultClient
from strongroom.metadata.auditstore import AuditStore
from strongroom.metadata.repository import Repository
from strongroom.storage import BlobStore

T = TypeVar("T")
Ts = TypeVarTuple("Ts")
_REQUEST_LIMITER: RunVar[anyio.CapacityLimiter] = RunVar("strongroom_request_limiter")


@dataclass
class Runtime:
    settings: Settings
    repo: Repository
    keys: KeyStore
    vault: VaultClient
    stores: dict[str, BlobStore] = field(default_factory=dict)
    audit: AuditLog = field(init=False)

    def __post_init__(self) -> None:
        # every writing transaction of this process may carry an operation's audit entry (audit.sink)
        self.audit = AuditLog(
            AuditStore(self.repo), signer=lambda data: self.vault.audit_sign(data), enabled=self.settings.audit_log
        )

    def store(self, region: str) -> BlobStore:
        try:
            return self.stores[region]
        except KeyError:
            raise errors.Unavailable(f"region {region} has no backend") from None

    async def run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        """Run a request's blocking step (metadata, keys, sealing, blob I/O) in a worker thread.

        These steps share ``settings.request_threads`` threads per event loop: they are mostly CPU work under one
        GIL, where a few threads do more than many (bench/). Other blocking calls (vault, sweeper) keep anyio's
        default pool, so they never hold up requests.
        """
        try:
            limiter = _REQUEST_LIMITER.get()
        except LookupError:
            limiter = anyio.CapacityLimiter(self.settings.request_threads)
            _REQUEST_LIMITER.set(limiter)
        return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)

    def close(self) -> None:
        self.vault.close()
        self.repo.close()
