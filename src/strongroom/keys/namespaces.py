"""Vault namespaces: one per tenant, each with its own transit keys, KV v2 secrets and ACL policies.

The root namespace is the reserved tenant ``system`` (the operators); it keeps the vault's original storage
paths. A child namespace ``<name>`` keeps the same layout under ``ns/<name>/`` through the barrier
(:class:`~strongroom.keys.storage.PrefixedStorage`), so its engines cannot see another namespace's entries.
The registry of child namespaces is ``sys/namespaces/<name>`` in the root namespace.

Tokens are global (looked up by hash) but each belongs to one namespace; :func:`operator_may` is the one rule
for what a root-namespace token may do inside a child namespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from strongroom.core import errors
from strongroom.keys.kv import KVv2Engine
from strongroom.keys.kv1 import KVv1Engine
from strongroom.keys.mounts import MountEntry, MountTable
from strongroom.keys.storage import PrefixedStorage, VaultStorage
from strongroom.keys.tokenroles import TokenRoles
from strongroom.keys.tokens import TENANT_ADMIN_POLICY, TENANT_ADMIN_POLICY_NAME, PolicyStore
from strongroom.keys.transit import TransitEngine

__all__ = [
    "ROOT",
    "SYSTEM_TENANT",
    "Namespace",
    "check_name",
    "namespace_prefix",
    "normalize",
    "operator_may",
]

ROOT = ""  # the root namespace's name
SYSTEM_TENANT = "system"  # the tenant the root namespace belongs to
RESERVED = frozenset({SYSTEM_TENANT, "root"})
NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def check_name(name: str) -> str:
    """A child namespace's name (a tenant name); reserved or malformed names raise InvalidRequest."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name in RESERVED:
        raise errors.InvalidRequest(f"invalid namespace name {name!r}")
    return name


def normalize(header: str | None) -> str:
    """The namespace an ``X-Vault-Namespace`` value selects: ``NAME`` or ``NAME/``; none, ``root`` or ``system``
    select the root namespace (""). A malformed or nested name raises InvalidRequest."""
    value = (header or "").strip()
    if value.endswith("/"):
        value = value[:-1]
    if value in ("", *RESERVED):
        return ROOT
    return check_name(value)


def namespace_prefix(name: str) -> str:
    """Where a child namespace's entries live in the root storage."""
    return f"ns/{check_name(name)}/"


@dataclass
class Namespace:
    """One namespace's engines over its own storage. ``tenant`` is the owner recorded on its keys."""

    name: str
    storage: VaultStorage
    transit: TransitEngine = field(init=False)
    kv: KVv2Engine = field(init=False)
    policies: PolicyStore = field(init=False)
    mounts: MountTable = field(init=False)  # sys/mounts: secret/ and transit/ and what the tenant enables
    auth_mounts: MountTable = field(init=False)  # sys/auth: token/ and the enabled auth methods
    token_roles: TokenRoles = field(init=False)

    def __post_init__(self) -> None:
        self.transit = TransitEngine(self.storage)
        self.kv = KVv2Engine(self.storage, mount="secret")
        builtin = {TENANT_ADMIN_POLICY_NAME: TENANT_ADMIN_POLICY} if self.name else {}
        self.policies = PolicyStore(self.storage, builtin=builtin)
        self.mounts = MountTable(
            self.storage, "secrets", _secrets_engine, builtin_engines={"secret/": self.kv, "transit/": self.transit}
        )
        self.auth_mounts = MountTable(self.storage, "auth", _auth_engine)
        self.token_roles = TokenRoles(self.storage)

    @classmethod
    def child(cls, root_storage: VaultStorage, name: str) -> Namespace:
        return cls(name, PrefixedStorage(root_storage, namespace_prefix(name)))

    @property
    def is_root(self) -> bool:
        return self.name == ROOT

    @property
    def tenant(self) -> str:
        return self.name or SYSTEM_TENANT

    @property
    def path(self) -> str:
        """The namespace as Vault shows it (``acme/``; the root namespace is "")."""
        return f"{self.name}/" if self.name else ""

    def is_empty(self) -> bool:
        """True when it holds no transit key (a destroyed key's tombstone does not count) and no KV secret."""
        for name in self.storage.list("transit/keys/"):
            if name.endswith("/"):
                continue
            try:
                if self.transit.read_key(name).get("state") != "destroyed":
                    return False
            except errors.StrongroomError:
                return False
        if self.storage.list("kv/secret/metadata/"):
            return False
        # an enabled mount counts while it holds anything (a key, a secret): the tenant disables it first
        return not any(self.storage.list(entry.storage_prefix) for entry in self.mounts.added())


def _secrets_engine(entry: MountEntry, storage: VaultStorage) -> Any:
    """The engine of an enabled secrets mount, over the mount's own storage."""
    if entry.type == "transit":
        return TransitEngine(storage)
    return KVv2Engine(storage, mount="kv") if entry.version == 2 else KVv1Engine(storage)


def _auth_engine(entry: MountEntry, storage: VaultStorage) -> Any:
    """The engine of an enabled auth mount, over the mount's own storage."""
    from strongroom.keys.authmethods import AppRoleEngine, UserpassEngine

    if entry.type == "userpass":
        return UserpassEngine(storage)
    return AppRoleEngine(storage, max_lease_ttl=entry.effective_ttls()[1])


_OPERATOR_ROUTES = (
    # (operations, path pattern)
    ({"list", "read", "update", "delete"}, re.compile(r"sys/namespaces(/.*)?")),
    ({"list", "read", "update", "delete"}, re.compile(r"sys/(policy|policies/acl)(/[^/]+)?")),
    ({"read"}, re.compile(r"sys/mounts|sys/auth|sys/internal/ui/mounts(/.*)?")),
    ({"read", "update"}, re.compile(r"auth/token/(lookup-self|renew-self|revoke-self)")),
    ({"list"}, re.compile(r"transit/keys")),
    ({"read", "update", "delete"}, re.compile(r"transit/keys/[^/]+")),
    ({"update"}, re.compile(r"transit/keys/[^/]+/(config|rotate|trim)")),
    # the key lifecycle; which justifications a key refuses is the tenant's alone to set (keys/release.py)
    ({"update"}, re.compile(r"strongroom/keys/[^/]+/(?!key-access$)[^/]+")),
    ({"read"}, re.compile(r"strongroom/keys/[^/]+/key-access")),
    ({"read", "update"}, re.compile(r"strongroom/buckets/[^/]+(/rewrap)?")),
)


def operator_may(operation: str, path: str) -> bool:
    """May a root-namespace token (the operator's root token included) do ``operation`` on ``path`` inside a
    child (tenant) namespace? A hard rule, not policy-configurable; the token's ACL still applies on top.

    Allowed: managing namespaces and the namespace's ``sys/policy*``, reading its mounts, the caller's own token
    (``auth/token/*-self``), transit key *management* (``transit/keys`` LIST; ``transit/keys/:name`` create, read,
    delete; ``/config``, ``/rotate``, ``/trim``), the ``strongroom/keys/:name/*`` lifecycle, reading (never
    setting) ``strongroom/keys/:name/key-access``, and ``strongroom/buckets/*`` (rewrap keeps the DEKs inside the
    vault).

    Everything else is refused, in particular whatever uses or reveals key material or secrets:
    ``transit/{encrypt,decrypt,rewrap,datakey,hmac,sign,verify,export,backup,restore}/*``, every ``secret/*``
    (KV) path, and ``auth/token/create*`` (an operator must not mint a tenant's token).
    """
    path = path.strip("/")
    return any(operation in ops and pattern.fullmatch(path) for ops, pattern in _OPERATOR_ROUTES)
