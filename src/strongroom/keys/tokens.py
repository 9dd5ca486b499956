"""Vault tokens and ACL policies, stored through the barrier.

Tokens are random ``hvs.`` strings; only their SHA-256 is stored. Policies are Vault HCL (or JSON):
``path "<glob>" { capabilities = [...] }``. Authorization is deny by default; ``root`` may do
anything; ``deny`` on the matching rule wins. Rule priority follows Vault: the most specific
matching path wins (fewest wildcards, then the longest prefix).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import secrets
import string
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import hcl

from strongroom.core import errors
from strongroom.keys.storage import VaultStorage

CAPABILITIES = frozenset({"create", "read", "update", "patch", "delete", "list", "sudo", "deny"})
DEFAULT_POLICY = """
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "sys/capabilities-self" { capabilities = ["update"] }
path "sys/internal/ui/mounts/*" { capabilities = ["read"] }
path "sys/internal/ui/mounts" { capabilities = ["read"] }
"""
_ALPHABET = string.ascii_letters + string.digits


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class TokenEntry:
    accessor: str
    policies: list[str]
    display_name: str
    creation_time: int
    ttl: int  # seconds; 0 = no expiry
    explicit_max_ttl: int = 0
    meta: dict[str, str] = field(default_factory=dict)
    renewable: bool = False
    orphan: bool = False
    parent: str | None = None  # hash of the parent token
    num_uses: int = 0
    tenant: str = ""  # the token's vault namespace; "" (or "root", as older versions stored it) is the root namespace
    id_hash: str = ""
    created_precise: float = 0.0  # creation_time is whole seconds (as Vault shows it); expiry uses this
    period: int = 0  # seconds; a periodic token's every renewal sets its TTL back to the period
    max_ttl: int = 0  # seconds from creation that renewals may not pass (the issuing mount's max TTL); 0 = none
    path: str = "auth/token/create"  # the path that made it (auth/approle/login, auth/token/create/ROLE, ...)
    role: str = ""  # the token role it was made through
    mount_accessor: str = ""  # the auth mount that issued it (disabling the mount revokes it)
    bound_cidrs: list[str] = field(default_factory=list)  # where it may be used from (empty: anywhere)

    def usable_from(self, address: str | None) -> bool:
        """May the token be used by a client at ``address``? (Always, when it has no CIDR bounds.)"""
        if not self.bound_cidrs:
            return True
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
            return any(ip in ipaddress.ip_network(block, strict=False) for block in self.bound_cidrs)
        except ValueError:
            return False

    def _start(self) -> float:
        return self.created_precise or float(self.creation_time)

    @property
    def is_root(self) -> bool:
        return "root" in self.policies

    @property
    def namespace(self) -> str:
        """The token's namespace name; "" is the root namespace."""
        return "" if self.tenant in ("", "root") else self.tenant

    def expire_time(self) -> int | None:
        return self.creation_time + self.ttl if self.ttl else None

    def expired(self, now: dt.datetime) -> bool:
        return bool(self.ttl) and now.timestamp() >= self._start() + self.ttl


@dataclass(frozen=True)
class Rule:
    pattern: str
    capabilities: frozenset[str]

    def matches(self, path: str) -> bool:
        pat = self.pattern
        glob = pat.endswith("*")
        if glob:
            pat = pat[:-1]
        p_parts = pat.split("/")
        if "+" not in p_parts:
            return path.startswith(pat) if glob else path == pat
        x_parts = path.split("/")
        if not glob and len(x_parts) != len(p_parts):
            return False
        if glob and len(x_parts) < len(p_parts):
            return False
        for i, seg in enumerate(p_parts):
            last = i == len(p_parts) - 1
            if seg == "+":
                continue
            if last and glob:
                if not x_parts[i].startswith(seg):
                    return False
            elif x_parts[i] != seg:
                return False
        return True

    def specificity(self) -> tuple[int, int, int]:
        wild = self.pattern.split("/").count("+")
        glob = 1 if self.pattern.endswith("*") else 0
        return (-wild, -glob, len(self.pattern))


def parse_policy(text: str) -> list[Rule]:
    """Parse Vault HCL or JSON policy text into rules; bad input raises InvalidRequest."""
    try:
        doc = json.loads(text) if text.lstrip().startswith("{") else hcl.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parser failure is a bad policy
        raise errors.InvalidRequest(f"failed to parse policy: {exc}") from None
    paths = doc.get("path", {}) if isinstance(doc, dict) else {}
    if isinstance(paths, list):  # JSON form may be a list of single-key objects
        merged: dict[str, Any] = {}
        for item in paths:
            merged.update(item)
        paths = merged
    rules = []
    for pattern, body in paths.items():
        caps = body.get("capabilities", []) if isinstance(body, dict) else []
        if body and isinstance(body, dict) and "policy" in body:  # legacy syntax
            caps = {
                "deny": ["deny"],
                "read": ["read", "list"],
                "write": ["create", "read", "update", "delete", "list"],
                "sudo": list(CAPABILITIES - {"deny"}),
            }.get(body["policy"], [])
        bad = set(caps) - CAPABILITIES
        if bad:
            raise errors.InvalidRequest(f"invalid capabilities: {sorted(bad)}")
        rules.append(Rule(pattern.lstrip("/"), frozenset(caps)))
    return rules


TENANT_ADMIN_POLICY_NAME = "tenant-admin"
TENANT_ADMIN_POLICY = """
path "*" { capabilities = ["create", "read", "update", "patch", "delete", "list", "sudo"] }
"""


class PolicyStore:
    """ACL policies of one namespace in vault storage, and the capabilities they grant a token.

    ``builtin`` policies (a namespace's ``tenant-admin``) are always present and can be neither changed nor deleted.
    Thread-safe as far as the storage is.
    """

    def __init__(self, storage: VaultStorage, builtin: dict[str, str] | None = None) -> None:
        self.storage = storage
        self.builtin = dict(builtin or {})

    # --- policies -------------------------------------------------------
    def put_policy(self, name: str, text: str) -> None:
        if name in ("root",) or name in self.builtin:
            raise errors.InvalidRequest(f'cannot update "{name}" policy')
        parse_policy(text)
        self.storage.put(f"sys/policy/{name}", json.dumps({"name": name, "policy": text}).encode())

    def get_policy(self, name: str) -> str | None:
        if name == "default":
            raw = self.storage.get("sys/policy/default")
            return json.loads(raw)["policy"] if raw else DEFAULT_POLICY
        if name == "root":
            return ""
        if name in self.builtin:
            return self.builtin[name]
        raw = self.storage.get(f"sys/policy/{name}")
        return json.loads(raw)["policy"] if raw else None

    def delete_policy(self, name: str) -> None:
        if name in ("root", "default") or name in self.builtin:
            raise errors.InvalidRequest(f'cannot delete "{name}" policy')
        self.storage.delete(f"sys/policy/{name}")

    def list_policies(self) -> list[str]:
        names = {n for n in self.storage.list("sys/policy/") if not n.endswith("/")}
        return sorted(names | {"default", "root"} | set(self.builtin))

    def capabilities(self, entry: TokenEntry, path: str) -> set[str]:
        """What ``entry``'s policies, as this store defines them, grant on ``path`` (``{"root"}`` for root)."""
        if entry.is_root:
            return {"root"}
        best: Rule | None = None
        for name in entry.policies:
            text = self.get_policy(name)
            if text is None:
                continue
            for rule in parse_policy(text):
                if rule.matches(path) and (best is None or rule.specificity() > best.specificity()):
                    best = rule
                elif rule.matches(path) and best is not None and rule.specificity() == best.specificity():
                    best = Rule(best.pattern, best.capabilities | rule.capabilities)
        if best is None or "deny" in best.capabilities:
            return {"deny"}
        return set(best.capabilities)

    def allowed(self, entry: TokenEntry, path: str, capability: str) -> bool:
        caps = self.capabilities(entry, path)
        return "root" in caps or capability in caps


class TokenStore(PolicyStore):
    """Every namespace's tokens, and the root namespace's policies, in vault storage.

    Tokens of every namespace live here (looked up by hash before the namespace is known); each records its
    namespace, and ``auth/token/namespace/<ns>/<hash>`` indexes the tokens of child namespaces so deleting a
    namespace revokes them. Thread-safe as far as the storage is.
    """

    def __init__(self, storage: VaultStorage, clock: Callable[[], dt.datetime] = _now) -> None:
        super().__init__(storage)
        self.clock = clock

    # --- tokens ---------------------------------------------------------
    def _save(self, token_hash: str, entry: TokenEntry) -> None:
        entry.id_hash = token_hash
        self.storage.put(f"auth/token/id/{token_hash}", json.dumps(asdict(entry)).encode())
        self.storage.put(f"auth/token/accessor/{entry.accessor}", token_hash.encode())
        if entry.namespace:
            self.storage.put(f"auth/token/namespace/{entry.namespace}/{token_hash}", b"1")
        if entry.mount_accessor:
            self.storage.put(f"auth/token/mount/{entry.mount_accessor}/{token_hash}", b"1")

    def create(
        self,
        *,
        policies: list[str],
        parent: TokenEntry | None,
        ttl: int = 0,
        explicit_max_ttl: int = 0,
        display_name: str = "token",
        meta: dict[str, str] | None = None,
        renewable: bool = True,
        no_parent: bool = False,
        num_uses: int = 0,
        token_id: str | None = None,
        namespace: str | None = None,
        period: int = 0,
        max_ttl: int = 0,
        path: str = "auth/token/create",
        role: str = "",
        mount_accessor: str = "",
        bound_cidrs: list[str] | None = None,
        policies_decided: bool = False,
    ) -> tuple[str, TokenEntry]:
        """A new token; it belongs to ``namespace`` if given, else to its parent's namespace (root without one).

        ``policies_decided``: the policies were decided by a token role or an auth method's login, so they are
        not checked against ``parent``'s and no ``default`` is added. A ``period`` makes a periodic token (its
        TTL is the period)."""
        if policies_decided:
            pols = sorted(set(policies))
        else:
            pols = sorted(set(policies or (parent.policies if parent else ["default"])))
            if parent is not None and not parent.is_root:
                missing = set(pols) - set(parent.policies) - {"default"}
                if missing:
                    raise errors.AccessDenied("child policies must be subset of parent")
            if "root" not in pols and "default" not in pols:
                pols = sorted([*pols, "default"])
        if period:
            ttl = period if not explicit_max_ttl else min(period, explicit_max_ttl)
        else:
            if max_ttl and (ttl == 0 or ttl > max_ttl):
                ttl = max_ttl
            if explicit_max_ttl and (ttl == 0 or ttl > explicit_max_ttl):
                ttl = explicit_max_ttl
        token = token_id or "hvs." + "".join(secrets.choice(_ALPHABET) for _ in range(24))
        accessor = "".join(secrets.choice(_ALPHABET) for _ in range(24))
        entry = TokenEntry(
            accessor=accessor,
            policies=pols,
            display_name=display_name if display_name.startswith("token") else f"token-{display_name}",
            creation_time=int(self.clock().timestamp()),
            created_precise=self.clock().timestamp(),
            ttl=ttl,
            explicit_max_ttl=explicit_max_ttl,
            meta=meta or {},
            renewable=renewable and ttl > 0,
            orphan=no_parent or parent is None,
            parent=None if (no_parent or parent is None) else parent.id_hash,
            num_uses=num_uses,
            tenant=namespace if namespace is not None else (parent.namespace if parent else ""),
            period=period,
            max_ttl=max_ttl,
            path=path,
            role=role,
            mount_accessor=mount_accessor,
            bound_cidrs=list(bound_cidrs or []),
        )
        h = _hash(token)
        if self.storage.get(f"auth/token/id/{h}") is not None:
            raise errors.InvalidRequest("cannot create a token with a duplicate ID")
        self._save(h, entry)
        if entry.parent:
            self.storage.put(f"auth/token/parent/{entry.parent}/{h}", b"1")
        return token, entry

    def lookup(self, token: str) -> TokenEntry | None:
        return self._lookup_hash(_hash(token))

    def _lookup_hash(self, token_hash: str) -> TokenEntry | None:
        raw = self.storage.get(f"auth/token/id/{token_hash}")
        if raw is None:
            return None
        entry = TokenEntry(**json.loads(raw))
        if entry.expired(self.clock()):
            self._revoke_hash(token_hash)
            return None
        return entry

    def lookup_accessor(self, accessor: str) -> TokenEntry | None:
        raw = self.storage.get(f"auth/token/accessor/{accessor}")
        return self._lookup_hash(raw.decode()) if raw else None

    def revoke(self, token: str) -> None:
        self._revoke_hash(_hash(token))

    def revoke_accessor(self, accessor: str) -> None:
        raw = self.storage.get(f"auth/token/accessor/{accessor}")
        if raw:
            self._revoke_hash(raw.decode())

    def _revoke_hash(self, token_hash: str) -> None:
        for child in self.storage.list(f"auth/token/parent/{token_hash}/"):
            self.storage.delete(f"auth/token/parent/{token_hash}/{child}")
            self._revoke_hash(child)
        raw = self.storage.get(f"auth/token/id/{token_hash}")
        if raw is not None:
            entry = TokenEntry(**json.loads(raw))
            self.storage.delete(f"auth/token/accessor/{entry.accessor}")
            if entry.parent:
                self.storage.delete(f"auth/token/parent/{entry.parent}/{token_hash}")
            if entry.namespace:
                self.storage.delete(f"auth/token/namespace/{entry.namespace}/{token_hash}")
            if entry.mount_accessor:
                self.storage.delete(f"auth/token/mount/{entry.mount_accessor}/{token_hash}")
        self.storage.delete(f"auth/token/id/{token_hash}")

    def revoke_mount(self, mount_accessor: str) -> int:
        """Revoke every token the auth mount ``mount_accessor`` issued (it is being disabled); how many."""
        n = 0
        for token_hash in self.storage.list(f"auth/token/mount/{mount_accessor}/"):
            self._revoke_hash(token_hash)
            self.storage.delete(f"auth/token/mount/{mount_accessor}/{token_hash}")
            n += 1
        return n

    def revoke_where(self, namespace: str, meta_key: str, meta_value: str) -> int:
        """Revoke every token of the child namespace ``namespace`` whose metadata ``meta_key`` is ``meta_value``;
        how many."""
        n = 0
        for token_hash in self.storage.list(f"auth/token/namespace/{namespace}/"):
            entry = self._lookup_hash(token_hash)
            if entry is not None and entry.meta.get(meta_key) == meta_value:
                self._revoke_hash(token_hash)
                n += 1
        return n

    def revoke_namespace(self, namespace: str) -> None:
        """Revoke every token of the child namespace ``namespace`` (it is being deleted)."""
        for token_hash in self.storage.list(f"auth/token/namespace/{namespace}/"):
            self._revoke_hash(token_hash)
            self.storage.delete(f"auth/token/namespace/{namespace}/{token_hash}")

    def renew(self, entry: TokenEntry, increment: int | None) -> TokenEntry:
        if not entry.renewable:
            raise errors.InvalidRequest("lease is not renewable")
        now = self.clock().timestamp()
        if entry.period:
            # a periodic token: its TTL goes back to the period whatever the increment, with no max TTL but the
            # explicit one
            new_ttl = int(now - entry._start()) + entry.period
        else:
            new_ttl = int(now - entry._start()) + (increment or entry.ttl)
            if entry.max_ttl:
                new_ttl = min(new_ttl, entry.max_ttl)
        if entry.explicit_max_ttl:
            new_ttl = min(new_ttl, entry.explicit_max_ttl)
        entry.ttl = new_ttl
        self._save(entry.id_hash, entry)
        return entry
