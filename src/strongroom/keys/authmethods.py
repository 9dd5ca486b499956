"""Storage engines of two Vault auth methods, ``userpass`` and ``approle``, as HashiCorp Vault behaves.

These are typed engines with no HTTP: the Vault HTTP layer parses requests, calls them, and mints a token from the
:class:`Login` a successful login returns. Errors are :mod:`strongroom.core.errors` classes carrying Vault's message
texts (``VaultInvalidRequest`` 400, ``VaultNotFound`` 404, ``VaultError`` with an explicit status, ``AccessDenied``
for Vault's bare "permission denied").

Each engine works over its mount's own storage (a :class:`~strongroom.keys.storage.PrefixedStorage`), plaintext JSON
through the barrier::

    userpass:  user/<username>                     password hash (scrypt) and token settings
    approle:   hmac_key                            the mount's random 32-byte HMAC key (created on first use)
               role/<role name>                    role settings, including its role_id
               role_id/<hmac(role_id)>             index: role_id -> role name
               secret_id/<hmac(role)>/<hmac(id)>   one secret ID's properties (never the secret ID itself)
               accessor/<hmac(accessor)>           index: accessor -> secret ID entry

Passwords are only stored as scrypt hashes; secret IDs only as HMAC-SHA256 digests under the mount key, so a copy
of the storage does not let anyone log in. A login for an unknown user costs one scrypt, as a wrong password does,
and fails with the same error. Names are lower-cased as Vault lower-cases them.

Both engines are safe to share between threads. AppRole serialises every operation with one lock (a login consumes a
use of its secret ID); userpass needs no lock to log in, and hashes passwords outside its lock.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hmac
import ipaddress
import json
import re
import threading
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from strongroom.core import errors
from strongroom.core.clock import Clock, utcnow
from strongroom.crypto import aead
from strongroom.crypto.passwords import DIGEST_KEY_LEN, burn_verify, hash_password, secret_digest, verify_password
from strongroom.keys.kv import format_duration, parse_time, rfc3339
from strongroom.keys.storage import VaultStorage

__all__ = [
    "APPROLE_LEGACY_FIELDS",
    "DEFAULT_MAX_LEASE_TTL",
    "LEGACY_FIELDS",
    "USERPASS_LEGACY_FIELDS",
    "AppRoleEngine",
    "Login",
    "TokenSettings",
    "UserpassEngine",
]

DEFAULT_MAX_LEASE_TTL = 768 * 3600  # seconds: Vault's default system max lease TTL (32 days)
MAX_HMAC_INPUT_LENGTH = 4096  # bytes: Vault's limit on role names and secret IDs

#: Pre-``token_*`` field names Vault's read still shows, mirrored from their ``token_*`` values when those are set.
LEGACY_FIELDS = ("bound_cidrs", "max_ttl", "period", "policies", "ttl")
USERPASS_LEGACY_FIELDS = ("bound_cidrs", "max_ttl", "policies", "ttl")
APPROLE_LEGACY_FIELDS = ("period", "policies")

_ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, what Vault shows for "no expiration"
_NAME = re.compile(r"[0-9A-Za-z_](?:[0-9A-Za-z_.@-]*[0-9A-Za-z_])?")  # Vault's framework.GenericNameRegex
_TOKEN_TYPES = {"": "default", "default": "default", "service": "service", "default-service": "service"}
_BATCH_TYPES = frozenset({"batch", "default-batch"})

_INVALID_LOGIN = "invalid username or password"
_INVALID_APPROLE_LOGIN = "invalid role or secret ID"


def _q(text: str) -> str:
    """Go's ``%q`` (near enough: JSON string quoting), as Vault formats names into messages."""
    return json.dumps(text, ensure_ascii=False)


def _q_list(items: Iterable[str]) -> str:
    """Go's ``%q`` of a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join(_q(item) for item in items) + "]"


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _unsupported() -> NoReturn:
    raise errors.VaultNotFound("unsupported path")


# --- shared value checks ------------------------------------------------------------------


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int")
    return value


def _strings(values: Iterable[str], what: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{what} must be a list of strings, not a string")
    out = []
    for value in values:
        if not isinstance(value, str):
            raise TypeError(f"{what} must be a list of strings")
        value = value.strip()
        if value:
            out.append(value)
    return out


def _policies(values: Iterable[str]) -> list[str]:
    """Vault's ``policyutil.ParsePolicies``: trimmed, lower-cased, no empties, de-duplicated and sorted;
    ``root`` alone if present."""
    cleaned: set[str] = set()
    for policy in _strings(values, "policies"):
        policy = policy.lower()
        if policy == "root":
            return ["root"]
        cleaned.add(policy)
    return sorted(cleaned)


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _network(text: str) -> _Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _cidr_list(values: Iterable[str], what: str) -> list[str]:
    """Trimmed CIDR blocks (or bare addresses); ``[]`` for none. Raises ValueError naming the first bad one."""
    blocks = _strings(values, what)
    for block in blocks:
        if _network(block) is None:
            raise ValueError(block)
    return blocks


def _ip_in(address: str, blocks: Iterable[str]) -> bool:
    """Whether ``address`` lies in one of ``blocks`` (an unparseable address lies in none)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    for block in blocks:
        net = _network(block)
        if net is not None and any(c.version == net.version and c in net for c in candidates):
            return True
    return False


def _is_subset(inner: Iterable[str], outer: list[str]) -> bool:
    """Every block of ``inner`` lies within some block of ``outer`` (Vault's ``cidrutil.SubsetBlocks``)."""
    outer_nets = [net for net in (_network(block) for block in outer) if net is not None]
    for block in inner:
        net = _network(block)
        if net is None:
            return False
        if not any(net.version == o.version and net.subnet_of(o) for o in outer_nets):  # type: ignore[arg-type]
            return False
    return True


def _check_cidr_subset(secret_cidrs: list[str], role_cidrs: list[str]) -> None:
    if secret_cidrs and role_cidrs and not _is_subset(secret_cidrs, role_cidrs):
        raise errors.VaultInvalidRequest(
            "failed to verify subset relationship between CIDR blocks on the role "
            f"{_q_list(role_cidrs)} and CIDR blocks on the secret ID {_q_list(secret_cidrs)}"
        )


def _new_uuid() -> str:
    return str(uuid.UUID(bytes=aead.random_bytes(16), version=4))


# --- token settings and logins ------------------------------------------------------------


@dataclass(frozen=True)
class TokenSettings:
    """Vault's common ``tokenutil`` parameters of the tokens a user or role gets (durations in seconds).

    Validated at construction with Vault's messages (:class:`~strongroom.core.errors.VaultInvalidRequest`):
    nothing negative, ``ttl`` not above a non-zero ``max_ttl``, ``bound_cidrs`` parseable. ``type`` is
    ``"default"`` or ``"service"`` (``""`` and ``"default-service"`` normalise to those); batch tokens are refused.
    Policies are normalised as Vault's ``ParsePolicies`` does (lower-cased, de-duplicated, sorted).
    """

    policies: list[str] = field(default_factory=list)
    ttl: int = 0
    max_ttl: int = 0
    explicit_max_ttl: int = 0
    period: int = 0
    num_uses: int = 0
    no_default_policy: bool = False
    bound_cidrs: list[str] = field(default_factory=list)
    type: str = "default"

    def __post_init__(self) -> None:
        for name in ("ttl", "max_ttl", "explicit_max_ttl", "period", "num_uses"):
            _check_int(getattr(self, name), name)
        if not isinstance(self.no_default_policy, bool):
            raise TypeError("no_default_policy must be a bool")
        if not isinstance(self.type, str):
            raise TypeError("type must be a string")
        try:
            bound = _cidr_list(self.bound_cidrs, "bound_cidrs")
        except ValueError as exc:
            raise errors.VaultInvalidRequest(
                f"error parsing address {_q(str(exc))}: not an IP address or CIDR"
            ) from None
        object.__setattr__(self, "bound_cidrs", bound)
        object.__setattr__(self, "policies", _policies(self.policies))
        if self.max_ttl < 0:
            raise errors.VaultInvalidRequest("'token_max_ttl' cannot be negative")
        if self.period < 0:
            raise errors.VaultInvalidRequest("'token_period' cannot be negative")
        if self.type in _BATCH_TYPES:
            raise errors.VaultInvalidRequest("batch tokens are not supported")
        if self.type not in _TOKEN_TYPES:
            raise errors.VaultInvalidRequest(f"invalid 'token_type' value {_q(self.type)}")
        object.__setattr__(self, "type", _TOKEN_TYPES[self.type])
        if self.num_uses < 0:
            raise errors.VaultInvalidRequest("'token_num_uses' cannot be negative")
        if self.ttl < 0:
            raise errors.VaultInvalidRequest("'token_ttl' cannot be negative")
        if self.ttl > 0 and self.max_ttl > 0 and self.ttl > self.max_ttl:
            raise errors.VaultInvalidRequest("'token_ttl' cannot be greater than 'token_max_ttl'")
        if self.explicit_max_ttl < 0:
            raise errors.VaultInvalidRequest("'token_explicit_max_ttl' cannot be negative")

    def to_dict(self, *, legacy: Collection[str] = LEGACY_FIELDS) -> dict[str, Any]:
        """The fields Vault's read of a user or role shows (``PopulateTokenData``), sorted by name.

        ``legacy`` names the pre-``token_*`` fields to add (``policies``, ``period``, ``ttl``, ``max_ttl``,
        ``bound_cidrs``); each appears only when its ``token_*`` counterpart is set, as Vault shows them for entries
        written with the legacy names.
        """
        data: dict[str, Any] = {
            "token_bound_cidrs": list(self.bound_cidrs),
            "token_explicit_max_ttl": self.explicit_max_ttl,
            "token_max_ttl": self.max_ttl,
            "token_no_default_policy": self.no_default_policy,
            "token_num_uses": self.num_uses,
            "token_period": self.period,
            "token_policies": list(self.policies),
            "token_ttl": self.ttl,
            "token_type": self.type,
        }
        for name in legacy:
            if name not in LEGACY_FIELDS:
                raise ValueError(f"unknown legacy field {name!r}")
            value = data[f"token_{name}"]
            if value:
                data[name] = list(value) if isinstance(value, list) else value
        return dict(sorted(data.items()))

    def _to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def _from_json(cls, raw: object) -> TokenSettings:
        if not isinstance(raw, dict):
            raise ValueError("corrupt token settings")
        return cls(**raw)


@dataclass(frozen=True)
class Login:
    """A successful login: what the HTTP layer mints a token from."""

    settings: TokenSettings
    metadata: dict[str, str]
    display_name: str


def _load_json(storage: VaultStorage, path: str) -> dict[str, Any] | None:
    raw = storage.get(path)
    if raw is None:
        return None
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"corrupt entry at {path}")
    return value


def _put_json(storage: VaultStorage, path: str, value: Mapping[str, Any]) -> None:
    storage.put(path, json.dumps(value, sort_keys=True, separators=(",", ":")).encode())


def _leaves(storage: VaultStorage, prefix: str) -> list[str]:
    return [child for child in storage.list(prefix) if not child.endswith("/")]


# --- userpass -----------------------------------------------------------------------------


class UserpassEngine:
    """Vault's ``userpass`` auth method over one mount's storage (see the module docstring)."""

    def __init__(self, storage: VaultStorage) -> None:
        self._storage = storage
        self._lock = threading.RLock()

    def __reduce__(self) -> NoReturn:
        raise TypeError("UserpassEngine cannot be pickled")

    @staticmethod
    def _username(name: str) -> str:
        if not isinstance(name, str):
            raise TypeError("username must be a string")
        if not name:
            raise errors.VaultInvalidRequest("missing username")
        if not _NAME.fullmatch(name):
            _unsupported()
        return name.lower()

    @staticmethod
    def _path(username: str) -> str:
        return f"user/{username}"

    def _entry(self, username: str) -> dict[str, Any] | None:
        return _load_json(self._storage, self._path(username))

    def _save(self, username: str, password_hash: str, settings: TokenSettings) -> None:
        _put_json(self._storage, self._path(username), {"password_hash": password_hash, "token": settings._to_json()})

    def write_user(self, name: str, *, password: str | None = None, settings: TokenSettings | None = None) -> None:
        """Create or update a user. Creating needs a password; an update changes what is given (``None`` keeps)."""
        username = self._username(name)
        if password is not None and not isinstance(password, str):
            raise TypeError("password must be a string")
        if password == "":
            raise errors.VaultInvalidRequest("missing password")
        new_hash = hash_password(password) if password is not None else None
        with self._lock:
            entry = self._entry(username)
            if entry is None:
                if new_hash is None:
                    raise errors.VaultInvalidRequest("missing password")
                self._save(username, new_hash, settings if settings is not None else TokenSettings())
                return
            if settings is None:
                settings = TokenSettings._from_json(entry.get("token"))
            self._save(username, new_hash or str(entry.get("password_hash", "")), settings)

    def read_user(self, name: str) -> dict[str, Any] | None:
        """Vault's read of a user (token settings only: never the password or its hash); ``None`` if missing."""
        entry = self._entry(self._username(name))
        if entry is None:
            return None
        return TokenSettings._from_json(entry.get("token")).to_dict(legacy=USERPASS_LEGACY_FIELDS)

    def user_settings(self, name: str) -> TokenSettings | None:
        """The user's token settings (for a partial update: ``dataclasses.replace`` them); ``None`` if missing."""
        entry = self._entry(self._username(name))
        return None if entry is None else TokenSettings._from_json(entry.get("token"))

    def list_users(self) -> list[str]:
        """The usernames, sorted."""
        return _leaves(self._storage, "user/")

    def delete_user(self, name: str) -> None:
        """Remove a user; a missing user is not an error. Tokens already issued are not revoked (as Vault)."""
        username = self._username(name)
        with self._lock:
            self._storage.delete(self._path(username))

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password (``users/<name>/password``)."""
        username = self._username(name)
        if not isinstance(password, str):
            raise TypeError("password must be a string")
        if password == "":
            raise errors.VaultInvalidRequest("missing password")
        if self._entry(username) is None:
            raise errors.VaultNotFound("username does not exist")
        new_hash = hash_password(password)
        with self._lock:
            entry = self._entry(username)
            if entry is None:
                raise errors.VaultNotFound("username does not exist")
            self._save(username, new_hash, TokenSettings._from_json(entry.get("token")))

    def set_policies(self, name: str, policies: Iterable[str]) -> None:
        """Replace a user's token policies (``users/<name>/policies``)."""
        username = self._username(name)
        with self._lock:
            entry = self._entry(username)
            if entry is None:
                raise errors.VaultNotFound("username does not exist")
            current = TokenSettings._from_json(entry.get("token"))
            updated = dataclasses.replace(current, policies=list(policies))
            self._save(username, str(entry.get("password_hash", "")), updated)

    def login(self, name: str, password: str, source_ip: str | None = None) -> Login:
        """Check a username and password.

        Unknown user and wrong password fail alike: :class:`~strongroom.core.errors.VaultInvalidRequest`
        ``"invalid username or password"``, after the same scrypt work. A user with ``bound_cidrs`` may only log in
        from those addresses: without ``source_ip`` (fail closed) or from outside them, ``AccessDenied``
        (Vault's 403 "permission denied").
        """
        if not isinstance(password, str):
            raise TypeError("password must be a string")
        if password == "":
            raise errors.VaultInvalidRequest("missing password")
        username = name.lower() if isinstance(name, str) and _NAME.fullmatch(name) else None
        entry = self._entry(username) if username is not None else None
        if entry is None or username is None:
            burn_verify(password)
            raise errors.VaultInvalidRequest(_INVALID_LOGIN)
        if not verify_password(password, str(entry.get("password_hash", ""))):
            raise errors.VaultInvalidRequest(_INVALID_LOGIN)
        settings = TokenSettings._from_json(entry.get("token"))
        if settings.bound_cidrs and (source_ip is None or not _ip_in(source_ip, settings.bound_cidrs)):
            raise errors.AccessDenied("permission denied")
        return Login(settings=settings, metadata={"username": username}, display_name=username)


# --- approle ------------------------------------------------------------------------------


@dataclass
class _Role:
    role_id: str
    bind_secret_id: bool = True
    secret_id_num_uses: int = 0
    secret_id_ttl: int = 0
    secret_id_bound_cidrs: list[str] = field(default_factory=list)
    local_secret_ids: bool = False
    settings: TokenSettings = field(default_factory=TokenSettings)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["settings"] = self.settings._to_json()
        return data

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> _Role:
        data = dict(raw)
        data["settings"] = TokenSettings._from_json(data.get("settings"))
        return cls(**data)


class AppRoleEngine:
    """Vault's ``approle`` auth method over one mount's storage (see the module docstring).

    ``clock`` is the time seam (secret ID creation and expiry); ``max_lease_ttl`` caps secret ID TTLs and role
    periods as the mount's maximum lease TTL does in Vault.
    """

    def __init__(
        self, storage: VaultStorage, *, clock: Clock = utcnow, max_lease_ttl: int = DEFAULT_MAX_LEASE_TTL
    ) -> None:
        if _check_int(max_lease_ttl, "max_lease_ttl") <= 0:
            raise ValueError("max_lease_ttl must be positive")
        self._storage = storage
        self._clock = clock
        self._max_lease_ttl = max_lease_ttl
        self._lock = threading.RLock()
        self._key: bytes | None = None

    def __reduce__(self) -> NoReturn:
        raise TypeError("AppRoleEngine cannot be pickled")

    # --- keys, names and paths ---------------------------------------------------------

    def _digest_key(self) -> bytes:
        if self._key is None:
            raw = self._storage.get("hmac_key")
            if raw is None:
                fresh = base64.b64encode(aead.random_bytes(DIGEST_KEY_LEN)).decode()
                _put_json(self._storage, "hmac_key", {"key": fresh})
                raw = self._storage.get("hmac_key")  # another engine over the same storage may have written first
                if raw is None:
                    raise errors.StorageError("the approle HMAC key could not be stored")
            key = base64.b64decode(json.loads(raw)["key"])
            if len(key) != DIGEST_KEY_LEN:
                raise errors.InvalidKeyMaterial("the approle HMAC key is corrupt")
            self._key = key
        return self._key

    def _digest(self, purpose: str, value: str) -> str:
        return secret_digest(self._digest_key(), f"{purpose}\x00{value}")

    @staticmethod
    def _role_name(name: str) -> str:
        if not isinstance(name, str):
            raise TypeError("role name must be a string")
        if not name:
            raise errors.VaultInvalidRequest("missing role_name")
        if len(_utf8(name)) > MAX_HMAC_INPUT_LENGTH:
            raise errors.VaultInvalidRequest(f"role_name is longer than maximum of {MAX_HMAC_INPUT_LENGTH} bytes")
        if not _NAME.fullmatch(name):
            _unsupported()
        return name.lower()

    def _role_id_path(self, role_id: str) -> str:
        return f"role_id/{self._digest('role_id', role_id)}"

    def _secret_dir(self, role: str) -> str:
        return f"secret_id/{self._digest('role', role)}/"

    def _secret_path(self, role: str, secret_hmac: str) -> str:
        return self._secret_dir(role) + secret_hmac

    def _accessor_path(self, accessor: str) -> str:
        return f"accessor/{self._digest('accessor', accessor)}"

    def _role(self, role: str) -> _Role | None:
        raw = _load_json(self._storage, f"role/{role}")
        return None if raw is None else _Role.from_json(raw)

    def _existing_role(self, role: str, *, status: int = 404) -> _Role:
        found = self._role(role)
        if found is None:
            if status == 400:
                raise errors.VaultInvalidRequest(f"role {_q(role)} does not exist")
            raise errors.VaultNotFound(f"role {_q(role)} does not exist")
        return found

    def _save_role(self, name: str, role: _Role, previous_role_id: str) -> None:
        if not (role.bind_secret_id or role.secret_id_bound_cidrs or role.settings.bound_cidrs):
            raise errors.VaultInvalidRequest("at least one constraint should be enabled on the role")
        index_path = self._role_id_path(role.role_id)
        index = _load_json(self._storage, index_path)
        if index is not None and index.get("name") != name:
            raise errors.VaultInvalidRequest("role_id already in use")
        if previous_role_id and previous_role_id != role.role_id:
            self._storage.delete(self._role_id_path(previous_role_id))
        _put_json(self._storage, f"role/{name}", role.to_json())
        _put_json(self._storage, index_path, {"name": name})

    def _expired(self, entry: Mapping[str, Any]) -> bool:
        expiration = parse_time(entry.get("expiration_time"))
        return expiration is not None and self._clock() >= expiration

    def _remove_secret(self, path: str, entry: Mapping[str, Any] | None) -> None:
        if entry is not None and entry.get("secret_id_accessor"):
            self._storage.delete(self._accessor_path(str(entry["secret_id_accessor"])))
        self._storage.delete(path)

    @staticmethod
    def _secret_data(entry: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "cidr_list": list(entry.get("cidr_list") or []),
            "creation_time": entry["creation_time"],
            "expiration_time": entry.get("expiration_time") or _ZERO_TIME,
            "last_updated_time": entry["last_updated_time"],
            "metadata": dict(entry.get("metadata") or {}),
            "secret_id_accessor": entry["secret_id_accessor"],
            "secret_id_num_uses": int(entry.get("secret_id_num_uses", 0)),
            "secret_id_ttl": int(entry.get("secret_id_ttl", 0)),
            "token_bound_cidrs": list(entry.get("token_bound_cidrs") or []),
        }

    # --- roles -------------------------------------------------------------------------

    def write_role(
        self,
        name: str,
        *,
        bind_secret_id: bool | None = None,
        secret_id_num_uses: int | None = None,
        secret_id_ttl: int | None = None,
        secret_id_bound_cidrs: list[str] | None = None,
        local_secret_ids: bool | None = None,
        role_id: str | None = None,
        settings: TokenSettings | None = None,
    ) -> None:
        """Create or update a role; ``None`` keeps a field (or its default on creation: ``bind_secret_id`` true,
        no use limit, no TTL, no CIDR bounds, a random UUID ``role_id``)."""
        role_name = self._role_name(name)
        with self._lock:
            existing = self._role(role_name)
            creating = existing is None
            role = existing if existing is not None else _Role(role_id="")
            if settings is not None:
                role.settings = settings
            if local_secret_ids is not None:
                if not creating:
                    raise errors.VaultInvalidRequest("local_secret_ids can only be modified during role creation")
                role.local_secret_ids = bool(local_secret_ids)
            previous_role_id = role.role_id
            if role_id is not None:
                if not isinstance(role_id, str):
                    raise TypeError("role_id must be a string")
                role.role_id = role_id
            elif creating:
                role.role_id = _new_uuid()
            if not role.role_id:
                raise errors.VaultInvalidRequest("invalid role_id supplied, or failed to generate a role_id")
            if bind_secret_id is not None:
                role.bind_secret_id = bool(bind_secret_id)
            if secret_id_bound_cidrs is not None:
                try:
                    role.secret_id_bound_cidrs = _cidr_list(secret_id_bound_cidrs, "secret_id_bound_cidrs")
                except ValueError:
                    raise errors.VaultInvalidRequest("invalid CIDR blocks") from None
            if secret_id_num_uses is not None:
                role.secret_id_num_uses = _check_int(secret_id_num_uses, "secret_id_num_uses")
                if role.secret_id_num_uses < 0:
                    raise errors.VaultInvalidRequest("secret_id_num_uses cannot be negative")
            if secret_id_ttl is not None:
                role.secret_id_ttl = _check_int(secret_id_ttl, "secret_id_ttl")
                if role.secret_id_ttl < 0:
                    raise errors.VaultInvalidRequest("secret_id_ttl cannot be negative")
            if role.settings.period > self._max_lease_ttl:
                raise errors.VaultInvalidRequest(
                    f"period of {_q(format_duration(role.settings.period))} is greater than the backend's maximum "
                    f"lease TTL of {_q(format_duration(self._max_lease_ttl))}"
                )
            self._save_role(role_name, role, previous_role_id)

    def read_role(self, name: str) -> dict[str, Any] | None:
        """Vault's read of a role (without its role_id, as Vault); ``None`` if missing."""
        role_name = self._role_name(name)
        with self._lock:
            role = self._role(role_name)
        if role is None:
            return None
        data = {
            "bind_secret_id": role.bind_secret_id,
            "local_secret_ids": role.local_secret_ids,
            "secret_id_bound_cidrs": list(role.secret_id_bound_cidrs),
            "secret_id_num_uses": role.secret_id_num_uses,
            "secret_id_ttl": role.secret_id_ttl,
            **role.settings.to_dict(legacy=APPROLE_LEGACY_FIELDS),
        }
        return dict(sorted(data.items()))

    def role_settings(self, name: str) -> TokenSettings | None:
        """The role's token settings (for a partial update: ``dataclasses.replace`` them); ``None`` if missing."""
        role_name = self._role_name(name)
        with self._lock:
            role = self._role(role_name)
        return None if role is None else role.settings

    def list_roles(self) -> list[str]:
        """The role names, sorted."""
        return _leaves(self._storage, "role/")

    def delete_role(self, name: str) -> None:
        """Remove a role with every secret ID issued against it and its role_id index; missing is not an error."""
        role_name = self._role_name(name)
        with self._lock:
            role = self._role(role_name)
            if role is None:
                return
            secret_dir = self._secret_dir(role_name)
            for leaf in _leaves(self._storage, secret_dir):
                self._remove_secret(secret_dir + leaf, _load_json(self._storage, secret_dir + leaf))
            self._storage.delete(self._role_id_path(role.role_id))
            self._storage.delete(f"role/{role_name}")

    def role_id(self, name: str) -> str:
        """The role's role_id (``role/<name>/role-id``)."""
        role_name = self._role_name(name)
        with self._lock:
            return self._existing_role(role_name).role_id

    def set_role_id(self, name: str, role_id: str) -> None:
        """Replace the role's role_id; it must not be another role's."""
        role_name = self._role_name(name)
        if not isinstance(role_id, str):
            raise TypeError("role_id must be a string")
        with self._lock:
            role = self._existing_role(role_name)
            if not role_id:
                raise errors.VaultInvalidRequest("missing role_id")
            previous = role.role_id
            role.role_id = role_id
            self._save_role(role_name, role, previous)

    # --- secret IDs --------------------------------------------------------------------

    def generate_secret_id(
        self,
        name: str,
        *,
        metadata: Mapping[str, str] | None = None,
        num_uses: int | None = None,
        ttl: int | None = None,
        cidr_list: list[str] | None = None,
        token_bound_cidrs: list[str] | None = None,
        custom: str | None = None,
    ) -> dict[str, Any]:
        """Issue a secret ID against the role (``custom`` assigns a chosen one, as ``custom-secret-id``).

        ``num_uses``/``ttl`` of ``None`` take the role's ``secret_id_num_uses``/``secret_id_ttl``; given, they may
        not exceed the role's limits when it sets them. ``cidr_list`` and ``token_bound_cidrs`` must lie within the
        role's ``secret_id_bound_cidrs`` and ``token_bound_cidrs``. Returns Vault's response data.
        """
        role_name = self._role_name(name)
        if custom is not None and not isinstance(custom, str):
            raise TypeError("custom secret_id must be a string")
        if custom == "":
            raise errors.VaultInvalidRequest("missing secret_id")
        secret_id = custom if custom is not None else _new_uuid()
        if len(_utf8(secret_id)) > MAX_HMAC_INPUT_LENGTH:
            raise errors.VaultInvalidRequest(
                "failed to store secret_id: failed to create HMAC of secret ID: "
                f"value is longer than maximum of {MAX_HMAC_INPUT_LENGTH} bytes"
            )
        meta: dict[str, str] = {}
        for key, value in (metadata or {}).items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError("metadata must map strings to strings")
            meta[key] = value
        with self._lock:
            role = self._existing_role(role_name)
            if not role.bind_secret_id:
                raise errors.VaultInvalidRequest("bind_secret_id is not set on the role")
            try:
                cidrs = _cidr_list(cidr_list or [], "cidr_list")
            except ValueError:
                raise errors.VaultInvalidRequest("failed to validate CIDR blocks") from None
            _check_cidr_subset(cidrs, role.secret_id_bound_cidrs)
            try:
                token_cidrs = _cidr_list(token_bound_cidrs or [], "token_bound_cidrs")
            except ValueError:
                raise errors.VaultInvalidRequest("failed to validate token CIDR blocks") from None
            _check_cidr_subset(token_cidrs, role.settings.bound_cidrs)

            if num_uses is None:
                uses = role.secret_id_num_uses
            else:
                uses = _check_int(num_uses, "num_uses")
                if uses < 0:
                    raise errors.VaultInvalidRequest("num_uses cannot be negative")
                limit = role.secret_id_num_uses
                if limit > 0 and (uses == 0 or uses > limit):
                    raise errors.VaultInvalidRequest("num_uses cannot be higher than the role's secret_id_num_uses")
            if ttl is None:
                lifetime = role.secret_id_ttl
            else:
                lifetime = _check_int(ttl, "ttl")
                if lifetime < 0:
                    raise errors.VaultInvalidRequest("ttl cannot be negative")
                limit = role.secret_id_ttl
                if limit > 0 and (lifetime == 0 or lifetime > limit):
                    raise errors.VaultInvalidRequest("ttl cannot be longer than the role's secret_id_ttl")
            lifetime = min(lifetime, self._max_lease_ttl)

            secret_hmac = self._digest("secret_id", secret_id)
            path = self._secret_path(role_name, secret_hmac)
            if self._storage.get(path) is not None:
                raise errors.VaultInvalidRequest("failed to store secret_id: SecretID is already registered")
            accessor = _new_uuid()
            now = self._clock()
            entry = {
                "cidr_list": cidrs,
                "creation_time": rfc3339(now),
                "expiration_time": rfc3339(now + dt.timedelta(seconds=lifetime)) if lifetime else "",
                "last_updated_time": rfc3339(now),
                "metadata": meta,
                "secret_id_accessor": accessor,
                "secret_id_num_uses": uses,
                "secret_id_ttl": lifetime,
                "token_bound_cidrs": token_cidrs,
            }
            _put_json(self._storage, self._accessor_path(accessor), {"secret_id_hmac": secret_hmac})
            _put_json(self._storage, path, entry)
        return {
            "secret_id": secret_id,
            "secret_id_accessor": accessor,
            "secret_id_num_uses": uses,
            "secret_id_ttl": lifetime,
        }

    def list_secret_id_accessors(self, name: str) -> list[str]:
        """The accessors of the secret IDs issued against the role, sorted."""
        role_name = self._role_name(name)
        with self._lock:
            self._existing_role(role_name, status=400)
            secret_dir = self._secret_dir(role_name)
            accessors = []
            for leaf in _leaves(self._storage, secret_dir):
                entry = _load_json(self._storage, secret_dir + leaf)
                if entry is not None:
                    accessors.append(str(entry["secret_id_accessor"]))
        return sorted(accessors)

    def _checked_entry(self, role_name: str, secret_hmac: str) -> dict[str, Any] | None:
        """The secret ID entry, if it exists and its accessor index still points at it; a dangling entry is
        removed and refused (as Vault revokes a secret ID without an accessor)."""
        path = self._secret_path(role_name, secret_hmac)
        entry = _load_json(self._storage, path)
        if entry is None:
            return None
        index = _load_json(self._storage, self._accessor_path(str(entry.get("secret_id_accessor", ""))))
        if index is None or not hmac.compare_digest(str(index.get("secret_id_hmac", "")), secret_hmac):
            self._storage.delete(path)
            raise errors.VaultInvalidRequest("invalid secret id")
        return entry

    def lookup_secret_id(self, name: str, secret_id: str) -> dict[str, Any] | None:
        """A secret ID's properties (``secret-id/lookup``); ``None`` if it is not one of this role's."""
        role_name = self._role_name(name)
        if not secret_id:
            raise errors.VaultInvalidRequest("missing secret_id")
        with self._lock:
            self._existing_role(role_name)
            entry = self._checked_entry(role_name, self._digest("secret_id", secret_id))
        return None if entry is None else self._secret_data(entry)

    def _accessor_entry(self, role_name: str, accessor: str) -> tuple[str, dict[str, Any] | None]:
        if not accessor:
            raise errors.VaultInvalidRequest("missing secret_id_accessor")
        self._existing_role(role_name)
        index = _load_json(self._storage, self._accessor_path(accessor))
        if index is None:
            raise errors.VaultNotFound(f"failed to find accessor entry for secret_id_accessor: {_q(accessor)}")
        path = self._secret_path(role_name, str(index.get("secret_id_hmac", "")))
        return path, _load_json(self._storage, path)

    def lookup_secret_id_accessor(self, name: str, accessor: str) -> dict[str, Any] | None:
        """A secret ID's properties by its accessor; ``None`` if the accessor is not one of this role's."""
        role_name = self._role_name(name)
        with self._lock:
            _path, entry = self._accessor_entry(role_name, accessor)
        return None if entry is None else self._secret_data(entry)

    def destroy_secret_id(self, name: str, secret_id: str) -> None:
        """Invalidate a secret ID; one that does not exist (for this role) is not an error."""
        role_name = self._role_name(name)
        if not secret_id:
            raise errors.VaultInvalidRequest("missing secret_id")
        with self._lock:
            self._existing_role(role_name)
            path = self._secret_path(role_name, self._digest("secret_id", secret_id))
            entry = _load_json(self._storage, path)
            if entry is not None:
                self._remove_secret(path, entry)

    def destroy_secret_id_accessor(self, name: str, accessor: str) -> None:
        """Invalidate a secret ID by its accessor."""
        role_name = self._role_name(name)
        with self._lock:
            path, entry = self._accessor_entry(role_name, accessor)
            if entry is None:
                raise errors.VaultError("invalid secret id accessor", status=403)
            self._remove_secret(path, entry)

    def tidy(self) -> int:
        """Remove expired secret IDs, those of deleted roles or without an accessor, and dangling accessors.
        Returns how many secret IDs were removed."""
        removed = 0
        with self._lock:
            live_dirs = {self._secret_dir(role) for role in self.list_roles()}
            live_hmacs: set[str] = set()
            for folder in self._storage.list("secret_id/"):
                secret_dir = f"secret_id/{folder}"
                for leaf in _leaves(self._storage, secret_dir):
                    path = secret_dir + leaf
                    entry = _load_json(self._storage, path)
                    index = None
                    if entry is not None:
                        index = _load_json(self._storage, self._accessor_path(str(entry.get("secret_id_accessor"))))
                    dangling = index is None or not hmac.compare_digest(str(index.get("secret_id_hmac", "")), leaf)
                    if secret_dir not in live_dirs or entry is None or dangling or self._expired(entry):
                        self._remove_secret(path, None if dangling else entry)
                        removed += 1
                    else:
                        live_hmacs.add(leaf)
            for leaf in _leaves(self._storage, "accessor/"):
                index = _load_json(self._storage, f"accessor/{leaf}")
                if index is None or str(index.get("secret_id_hmac")) not in live_hmacs:
                    self._storage.delete(f"accessor/{leaf}")
        return removed

    # --- login -------------------------------------------------------------------------

    def login(self, role_id: str, secret_id: str | None = None, source_ip: str | None = None) -> Login:
        """Log in with a role_id and (when the role binds one) a secret ID, from ``source_ip``.

        The secret ID must be this role's, unexpired, with uses left, and ``source_ip`` inside the secret ID's
        ``cidr_list`` and the role's ``secret_id_bound_cidrs``; a use is consumed only by a login that passes every
        check (the last use deletes the secret ID). Unknown role_id, unknown, expired or used-up secret ID:
        :class:`~strongroom.core.errors.VaultInvalidRequest` ``"invalid role or secret ID"``. CIDR bounds without a
        ``source_ip`` fail closed (``VaultError`` 500 "failed to get connection information", as Vault).
        """
        role_id = role_id.strip() if isinstance(role_id, str) else ""
        if not role_id:
            raise errors.VaultInvalidRequest("missing role_id")
        with self._lock:
            index = _load_json(self._storage, self._role_id_path(role_id))
            role_name = str(index.get("name", "")) if index is not None else ""
            role = self._role(role_name) if role_name else None
            if role is None or not hmac.compare_digest(_utf8(role.role_id), _utf8(role_id)):
                raise errors.VaultInvalidRequest(_INVALID_APPROLE_LOGIN)

            metadata: dict[str, str] = {}
            token_cidrs = role.settings.bound_cidrs
            if role.bind_secret_id:
                secret = secret_id.strip() if isinstance(secret_id, str) else ""
                if not secret:
                    raise errors.VaultInvalidRequest("missing secret_id")
                secret_hmac = self._digest("secret_id", secret)
                path = self._secret_path(role_name, secret_hmac)
                try:
                    entry = self._checked_entry(role_name, secret_hmac)
                except errors.VaultInvalidRequest:
                    entry = None
                if entry is None:
                    raise errors.VaultInvalidRequest(_INVALID_APPROLE_LOGIN)
                if self._expired(entry):
                    self._remove_secret(path, entry)
                    raise errors.VaultInvalidRequest(_INVALID_APPROLE_LOGIN)
                cidrs = list(entry.get("cidr_list") or [])
                _check_cidr_subset(cidrs, role.secret_id_bound_cidrs)
                if cidrs:
                    address = self._source(source_ip)
                    if not _ip_in(address, cidrs):
                        raise errors.VaultInvalidRequest(
                            f"source address {_q(address)} unauthorized through CIDR restrictions on the secret ID"
                        )
                self._check_role_cidrs(role, source_ip)
                uses = int(entry.get("secret_id_num_uses", 0))
                if uses == 1:
                    self._remove_secret(path, entry)
                elif uses > 1:
                    entry["secret_id_num_uses"] = uses - 1
                    entry["last_updated_time"] = rfc3339(self._clock())
                    _put_json(self._storage, path, entry)
                metadata = dict(entry.get("metadata") or {})
                if entry.get("token_bound_cidrs"):
                    token_cidrs = list(entry["token_bound_cidrs"])
            else:
                self._check_role_cidrs(role, source_ip)

        metadata["role_name"] = role_name
        settings = dataclasses.replace(role.settings, bound_cidrs=list(token_cidrs))
        return Login(settings=settings, metadata=metadata, display_name="approle")

    @staticmethod
    def _source(source_ip: str | None) -> str:
        if not source_ip:
            raise errors.VaultError("failed to get connection information", status=500)
        return source_ip

    def _check_role_cidrs(self, role: _Role, source_ip: str | None) -> None:
        if role.secret_id_bound_cidrs:
            address = self._source(source_ip)
            if not _ip_in(address, role.secret_id_bound_cidrs):
                raise errors.VaultInvalidRequest(
                    f"source address {_q(address)} unauthorized by CIDR restrictions on the role"
                )
