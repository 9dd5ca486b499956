"""The key store: two independent hierarchies.

* Service hierarchy (layer 1, customer-controlled): a service root secret wraps every
  service key version (a bucket's SSE-S3 key or a named SSE-KMS key). The vault grows
  this into a sealed, Shamir-split root; the interface here stays.
* Infrastructure hierarchy (layer 2): a separate infrastructure root wraps one key per
  region. Neither root alone decrypts any object.

Key material leaves this module only as bytes handed to ``strongroom.crypto``; it is
never logged. Unwrapped keys are cached briefly per process; state changes (disable,
destroy) take effect within ``CACHE_SECONDS``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from strongroom.core import errors
from strongroom.crypto import hkdf_sha256, open_small, random_bytes, seal_small
from strongroom.metadata.models import ServiceKey
from strongroom.metadata.repository import Repository

CACHE_SECONDS = 2.0
USABLE = "enabled"


def bucket_key_id(bucket_id: str) -> str:
    return f"bucket-{bucket_id}"


def infra_key_id(region: str) -> str:
    return f"infra/{region}"


@dataclass(frozen=True)
class KeyInfo:
    id: str
    tenant_id: str
    region: str
    purpose: str
    state: str
    latest_version: int


class KeyStore:
    def __init__(self, repo: Repository, service_root: bytes, infra_root: bytes) -> None:
        if len(service_root) != 32 or len(infra_root) != 32:
            raise errors.InvalidKeyMaterial("root secrets must be 32 bytes")
        if service_root == infra_root:
            raise errors.InvalidKeyMaterial("the service and infrastructure roots must differ")
        self._repo = repo
        self._svc_wrap = hkdf_sha256(service_root, b"", b"strongroom service-key wrap")
        self._cred_wrap = hkdf_sha256(service_root, b"", b"strongroom credential wrap")
        self._infra_wrap = hkdf_sha256(infra_root, b"", b"strongroom infra-key wrap")
        self._lock = threading.Lock()
        self._info: dict[str, tuple[float, KeyInfo]] = {}
        self._material: dict[tuple[str, int], tuple[float, bytes]] = {}
        self._infra: dict[tuple[str, int], bytes] = {}
        self._infra_latest: dict[str, tuple[float, int]] = {}

    def __repr__(self) -> str:
        return "KeyStore(<sealed roots>)"

    def __reduce__(self) -> str:
        raise TypeError("KeyStore cannot be pickled")

    # --- credentials ----------------------------------------------------
    def seal_credential(self, access_key_id: str, secret: str) -> bytes:
        return seal_small(self._cred_wrap, secret.encode(), b"credential:" + access_key_id.encode())

    def open_credential(self, access_key_id: str, sealed: bytes) -> str:
        return open_small(self._cred_wrap, sealed, b"credential:" + access_key_id.encode()).decode()

    # --- service keys -----------------------------------------------------
    def _seal_service(self, key_id: str, version: int, material: bytes) -> bytes:
        return seal_small(self._svc_wrap, material, f"service-key:{key_id}:{version}".encode())

    def create_key(self, key_id: str, tenant_id: str, region: str, purpose: str, description: str = "") -> KeyInfo:
        material = random_bytes(32)
        row = self._repo.create_service_key(
            key_id, tenant_id, region, purpose, self._seal_service(key_id, 1, material), description
        )
        return _info(row)

    def rotate_key(self, key_id: str) -> int:
        info = self.key_info(key_id, fresh=True)
        material = random_bytes(32)
        # version number is decided under the row lock; seal after with the returned number
        version = info.latest_version + 1
        sealed = self._seal_service(key_id, version, material)
        got = self._repo.add_service_key_version(key_id, sealed)
        if got != version:
            raise errors.Conflict("concurrent rotation; retry")
        self._forget(key_id)
        return version

    def set_state(self, key_id: str, state: str) -> None:
        self._repo.set_service_key_state(key_id, state)
        self._forget(key_id)

    def _forget(self, key_id: str) -> None:
        with self._lock:
            self._info.pop(key_id, None)
            for k in [k for k in self._material if k[0] == key_id]:
                self._material.pop(k, None)

    def key_info(self, key_id: str, fresh: bool = False) -> KeyInfo:
        now = time.monotonic()
        with self._lock:
            hit = self._info.get(key_id)
        if hit and not fresh and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        row = self._repo.get_service_key(key_id)
        if row is None:
            raise errors.KeyNotFound(f"Invalid keyId {key_id}")
        info = _info(row)
        with self._lock:
            self._info[key_id] = (now, info)
        return info

    def list_keys(self, tenant_id: str | None = None) -> list[KeyInfo]:
        return [_info(r) for r in self._repo.list_service_keys(tenant_id)]

    def _check_usable(self, info: KeyInfo) -> None:
        if info.state == "enabled":
            return
        if info.state == "disabled":
            raise errors.KeyDisabled(f"{info.id} is disabled.")
        if info.state == "pending_deletion":
            raise errors.KeyPendingDeletion(f"{info.id} is pending deletion.")
        raise errors.KeyDestroyed(f"{info.id} was destroyed; data under it is unreadable.")

    def _material_for(self, info: KeyInfo, version: int) -> bytes:
        now = time.monotonic()
        with self._lock:
            hit = self._material.get((info.id, version))
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        row = self._repo.get_service_key_version(info.id, version)
        if row is None or row.material_sealed is None:
            raise errors.KeyDestroyed(f"{info.id} version {version} is not available.")
        material = open_small(self._svc_wrap, row.material_sealed, f"service-key:{info.id}:{version}".encode())
        with self._lock:
            self._material[(info.id, version)] = (now, material)
        return material

    def encryption_key(self, key_id: str, tenant_id: str, region: str) -> tuple[int, bytes]:
        """(version, KEK) to wrap a new DEK. Checks tenant, region and state."""
        info = self.key_info(key_id)
        if info.tenant_id != tenant_id:
            raise errors.KeyNotFound(f"Invalid keyId {key_id}")
        if info.region != region:
            raise errors.InvalidArgument(f"KMS key {key_id} lives in region {info.region}, not {region}")
        self._check_usable(info)
        return info.latest_version, self._material_for(info, info.latest_version)

    def decryption_key(self, key_id: str, version: int) -> bytes:
        info = self.key_info(key_id)
        self._check_usable(info)
        return self._material_for(info, version)

    # --- infrastructure keys ---------------------------------------------
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


def _info(row: ServiceKey) -> KeyInfo:
    return KeyInfo(row.id, row.tenant_id, row.region, row.purpose, row.state, row.latest_version)
