"""The key vault's use cases: init, unseal, seal, tokens, and the engines behind the barrier.

One VaultCore lives in the vault process. Engines are built over the barrier and refuse to work
while sealed (the barrier raises KeyStoreSealed).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strongroom.core import errors
from strongroom.core.clock import utcnow
from strongroom.core.types import KeyUse
from strongroom.keys import namespaces as ns
from strongroom.keys.kv import KVv2Engine
from strongroom.keys.namespaces import Namespace
from strongroom.keys.release import BucketFacts, GrantFacts, Released, ReleaseFacts, release_bucket_key
from strongroom.keys.seal import InitResult, SealManager, SealStatus
from strongroom.keys.storage import VaultStorage, walk
from strongroom.keys.tokens import TENANT_ADMIN_POLICY, TENANT_ADMIN_POLICY_NAME, TokenEntry, TokenStore
from strongroom.keys.transit import TransitEngine
from strongroom.metadata.governance import GovernanceStore
from strongroom.metadata.repository import Repository
from strongroom.service.disclosures import gag_in_force

log = logging.getLogger("strongroom.vault")

CREDENTIALS_PREFIX = "strongroom/credentials/"
NAMESPACES_PREFIX = "sys/namespaces/"
SHREDDED_PREFIX = "strongroom/shredded/"  # crypto-shredded tenants' records (service/vaultshred.py): names not reused
TRANSIT_KEYS_PREFIX = "transit/keys/"
LEGACY_TENANT = "default"  # the tenant that data of the single-tenant version ("root") belongs to


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
        self.tokens = TokenStore(seal.barrier)
        self.root = Namespace(ns.ROOT, seal.barrier)
        self.root.policies = self.tokens  # the root namespace's policies are the token store's own
        self._namespaces: dict[str, Namespace] = {}

    @property
    def transit(self) -> TransitEngine:
        """The root namespace's transit engine."""
        return self.root.transit

    @property
    def kv(self) -> KVv2Engine:
        """The root namespace's KV v2 engine."""
        return self.root.kv

    # --- namespaces -----------------------------------------------------
    def namespace(self, name: str) -> Namespace:
        """The namespace ``name`` ("" = root); NotFound when no such child namespace exists."""
        if name == ns.ROOT:
            return self.root
        ns.check_name(name)
        with self._lock:
            if self.seal_manager.barrier.get(NAMESPACES_PREFIX + name) is None:
                self._namespaces.pop(name, None)
                raise errors.NotFound(f"namespace {name} not found")
            got = self._namespaces.get(name)
            if got is None:
                got = self._namespaces[name] = Namespace.child(self.seal_manager.barrier, name)
            return got

    def namespace_info(self, name: str) -> dict[str, Any] | None:
        """``{"id", "path", "custom_metadata"}`` of a child namespace, or None."""
        raw = self.seal_manager.barrier.get(NAMESPACES_PREFIX + ns.check_name(name))
        return None if raw is None else dict(json.loads(raw))

    def list_namespaces(self) -> list[str]:
        return [n for n in self.seal_manager.barrier.list(NAMESPACES_PREFIX) if not n.endswith("/")]

    def create_namespace(self, name: str, custom_metadata: dict[str, str] | None = None) -> dict[str, Any]:
        """Create the child namespace ``name`` with its built-in ``tenant-admin`` policy; idempotent."""
        ns.check_name(name)
        with self._lock:
            existing = self.namespace_info(name)
            if existing is not None:
                return existing
            if self.seal_manager.barrier.get(SHREDDED_PREFIX + name) is not None:
                raise errors.EntityAlreadyExists(
                    f"tenant {name} was crypto-shredded; the names of shredded tenants are not reused"
                )
            alphabet = string.ascii_letters + string.digits
            info = {
                "id": "".join(secrets.choice(alphabet) for _ in range(5)),
                "path": f"{name}/",
                "custom_metadata": dict(custom_metadata or {}),
            }
            self.seal_manager.barrier.put(NAMESPACES_PREFIX + name, json.dumps(info).encode())
            created = self.namespace(name)
            created.storage.put(
                f"sys/policy/{TENANT_ADMIN_POLICY_NAME}",
                json.dumps({"name": TENANT_ADMIN_POLICY_NAME, "policy": TENANT_ADMIN_POLICY}).encode(),
            )
            return info

    def delete_namespace(self, name: str, *, force: bool = False) -> None:
        """Delete an empty child namespace: its policies and tokens go with it. Conflict while it holds transit
        keys or KV secrets (``force``: delete them too, the crypto-shred's last step); a missing namespace is not
        an error."""
        ns.check_name(name)
        with self._lock:
            if self.namespace_info(name) is None:
                return
            target = self.namespace(name)
            if not force and not target.is_empty():
                raise errors.DeleteConflict(
                    f"namespace {name} still holds transit keys or KV secrets; delete them before the namespace"
                )
            self.tokens.revoke_namespace(name)
            for path in walk(target.storage):
                target.storage.delete(path)
            self.seal_manager.barrier.delete(NAMESPACES_PREFIX + name)
            self._namespaces.pop(name, None)

    def namespaces(self) -> list[Namespace]:
        """The root namespace and every child namespace."""
        found = [self.root]
        for name in self.list_namespaces():
            try:
                found.append(self.namespace(name))
            except errors.NotFound:
                continue
        return found

    def maybe_auto_rotate(self) -> list[str]:
        """Rotate due keys in every namespace; returns ``ns/key`` names (the root namespace's without prefix)."""
        rotated: list[str] = []
        for space in self.namespaces():
            rotated.extend(space.path + name for name in space.transit.maybe_auto_rotate())
        return rotated

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

    def bootstrap_credentials(self) -> list[dict[str, str]]:
        """The credentials the first unseal made (id, tenant, user; never the secret)."""
        out = []
        for key_id in self.seal_manager.barrier.list(CREDENTIALS_PREFIX):
            if key_id.endswith("/"):
                continue
            record = self.get_credential(key_id)
            if record is not None and record.get("bootstrap"):
                out.append({"access_key_id": key_id, "tenant": str(record["tenant"]), "user": str(record["user"])})
        return out

    def delete_credential(self, access_key: str) -> None:
        self.seal_manager.barrier.delete(CREDENTIALS_PREFIX + access_key)

    def get_credential(self, access_key: str) -> dict[str, Any] | None:
        raw = self.seal_manager.barrier.get(CREDENTIALS_PREFIX + access_key)
        return None if raw is None else dict(json.loads(raw))

    def count_credentials(self) -> int:
        return len(self.seal_manager.barrier.list(CREDENTIALS_PREFIX))

    # --- upgrade from the single-namespace vault --------------------------
    def upgrade(self) -> list[str]:
        """Move data written before namespaces existed into its tenant's namespace; idempotent, run at unseal.

        * credential records of tenant ``root`` become tenant ``default`` (user ``admin``);
        * every credential's tenant other than ``system`` gets its namespace;
        * root-namespace transit keys whose policy names a tenant other than ``system`` (``root`` meaning
          ``default``) move into that tenant's namespace with every version, state and setting: read (decrypted)
          and written again through the barrier under the new path (the barrier binds the path as AAD); the old
          entry is deleted last. A key whose name is already taken in the target namespace stays where it is.

        Returns what was done, one line per change.
        """
        done: list[str] = []
        barrier = self.seal_manager.barrier
        with self._lock:
            for access_key in barrier.list(CREDENTIALS_PREFIX):
                if access_key.endswith("/"):
                    continue
                record = self.get_credential(access_key)
                if record is None:
                    continue
                if record.get("tenant") == "root":
                    record.update(tenant=LEGACY_TENANT, user="admin")
                    barrier.put(CREDENTIALS_PREFIX + access_key, json.dumps(record).encode())
                    done.append(f"credential {access_key}: tenant root -> {LEGACY_TENANT}")
                tenant = str(record.get("tenant") or "")
                if tenant != ns.SYSTEM_TENANT and ns.NAME_RE.fullmatch(tenant) and self.namespace_info(tenant) is None:
                    self.create_namespace(tenant)
                    done.append(f"namespace {tenant} created")
            for name in barrier.list(TRANSIT_KEYS_PREFIX):
                if name.endswith("/"):
                    continue
                old_path = TRANSIT_KEYS_PREFIX + name
                raw = barrier.get(old_path)
                if raw is None:
                    continue
                policy = json.loads(raw)
                tenant = str(policy.get("tenant") or "root")
                if tenant == ns.SYSTEM_TENANT:
                    continue
                target = LEGACY_TENANT if tenant == "root" else tenant
                try:
                    ns.check_name(target)
                except errors.InvalidRequest:
                    log.warning("transit key %s: tenant %r is not a namespace name; left in place", name, tenant)
                    continue
                if self.namespace_info(target) is None:
                    self.create_namespace(target)
                    done.append(f"namespace {target} created")
                space = self.namespace(target)
                policy["tenant"] = target
                moved = json.dumps(policy, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
                current = space.storage.get(old_path)
                if current is not None and current != moved:
                    log.warning(
                        "transit key %s: namespace %s already has a key of that name; left in place", name, target
                    )
                    continue
                if current is None:
                    space.storage.put(old_path, moved)
                barrier.delete(old_path)
                done.append(f"transit key {name}: moved into namespace {target}")
        for line in done:
            log.info("upgrade: %s", line)
        return done

    # --- the object store's view of transit keys -------------------------
    def key_info(self, name: str, namespace: str = ns.ROOT) -> dict[str, Any]:
        """A key's read shape in ``namespace``; its ``tenant`` is the namespace's (internal API only)."""
        space = self._key_namespace(name, namespace)
        return {**space.transit.read_key(name), "tenant": space.tenant}

    def release_bucket_key(
        self, name: str, version: int | None, namespace: str, bucket: str, bucket_id: str, use: KeyUse
    ) -> Released:
        """The bucket key of ``bucket`` under key ``name`` of ``namespace``, if the release rule allows ``use``
        (keys/release.py; internal API only). The vault key's own material never leaves the vault."""
        space = self._key_namespace(name, namespace)
        return release_bucket_key(
            space.transit, space.tenant, name, version, bucket, bucket_id, use, self.release_facts
        )

    @functools.cached_property
    def release_facts(self) -> ReleaseFacts:
        repo = self.repo
        governance = GovernanceStore(repo) if repo is not None else None

        def bucket(name: str) -> BucketFacts | None:
            row = repo.get_bucket(name) if repo is not None else None
            return None if row is None else BucketFacts(row.id, row.name, row.tenant_id)

        def grant(grant_id: str) -> GrantFacts | None:
            if governance is None:
                return None
            got = governance.get_request_of_grant(grant_id)
            if got is None:
                return None
            g, case_id = got
            if case_id is not None:
                # a case under a non-disclosure order in force stays unnamed in the tenant's chain: the release is
                # what the tenant knowingly approved, an operator's lockbox grant (docs/ARCHITECTURE.md)
                case = governance.get_case(case_id)
                if case is None or gag_in_force(case, utcnow()):
                    case_id = None
            return GrantFacts(
                g.id, g.operator, g.tenant_id, g.bucket_id, g.expires_at, g.revoked_at is not None, case_id
            )

        return ReleaseFacts(bucket=bucket, grant=grant, credential=self.get_credential)

    def _key_namespace(self, name: str, namespace: str) -> Namespace:
        try:
            return self.namespace(namespace)
        except errors.NotFound:
            raise errors.TransitKeyNotFound(f"key {name} not found") from None


def require_unsealed(core: VaultCore) -> None:
    if core.sealed:
        raise errors.KeyStoreSealed("Vault is sealed")
