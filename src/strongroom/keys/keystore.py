"""The object store's view of keys: two independent hierarchies.

* Service hierarchy (layer 1, customer-controlled): transit keys in the key vault (a bucket's
  SSE-S3 key or a named SSE-KMS key). A gateway never holds a vault key: it asks the vault for the *bucket key*
  of one bucket under one key version (``crypto.bucket_key``), naming the principal it acts for and the lockbox
  grant if any (``KeyUse``); the vault's release rule (keys/release.py) decides and audits. A released bucket key
  is kept for at most ``CACHE_SECONDS`` and only for the same principal, so disable / destroy / seal / a revoked
  grant take effect everywhere within that time.
* Infrastructure hierarchy (layer 2): a separate infrastructure root (DATA/keys/infra-root.key)
  wraps one key per region, stored in the metadata database. Neither root alone decrypts an object.

Key material leaves this module only as bytes handed to ``strongroom.crypto``; it is never logged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from strongroom.core import errors, metrics
from strongroom.core.types import KeyUse
from strongroom.crypto import hkdf_sha256, open_small, random_bytes, seal_small
from strongroom.metadata.repository import Repository

CACHE_SECONDS = 2.0
MAX_CACHED = 4096  # bucket keys kept at once (expired ones are dropped when the cache is full)


class Bucketlike(Protocol):
    """What the key store needs of a bucket (``metadata.models.Bucket``)."""

    id: str
    name: str
    tenant_id: str
    region: str


def bucket_key_id(bucket_id: str) -> str:
    return f"bucket-{bucket_id}"


def infra_key_id(region: str) -> str:
    return f"infra/{region}"


class ServiceKeys(Protocol):
    """Where customer keys live (the vault). Each tenant's keys live in its own vault namespace (named like the
    tenant); implementations raise strongroom key errors."""

    def key_info(self, name: str, namespace: str) -> dict[str, Any]: ...

    def create_key(self, name: str, namespace: str, region: str) -> dict[str, Any]: ...

    def bucket_key(
        self, name: str, version: int | None, namespace: str, bucket: str, bucket_id: str, use: KeyUse
    ) -> tuple[int, bytes, float]: ...


@dataclass(frozen=True)
class KeyInfo:
    id: str
    tenant_id: str
    region: str
    state: str
    latest_version: int


def _info(name: str, tenant: str, raw: dict[str, Any]) -> KeyInfo:
    return KeyInfo(
        id=name,
        tenant_id=str(raw.get("tenant") or tenant),
        region=str(raw.get("region") or "local"),
        state=str(raw.get("state") or "enabled"),
        latest_version=int(raw.get("latest_version") or 1),
    )


class KeyStore:
    def __init__(self, repo: Repository, infra_root: bytes, service: ServiceKeys) -> None:
        if len(infra_root) != 32:
            raise errors.InvalidKeyMaterial("the infrastructure root must be 32 bytes")
        self._repo = repo
        self._service = service
        self._infra_wrap = hkdf_sha256(infra_root, b"", b"strongroom infra-key wrap")
        self._lock = threading.Lock()
        self._info: dict[tuple[str, str], tuple[float, KeyInfo]] = {}
        self._material: dict[tuple[Any, ...], tuple[float, float, int, bytes]] = {}
        self._infra: dict[tuple[str, int], bytes] = {}
        self._infra_latest: dict[str, tuple[float, int]] = {}

    def __repr__(self) -> str:
        return "KeyStore(<sealed roots>)"

    def __reduce__(self) -> str:
        raise TypeError("KeyStore cannot be pickled")

    # --- service keys (in the vault) --------------------------------------------------------
    def create_key(self, key_id: str, tenant_id: str, region: str) -> KeyInfo:
        return _info(key_id, tenant_id, self._service.create_key(key_id, tenant_id, region))

    def forget(self) -> None:
        with self._lock:
            self._info.clear()
            self._material.clear()

    def key_info(self, key_id: str, tenant_id: str) -> KeyInfo:
        """A key of ``tenant_id``'s vault namespace (KeyNotFound when that tenant has no such key)."""
        now = time.monotonic()
        with self._lock:
            hit = self._info.get((tenant_id, key_id))
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        info = _info(key_id, tenant_id, self._service.key_info(key_id, tenant_id))
        with self._lock:
            self._info[(tenant_id, key_id)] = (now, info)
        return info

    def _check_usable(self, info: KeyInfo) -> None:
        if info.state == "enabled":
            return
        if info.state == "disabled":
            raise errors.KeyDisabled(f"{info.id} is disabled.")
        if info.state == "pending_deletion":
            raise errors.KeyPendingDeletion(f"{info.id} is pending deletion.")
        raise errors.KeyDestroyed(f"{info.id} was destroyed; data under it is unreadable.")

    def _bucket_key(
        self, key_id: str, version: int | None, tenant_id: str, bucket: Bucketlike, use: KeyUse
    ) -> tuple[int, bytes]:
        now = time.monotonic()
        slot = (tenant_id, key_id, version, bucket.id, use.cache_key)
        with self._lock:
            hit = self._material.get(slot)
        if hit and now - hit[0] < hit[1]:
            metrics.KEY_CACHE_HIT.inc()
            return hit[2], hit[3]
        metrics.KEY_CACHE_MISS.inc()
        got_version, material, ttl = self._service.bucket_key(key_id, version, tenant_id, bucket.name, bucket.id, use)
        with self._lock:
            if len(self._material) >= MAX_CACHED:
                self._material = {k: v for k, v in self._material.items() if now - v[0] < v[1]}
            self._material[slot] = (now, min(ttl, CACHE_SECONDS), got_version, material)
        return got_version, material

    def encryption_key(self, key_id: str, bucket: Bucketlike, use: KeyUse) -> tuple[int, bytes]:
        """(version, bucket key) to wrap a new DEK of ``bucket`` under its tenant's key ``key_id``, for ``use``.
        Checks owner tenant, region and state (the vault checks them again, with whom ``use`` acts for)."""
        info = self.key_info(key_id, bucket.tenant_id)
        if info.tenant_id != bucket.tenant_id:
            raise errors.KeyNotFound(f"Invalid keyId {key_id}")
        if info.region != bucket.region:
            raise errors.InvalidArgument(f"KMS key {key_id} lives in region {info.region}, not {bucket.region}")
        self._check_usable(info)
        return self._bucket_key(key_id, None, bucket.tenant_id, bucket, use)

    def decryption_key(self, key_id: str, version: int, bucket: Bucketlike, use: KeyUse) -> bytes:
        """The bucket key of ``bucket`` under version ``version`` of ``key_id``, for ``use``."""
        info = self.key_info(key_id, bucket.tenant_id)
        if info.tenant_id != bucket.tenant_id:
            raise errors.KeyNotFound(f"Invalid keyId {key_id}")
        self._check_usable(info)
        return self._bucket_key(key_id, version, bucket.tenant_id, bucket, use)[1]

    # --- infrastructure keys -----------------------------------------------------------------
    def _infra_aad(self, region: str, version: int) -> bytes:
        return f"infra-key:{region}:{version}".encode()

    def ensure_region(self, region: str) -> int:
        row = self._repo.latest_infra_version(region)
        if row is not None:
            return row.version
        material = random_bytes(32)
        try:
            self._repo.add_infra_version(region, 1, seal_small(self._infra_wrap, material, self._infra_aad(region, 1)))
        except errors.Conflict:
            pass  # another process created it first
        return 1

    def infra_encryption_key(self, region: str) -> tuple[int, bytes]:
        now = time.monotonic()
        with self._lock:
            hit = self._infra_latest.get(region)
        if hit and now - hit[0] < 30.0:
            version = hit[1]
        else:
            row = self._repo.latest_infra_version(region)
            if row is None:
                raise errors.Unavailable(f"region {region} has no infrastructure key")
            version = row.version
            with self._lock:
                self._infra_latest[region] = (now, version)
        return version, self.infra_decryption_key(region, version)

    def infra_decryption_key(self, region: str, version: int) -> bytes:
        with self._lock:
            hit = self._infra.get((region, version))
        if hit is not None:
            return hit
        row = self._repo.get_infra_version(region, version)
        if row is None:
            raise errors.DecryptionFailed("infrastructure key version missing")
        material = open_small(self._infra_wrap, row.material_sealed, self._infra_aad(region, version))
        with self._lock:
            self._infra[(region, version)] = material
        return material
