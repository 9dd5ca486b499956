"""Token roles (``auth/token/roles/:name``), as HashiCorp Vault's token store has them.

A role is a template for ``auth/token/create/:role``: which policies its tokens may carry (``allowed_policies``,
``disallowed_policies``), whether they are orphans, renewable or periodic (``token_period``), their explicit
maximum TTL and an optional ``path_suffix``. With ``allowed_policies`` set, a token made through the role may
carry any subset of them even when the caller's own token does not (the point of a role); without, the usual
rule holds (a subset of the caller's policies), minus the disallowed ones.

Storage (the namespace's own, through the barrier): ``auth/token/role/<name>`` holds the role as JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from strongroom.core.errors import VaultInvalidRequest, VaultNotFound
from strongroom.keys.storage import VaultStorage

__all__ = ["TokenRole", "TokenRoles", "role_policies"]

_NAME_RE = re.compile(r"[A-Za-z0-9_.@-]{1,128}")
_SUFFIX_RE = re.compile(r"[A-Za-z0-9_.-]*")


@dataclass
class TokenRole:
    name: str
    allowed_policies: list[str] = field(default_factory=list)
    disallowed_policies: list[str] = field(default_factory=list)
    orphan: bool = False
    renewable: bool = True
    path_suffix: str = ""
    token_period: int = 0  # seconds; tokens made through the role are periodic
    token_explicit_max_ttl: int = 0
    token_no_default_policy: bool = False
    token_num_uses: int = 0

    def render(self) -> dict[str, Any]:
        """The role as ``GET auth/token/roles/:name`` shows it (Vault 1.15's fields; ``period`` and
        ``explicit_max_ttl`` are the deprecated names of the ``token_`` ones, shown alike)."""
        return {
            "allowed_entity_aliases": [],
            "allowed_policies": list(self.allowed_policies),
            "allowed_policies_glob": [],
            "disallowed_policies": list(self.disallowed_policies),
            "disallowed_policies_glob": [],
            "explicit_max_ttl": self.token_explicit_max_ttl,
            "name": self.name,
            "orphan": self.orphan,
            "path_suffix": self.path_suffix,
            "period": self.token_period,
            "renewable": self.renewable,
            "token_bound_cidrs": [],
            "token_explicit_max_ttl": self.token_explicit_max_ttl,
            "token_no_default_policy": self.token_no_default_policy,
            "token_num_uses": self.token_num_uses,
            "token_period": self.token_period,
            "token_type": "default-service",
        }


def _check_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name or ""):
        raise VaultInvalidRequest(f"invalid role name {name!r}")
    return name


class TokenRoles:
    """One namespace's token roles."""

    def __init__(self, storage: VaultStorage) -> None:
        self.storage = storage

    def write(self, name: str, changes: dict[str, Any]) -> TokenRole:
        """Create the role ``name`` or update the fields in ``changes`` (typed, by :class:`TokenRole` field name)."""
        _check_name(name)
        known = {f.name for f in fields(TokenRole)} - {"name"}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown token role fields {sorted(unknown)}")
        role = self.read(name) or TokenRole(name)
        for key, value in changes.items():
            setattr(role, key, value)
        if not _SUFFIX_RE.fullmatch(role.path_suffix):
            raise VaultInvalidRequest("path_suffix contains invalid characters")
        if role.token_period < 0 or role.token_explicit_max_ttl < 0 or role.token_num_uses < 0:
            raise VaultInvalidRequest("token_period, token_explicit_max_ttl and token_num_uses cannot be negative")
        role.allowed_policies = sorted({p.strip().lower() for p in role.allowed_policies if p.strip()})
        role.disallowed_policies = sorted({p.strip().lower() for p in role.disallowed_policies if p.strip()})
        self.storage.put(f"auth/token/role/{name}", json.dumps(asdict(role)).encode())
        return role

    def read(self, name: str) -> TokenRole | None:
        raw = self.storage.get(f"auth/token/role/{_check_name(name)}")
        return None if raw is None else TokenRole(**json.loads(raw))

    def get(self, name: str) -> TokenRole:
        role = self.read(name)
        if role is None:
            raise VaultInvalidRequest(f"unknown role {name}")
        return role

    def list(self) -> list[str]:
        names = sorted(n for n in self.storage.list("auth/token/role/") if not n.endswith("/"))
        if not names:
            raise VaultNotFound("")
        return names

    def delete(self, name: str) -> None:
        self.storage.delete(f"auth/token/role/{_check_name(name)}")


def role_policies(role: TokenRole, requested: list[str], parent_policies: list[str], parent_is_root: bool) -> list[str]:
    """The policies a token made through ``role`` gets, as Vault decides them; InvalidRequest when the request
    asks for more than the role (or, for a role without ``allowed_policies``, the caller) may give."""
    wanted = sorted({p.strip().lower() for p in requested if p.strip()})
    for p in wanted:
        if p in role.disallowed_policies:
            raise VaultInvalidRequest(f'token policy "{p}" is disallowed by this role')
    if role.allowed_policies:
        if not wanted:
            wanted = [p for p in role.allowed_policies if p not in role.disallowed_policies]
        extra = sorted(set(wanted) - set(role.allowed_policies) - {"default"})
        if extra:
            raise VaultInvalidRequest(
                f"token policies ({json.dumps(wanted)}) must be subset of the role's allowed policies "
                f"({json.dumps(role.allowed_policies)})"
            )
    else:
        if not wanted:
            wanted = [p for p in parent_policies if p not in role.disallowed_policies and p != "root"]
        if not parent_is_root:
            extra = sorted(set(wanted) - set(parent_policies) - {"default"})
            if extra:
                raise VaultInvalidRequest("child policies must be subset of parent")
    if role.token_no_default_policy:
        wanted = [p for p in wanted if p != "default"]
    elif "default" not in wanted and "default" not in role.disallowed_policies:
        wanted = sorted([*wanted, "default"])
    if "root" in wanted:
        raise VaultInvalidRequest("a token role cannot make root tokens")
    return wanted
