"""A namespace's mount tables: where its secrets engines (``sys/mounts``) and auth methods (``sys/auth``) live.

Each namespace has two built-in secrets mounts that cannot be moved or disabled, ``secret/`` (KV v2: the tenant's
secrets) and ``transit/`` (the tenant's keys, strongroom's bucket keys among them), and the built-in auth mount
``token/``. More mounts are enabled at any free path: ``kv`` (version 1 or 2) and ``transit`` secrets engines,
``userpass`` and ``approle`` auth methods. A request path goes to the mount with the longest matching prefix,
as in Vault; mounts may not nest inside one another (``path is already in use at apps/``).

Storage, through the namespace's own storage (so inside the barrier and the namespace's prefix)::

    sys/mount-table              the enabled secrets mounts (JSON, one document: a change is one write)
    sys/auth-table               the enabled auth mounts
    mounts/<uuid>/...            a secrets mount's engine storage (deleted with the mount)
    auth-mounts/<uuid>/...       an auth mount's storage (users, roles, secret IDs)

Engines take typed values; the Vault wire shapes of these entries are rendered here (:meth:`MountEntry.render`)
because they are the mount table's own and the same for every caller.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from strongroom.core.errors import VaultInvalidRequest
from strongroom.keys.storage import PrefixedStorage, VaultStorage, walk

__all__ = [
    "AUTH_TYPES",
    "SECRET_TYPES",
    "SYSTEM_DEFAULT_TTL",
    "SYSTEM_MAX_TTL",
    "MountEntry",
    "MountTable",
    "normalize_path",
]

SYSTEM_DEFAULT_TTL = 768 * 3600  # Vault's default_lease_ttl and max_lease_ttl when a mount sets none (768h)
SYSTEM_MAX_TTL = 768 * 3600
#: secrets engine types one may enable (``kv-v2`` is ``kv`` with version 2; ``generic`` is Vault's old name of kv)
SECRET_TYPES = frozenset({"kv", "kv-v2", "generic", "transit"})
AUTH_TYPES = frozenset({"userpass", "approle"})
#: paths no mount may take or nest under (Vault's reserved mounts, and strongroom's own API)
_RESERVED = ("sys/", "auth/", "cubbyhole/", "identity/", "strongroom/")
_PATH_RE = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/")
_DESCRIPTION_MAX = 1024


def normalize_path(path: str) -> str:
    """A mount path as Vault keeps it: no leading slash, one trailing slash; InvalidRequest for a malformed one."""
    p = (path or "").strip().strip("/") + "/"
    if p == "/" or not _PATH_RE.fullmatch(p) or ".." in p.split("/"):
        raise VaultInvalidRequest(f"invalid mount path {path!r}")
    return p


@dataclass
class MountEntry:
    """One mount: ``path`` ends with "/"; ``type`` is ``kv``/``transit`` (secrets) or ``token``/``userpass``/
    ``approle`` (auth); ``version`` is the KV version (1 or 2; 0 for other types)."""

    path: str
    type: str
    version: int = 0
    description: str = ""
    uuid: str = ""
    accessor: str = ""
    default_lease_ttl: int = 0  # 0 = the system default
    max_lease_ttl: int = 0
    builtin: bool = False

    @property
    def storage_prefix(self) -> str:
        return f"mounts/{self.uuid}/" if self.type in ("kv", "transit") else f"auth-mounts/{self.uuid}/"

    def effective_ttls(self) -> tuple[int, int]:
        """(default TTL, max TTL) of the tokens and leases this mount issues."""
        return self.default_lease_ttl or SYSTEM_DEFAULT_TTL, self.max_lease_ttl or SYSTEM_MAX_TTL

    def options(self) -> dict[str, str] | None:
        return {"version": str(self.version)} if self.type == "kv" else None

    def render(self) -> dict[str, Any]:
        """The entry as ``GET sys/mounts`` / ``GET sys/auth`` show it."""
        return {
            "accessor": self.accessor,
            "config": {
                "default_lease_ttl": self.default_lease_ttl,
                "force_no_cache": False,
                "max_lease_ttl": self.max_lease_ttl,
            },
            "description": self.description,
            "external_entropy_access": False,
            "local": False,
            "options": self.options(),
            "plugin_version": "",
            "running_plugin_version": "v1.15.0+builtin.vault" if self.builtin else "v1.15.0+builtin",
            "running_sha256": "",
            "seal_wrap": False,
            "type": self.type,
            "uuid": self.uuid,
        }

    def render_tune(self) -> dict[str, Any]:
        """The entry as ``GET sys/mounts/:path/tune`` shows it (the effective TTLs)."""
        default, maximum = self.effective_ttls()
        out: dict[str, Any] = {
            "default_lease_ttl": default,
            "max_lease_ttl": maximum,
            "force_no_cache": False,
            "description": self.description,
        }
        if self.options() is not None:
            out["options"] = self.options()
        return out


def _builtin(path: str, kind: str, version: int, description: str) -> MountEntry:
    return MountEntry(
        path, kind, version, description, uuid=f"builtin-{path[:-1]}", accessor=f"{kind}_builtin", builtin=True
    )


SECRET_BUILTINS = {
    "secret/": _builtin("secret/", "kv", 2, "key/value secret storage"),
    "transit/": _builtin("transit/", "transit", 0, "encryption as a service (strongroom's bucket keys live here)"),
}
AUTH_BUILTINS = {"token/": _builtin("token/", "token", 0, "token based credentials")}


@dataclass
class MountTable:
    """The secrets (``kind="secrets"``) or auth (``kind="auth"``) mounts of one namespace.

    ``make_engine(entry, storage)`` builds the engine of a non-built-in mount over its own storage; engines are
    kept per mount (an engine holds locks and caches). The table is cached and re-read only after its own writes,
    so one vault process must own the storage (it does: the vault is one process).
    """

    storage: VaultStorage
    kind: str
    make_engine: Callable[[MountEntry, VaultStorage], Any]
    builtin_engines: dict[str, Any] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)
    _cache: dict[str, MountEntry] | None = field(default=None, init=False, repr=False)
    _engines: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @property
    def _doc(self) -> str:
        return "sys/mount-table" if self.kind == "secrets" else "sys/auth-table"

    @property
    def builtins(self) -> dict[str, MountEntry]:
        return SECRET_BUILTINS if self.kind == "secrets" else AUTH_BUILTINS

    def _load(self) -> dict[str, MountEntry]:
        with self._lock:
            if self._cache is None:
                raw = self.storage.get(self._doc)
                rows = json.loads(raw) if raw else []
                self._cache = {r["path"]: MountEntry(**r) for r in rows}
            return self._cache

    def _save(self, table: dict[str, MountEntry]) -> None:
        self.storage.put(self._doc, json.dumps([asdict(e) for e in table.values()]).encode())
        self._cache = table

    def entries(self) -> dict[str, MountEntry]:
        """Every mount, built-ins first, by path."""
        return {**self.builtins, **dict(sorted(self._load().items()))}

    def get(self, path: str) -> MountEntry | None:
        p = normalize_path(path)
        return self.builtins.get(p) or self._load().get(p)

    def resolve(self, path: str) -> tuple[MountEntry, str] | None:
        """The mount ``path`` (a request path, relative to ``auth/`` for auth mounts) belongs to, and the rest of
        the path within it; None when no mount matches."""
        head = path.split("/", 1)[0] + "/"
        if head in self.builtins:
            return self.builtins[head], path[len(head) :]
        full = path if path.endswith("/") else path + "/"
        best: MountEntry | None = None
        for p, entry in self._load().items():
            if full.startswith(p) and (best is None or len(p) > len(best.path)):
                best = entry
        if best is None:
            return None
        return best, path[len(best.path) :]

    def engine(self, entry: MountEntry) -> Any:
        if entry.builtin:
            return self.builtin_engines.get(entry.path)
        with self._lock:
            got = self._engines.get(entry.uuid)
            if got is None:
                got = self._engines[entry.uuid] = self.make_engine(
                    entry, PrefixedStorage(self.storage, entry.storage_prefix)
                )
            return got

    # --- changes ------------------------------------------------------------------------------------
    def enable(
        self,
        path: str,
        kind: str,
        *,
        description: str = "",
        version: int | None = None,
        default_lease_ttl: int = 0,
        max_lease_ttl: int = 0,
    ) -> MountEntry:
        p = normalize_path(path)
        if kind == "token" and self.kind == "auth":
            raise VaultInvalidRequest("token credential backend cannot be instantiated")
        allowed = SECRET_TYPES if self.kind == "secrets" else AUTH_TYPES
        if kind not in allowed:
            raise VaultInvalidRequest(f"plugin not found in the catalog: {kind}")
        for reserved in _RESERVED if self.kind == "secrets" else ():
            if p.startswith(reserved) or reserved.startswith(p):
                raise VaultInvalidRequest(f'cannot mount under "{reserved}"')
        if kind == "kv-v2":
            kind, version = "kv", 2
        elif kind in ("kv", "generic"):
            kind, version = "kv", version or 1
            if version not in (1, 2):
                raise VaultInvalidRequest(f"invalid kv version {version}: version 1 or 2")
        else:
            version = 0
        if len(description) > _DESCRIPTION_MAX:
            raise VaultInvalidRequest("description is too long")
        self._check_ttls(default_lease_ttl, max_lease_ttl)
        with self._lock:
            table = dict(self._load())
            for existing in [*self.builtins, *table]:
                if p.startswith(existing) or existing.startswith(p):
                    raise VaultInvalidRequest(f"path is already in use at {existing}")
            prefix = {"transit": "transit", "kv": "kv", "userpass": "auth_userpass", "approle": "auth_approle"}[kind]
            entry = MountEntry(
                p,
                kind,
                version,
                description,
                uuid=str(uuid.uuid4()),
                accessor=f"{prefix}_{secrets.token_hex(4)}",
                default_lease_ttl=default_lease_ttl,
                max_lease_ttl=max_lease_ttl,
            )
            table[p] = entry
            self._save(table)
            return entry

    @staticmethod
    def _check_ttls(default: int, maximum: int) -> None:
        if default < 0 or maximum < 0:
            raise VaultInvalidRequest("a lease TTL cannot be negative")
        if default and maximum and default > maximum:
            raise VaultInvalidRequest("default lease TTL cannot be greater than max lease TTL")
        if maximum > SYSTEM_MAX_TTL or default > SYSTEM_MAX_TTL:
            raise VaultInvalidRequest("lease TTL cannot be greater than the system max lease TTL (768h)")

    def tune(
        self,
        path: str,
        *,
        description: str | None = None,
        default_lease_ttl: int | None = None,
        max_lease_ttl: int | None = None,
        version: int | None = None,
    ) -> MountEntry:
        p = normalize_path(path)
        with self._lock:
            if p in self.builtins:
                raise VaultInvalidRequest(f"cannot tune {p!r}: strongroom keeps its built-in mounts as they are")
            table = dict(self._load())
            entry = table.get(p)
            if entry is None:
                raise VaultInvalidRequest(f"no mount at {p}" if self.kind == "secrets" else f"no auth mount at {p}")
            new = MountEntry(**asdict(entry))
            if description is not None:
                new.description = description
            if default_lease_ttl is not None:
                new.default_lease_ttl = default_lease_ttl
            if max_lease_ttl is not None:
                new.max_lease_ttl = max_lease_ttl
            self._check_ttls(new.default_lease_ttl, new.max_lease_ttl)
            if version is not None and version != new.version:
                if new.type != "kv":
                    raise VaultInvalidRequest(f"the {new.type} engine takes no version option")
                if version < new.version:
                    raise VaultInvalidRequest("cannot downgrade mount from KV version 2 to KV version 1")
                raise VaultInvalidRequest(
                    "upgrading a kv mount from version 1 to version 2 is not supported by strongroom: enable a new "
                    "kv-v2 mount and copy the secrets"
                )
            table[p] = new
            self._save(table)
            self._engines.pop(new.uuid, None)  # an engine built with the old settings goes
            return new

    def disable(self, path: str, on_removed: Callable[[MountEntry], None] | None = None) -> MountEntry | None:
        """Remove the mount at ``path`` and everything stored in it (Vault deletes a disabled mount's data);
        None (and no error, as Vault answers) when nothing is mounted there."""
        p = normalize_path(path)
        if p in self.builtins:
            what = "auth method" if self.kind == "auth" else "secrets engine"
            raise VaultInvalidRequest(f"cannot unmount {p!r}: strongroom's built-in {what}")
        with self._lock:
            table = dict(self._load())
            entry = table.pop(p, None)
            if entry is None:
                return None
            self._save(table)
            self._engines.pop(entry.uuid, None)
        if on_removed is not None:
            on_removed(entry)
        store = PrefixedStorage(self.storage, entry.storage_prefix)
        for leaf in walk(store):
            store.delete(leaf)
        return entry

    def added(self) -> list[MountEntry]:
        """The mounts enabled beside the built-ins."""
        return list(self._load().values())
