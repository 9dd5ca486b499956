"""The transit secrets engine, as HashiCorp Vault's ``transit`` behaves (hvac is the judge), plus
strongroom's key lifecycle.

Keys are named keyrings of versions. The latest version encrypts and signs; older versions at or
above ``min_decryption_version`` still decrypt and verify; ``trim`` erases versions below
``min_available_version`` for good. Ciphertexts, HMACs and signatures are ``vault:v<N>:<base64>``;
for the AEAD types the payload is ``nonce(12) || ciphertext || tag`` exactly as Vault lays it out, so
data moves between Vault and strongroom unchanged. Every primitive lives in
:mod:`strongroom.crypto.transitprims`.

Method return values are the ``data`` objects of Vault's responses; ``None`` means Vault answers 204.
Errors are :class:`~strongroom.core.errors.VaultError` subclasses carrying Vault's message text and
the HTTP status Vault answers with (``exc.status``). In batch requests (``batch_input``) a failing item
gets an ``error`` field instead; for encrypt and decrypt Vault then answers 400 with the whole body
(see :func:`batch_response_status`).

Lifecycle (strongroom extension; AWS KMS semantics)::

    enabled <-> disabled
    enabled | disabled --schedule_deletion(7..30 days)--> pending_deletion --cancel_deletion--> disabled
    pending_deletion --destroy (after the date)--> destroyed     (force=True skips the wait, unless purge-protected)

Only ``enabled`` keys encrypt, decrypt, rewrap, make data keys, HMAC, sign, verify, export private material,
rotate or hand out KEK material; reading, configuring and trimming stay possible until the key is
destroyed. ``destroy`` overwrites the key's storage entry with a tombstone (name, versions, time): every
version's material is gone from storage, the name cannot be reused, and a deletion certificate signed by
the vault's own Ed25519 key (``transit/sys/cert-signing-key``) is returned. Purge protection is
irreversible: it refuses ``delete_key``, ``deletion_allowed`` and ``force``.

Storage layout (through the barrier; plaintext JSON, key material base64 inside)::

    transit/keys/<name>              the key policy and every version's material (or a tombstone)
    transit/sys/cert-signing-key     the Ed25519 key that signs deletion certificates

The engine is safe to share between threads; writes are serialised by one lock.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac as _hmac
import json
import re
import string
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from strongroom.core.errors import (
    DecryptionFailed,
    KeyPurgeProtected,
    KeyStateConflict,
    TransitKeyDestroyed,
    TransitKeyDisabled,
    TransitKeyNotFound,
    TransitKeyPendingDeletion,
    VaultError,
    VaultInvalidRequest,
    VaultNotFound,
)
from strongroom.crypto import transitprims as prims
from strongroom.keys.kv import parse_duration, parse_time, rfc3339
from strongroom.keys.storage import VaultStorage

__all__ = [
    "KEY_TYPES",
    "ERR_TOO_OLD",
    "TransitEngine",
    "batch_response_status",
    "verify_deletion_certificate",
]

ERR_TOO_OLD = "ciphertext or signature version is disallowed by policy (too old)"
KEYS_PREFIX = "transit/keys/"
CERT_KEY_PATH = "transit/sys/cert-signing-key"
CERT_KIND = "strongroom.transit.deletion-certificate.v1"
MIN_PENDING_DAYS = 7
MAX_PENDING_DAYS = 30
HMAC_MIN_KEY_SIZE = 32
HMAC_MAX_KEY_SIZE = 512
RANDOM_MAX_BYTES = 128 * 1024

STATE_ENABLED = "enabled"
STATE_DISABLED = "disabled"
STATE_PENDING = "pending_deletion"
STATE_DESTROYED = "destroyed"

_NAME_RE = re.compile(r"\w(?:[\w\-.@]*\w)?", re.ASCII)
_B64_ALPHABET = frozenset(string.ascii_letters + string.digits + "+/")
_B64URL_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")
_INT_RE = re.compile(r"[-+]?\d+")


@dataclass(frozen=True)
class KeyTypeInfo:
    """What a Vault key type is and can do."""

    name: str
    family: str  # aead | rsa | ecdsa | ed25519 | hmac
    size: int = 0  # AEAD key bytes, RSA bits
    curve: str = ""

    @property
    def encryption(self) -> bool:
        return self.family in ("aead", "rsa")

    @property
    def signing(self) -> bool:
        return self.family in ("rsa", "ecdsa", "ed25519")

    @property
    def derivation(self) -> bool:
        return self.family in ("aead", "ed25519")

    @property
    def hashes_input(self) -> bool:
        return self.family in ("rsa", "ecdsa")


KEY_TYPES: dict[str, KeyTypeInfo] = {
    info.name: info
    for info in (
        KeyTypeInfo("aes128-gcm96", "aead", 16),
        KeyTypeInfo("aes256-gcm96", "aead", 32),
        KeyTypeInfo("chacha20-poly1305", "aead", 32),
        KeyTypeInfo("ed25519", "ed25519"),
        KeyTypeInfo("ecdsa-p256", "ecdsa", curve="P-256"),
        KeyTypeInfo("ecdsa-p384", "ecdsa", curve="P-384"),
        KeyTypeInfo("ecdsa-p521", "ecdsa", curve="P-521"),
        KeyTypeInfo("rsa-2048", "rsa", 2048),
        KeyTypeInfo("rsa-3072", "rsa", 3072),
        KeyTypeInfo("rsa-4096", "rsa", 4096),
        KeyTypeInfo("hmac", "hmac"),
    )
}


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _bad(message: str) -> VaultInvalidRequest:
    return VaultInvalidRequest(message)


# --- encodings, as Go decodes them -----------------------------------------------------


def _go_b64_error(src: str) -> int | None:
    """Where Go's ``base64.StdEncoding.DecodeString`` reports a CorruptInputError (None: valid)."""
    si, n = 0, len(src)
    while True:
        j = 0
        while j < 4:
            if si == n:
                return None if j == 0 else si - j
            ch = src[si]
            si += 1
            if ch in _B64_ALPHABET:
                j += 1
                continue
            if ch in "\r\n":
                continue
            if ch != "=" or j in (0, 1):
                return si - 1
            if j == 2:
                while si < n and src[si] in "\r\n":
                    si += 1
                if si == n:
                    return n
                if src[si] != "=":
                    return si - 1
                si += 1
            while si < n and src[si] in "\r\n":
                si += 1
            return si if si < n else None


def b64decode(text: object) -> bytes:
    """Go's ``base64.StdEncoding.DecodeString``; failures raise ValueError with Go's message."""
    if not isinstance(text, str):
        raise ValueError("expected a base64 string")
    position = _go_b64_error(text)
    if position is not None:
        raise ValueError(f"illegal base64 data at input byte {position}")
    return base64.b64decode(text.replace("\r", "").replace("\n", ""))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _b64url_raw(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64url_raw_decode(text: str) -> bytes:
    if any(ch not in _B64URL_ALPHABET for ch in text) or len(text) % 4 == 1:
        raise ValueError("illegal base64 data")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _opt_b64(value: object, *, what: str = "") -> bytes | None:
    if value is None or value == "":
        return None
    try:
        return b64decode(value)
    except ValueError as exc:
        raise _bad(what or str(exc)) from None


def _as_int(value: object, field: str, default: int = 0) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value.strip())
    raise _bad(f"error parsing {field}: expected an integer")


def _as_bool(value: object, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "t", "f"):
        return value.lower() in ("true", "1", "t")
    if isinstance(value, int):
        return bool(value)
    raise _bad(f"error parsing {field}: expected a boolean")


def _str_field(item: Mapping[str, Any], field: str, index: int) -> str:
    value = item.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(f"failed to parse batch input: '[{index}].{field}' expected type 'string'")
    return value


def _batch_items(batch_input: object) -> list[Mapping[str, Any]]:
    if not isinstance(batch_input, list | tuple):
        raise _bad("failed to parse batch input: source data must be an array or slice")
    if not batch_input:
        raise _bad("missing batch input to process")
    items: list[Mapping[str, Any]] = []
    for index, item in enumerate(batch_input):
        if not isinstance(item, Mapping):
            raise _bad(f"failed to parse batch input: [{index}] expected a map")
        items.append(item)
    return items


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _split_versioned(value: str, kind: str) -> tuple[int, str]:
    """Parse ``vault:v<N>:<payload>`` with Vault's messages (kind: ciphertext | signature)."""
    if not value.startswith("vault:v"):
        raise _bad(f"invalid {kind}: no prefix")
    parts = value[len("vault:v") :].split(":", 1)
    if len(parts) != 2:
        raise _bad(f"invalid {kind}: wrong number of fields")
    if not _INT_RE.fullmatch(parts[0]):
        raise _bad(f"invalid {kind}: version number could not be decoded")
    return int(parts[0]), parts[1]


# --- key material ------------------------------------------------------------------------


class KeyVersion:
    """One version of a key: its material, HMAC key and creation time. The repr never shows material."""

    __slots__ = ("created", "hmac_key", "material", "public_key")

    def __init__(self, material: bytes, hmac_key: bytes, created: dt.datetime, public_key: str = "") -> None:
        self.material = material
        self.hmac_key = hmac_key
        self.created = created
        self.public_key = public_key

    def to_json(self) -> dict[str, Any]:
        return {
            "key": _b64(self.material),
            "hmac_key": _b64(self.hmac_key),
            "time": rfc3339(self.created),
            "creation_time": int(self.created.timestamp()),
            "public_key": self.public_key,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> KeyVersion:
        created = parse_time(raw.get("time")) or dt.datetime.fromtimestamp(int(raw["creation_time"]), dt.UTC)
        return cls(base64.b64decode(raw["key"]), base64.b64decode(raw["hmac_key"]), created, raw.get("public_key", ""))

    def __repr__(self) -> str:
        return f"KeyVersion(created={rfc3339(self.created)}, material=<redacted>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("KeyVersion cannot be pickled or copied")


def _generate_version(info: KeyTypeInfo, created: dt.datetime, key_size: int) -> KeyVersion:
    hmac_key = prims.random_bytes(32)
    public = ""
    if info.family == "aead":
        material = prims.random_bytes(info.size)
    elif info.family == "hmac":
        material = prims.random_bytes(key_size or 32)
    elif info.family == "ed25519":
        material = prims.ed25519_generate()
        public = _b64(prims.ed25519_public(material))
    elif info.family == "ecdsa":
        material = prims.ecdsa_generate(info.curve)
        public = prims.ecdsa_public_pem(material)
    else:
        material = prims.rsa_generate(info.size)
        public = prims.rsa_public_pem(material)
    return KeyVersion(material, hmac_key, created, public)


@dataclass
class KeyPolicy:
    """A named transit key: Vault's policy fields, strongroom's lifecycle fields and the versions."""

    name: str
    type: str
    versions: dict[int, KeyVersion]
    latest_version: int = 0
    min_decryption_version: int = 1
    min_encryption_version: int = 0
    min_available_version: int = 0
    derived: bool = False
    exportable: bool = False
    allow_plaintext_backup: bool = False
    deletion_allowed: bool = False
    auto_rotate_period: int = 0
    key_size: int = 0
    state: str = STATE_ENABLED
    tenant: str = "root"
    region: str = "local"
    deletion_date: dt.datetime | None = None
    purge_protection: bool = False
    created: dt.datetime | None = None
    refused_justifications: tuple[str, ...] = ()  # key access justifications the owner refuses (keys/release.py)

    @property
    def info(self) -> KeyTypeInfo:
        return KEY_TYPES[self.type]

    def visible_versions(self) -> list[int]:
        floor = max(self.min_decryption_version, self.min_available_version, 1)
        return sorted(v for v in self.versions if v >= floor)

    def entry(self, version: int) -> KeyVersion:
        try:
            return self.versions[version]
        except KeyError:
            raise _bad("no such key version") from None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "keys": {str(v): entry.to_json() for v, entry in sorted(self.versions.items())},
            "latest_version": self.latest_version,
            "min_decryption_version": self.min_decryption_version,
            "min_encryption_version": self.min_encryption_version,
            "min_available_version": self.min_available_version,
            "derived": self.derived,
            "kdf": "hkdf_sha256" if self.derived else "",
            "exportable": self.exportable,
            "allow_plaintext_backup": self.allow_plaintext_backup,
            "deletion_allowed": self.deletion_allowed,
            "auto_rotate_period": self.auto_rotate_period,
            "key_size": self.key_size,
            "state": self.state,
            "tenant": self.tenant,
            "region": self.region,
            "deletion_date": rfc3339(self.deletion_date) or None,
            "purge_protection": self.purge_protection,
            "created_time": rfc3339(self.created) or None,
            "refused_justifications": list(self.refused_justifications),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> KeyPolicy:
        return cls(
            name=raw["name"],
            type=raw["type"],
            versions={int(v): KeyVersion.from_json(entry) for v, entry in raw["keys"].items()},
            latest_version=int(raw["latest_version"]),
            min_decryption_version=int(raw["min_decryption_version"]),
            min_encryption_version=int(raw["min_encryption_version"]),
            min_available_version=int(raw["min_available_version"]),
            derived=bool(raw["derived"]),
            exportable=bool(raw["exportable"]),
            allow_plaintext_backup=bool(raw["allow_plaintext_backup"]),
            deletion_allowed=bool(raw["deletion_allowed"]),
            auto_rotate_period=int(raw["auto_rotate_period"]),
            key_size=int(raw.get("key_size", 0)),
            state=raw["state"],
            tenant=raw["tenant"],
            region=raw["region"],
            deletion_date=parse_time(raw.get("deletion_date")),
            purge_protection=bool(raw["purge_protection"]),
            created=parse_time(raw.get("created_time")),
            refused_justifications=tuple(str(j) for j in raw.get("refused_justifications") or ()),
        )


# --- batch status and deletion certificates ----------------------------------------------


def batch_response_status(data: Mapping[str, Any], partial_failure_response_code: int | None = None) -> int:
    """The HTTP status Vault answers an encrypt/decrypt batch with: 200 when every item succeeded, else 400;
    ``partial_failure_response_code`` (1..599) replaces the 400 when at least one item succeeded.

    (Vault applies this to encrypt and decrypt only; rewrap, datakey, hmac, sign and verify batches are 200.)
    """
    results = data.get("batch_results")
    if not isinstance(results, list) or not results:
        return 200
    failed = [bool(item.get("error")) for item in results]
    if not any(failed):
        return 200
    if partial_failure_response_code is not None and not all(failed) and 1 <= partial_failure_response_code <= 599:
        return partial_failure_response_code
    return 400


def verify_deletion_certificate(cert: Mapping[str, Any], public_key: str | None = None) -> bool:
    """True when ``cert`` is a deletion certificate whose signature verifies.

    Pass the vault's published certificate key (:meth:`TransitEngine.deletion_certificate_public_key`) as
    ``public_key`` to check who signed it; without it only the certificate's own embedded key is used, which
    proves integrity, not origin.
    """
    if not isinstance(cert, Mapping) or cert.get("kind") != CERT_KIND:
        return False
    signature, embedded = cert.get("signature"), cert.get("signing_public_key")
    if not isinstance(signature, str) or not isinstance(embedded, str):
        return False
    if public_key is not None and not _hmac.compare_digest(public_key.encode(), embedded.encode()):
        return False
    body = {k: v for k, v in cert.items() if k != "signature"}
    try:
        return prims.ed25519_verify(base64.b64decode(embedded), _canonical(body), base64.b64decode(signature))
    except (binascii.Error, ValueError):
        return False


# --- the engine --------------------------------------------------------------------------


class TransitEngine:
    """A transit mount over barrier storage. See the module docstring for formats and the lifecycle."""

    def __init__(self, storage: VaultStorage, clock: Callable[[], dt.datetime] = _utcnow) -> None:
        self._storage = storage
        self._clock = clock
        self._lock = threading.RLock()

    # --- storage -------------------------------------------------------------------------

    @staticmethod
    def _check_name(name: object) -> str:
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise _bad(f"invalid key name {name!r}")
        return name

    def _raw(self, name: str) -> dict[str, Any] | None:
        raw = self._storage.get(KEYS_PREFIX + name)
        if raw is None:
            return None
        value = json.loads(raw)
        if not isinstance(value, dict):
            raise VaultError(f"corrupt key entry for {name}")
        return value

    def _save(self, policy: KeyPolicy) -> None:
        self._storage.put(KEYS_PREFIX + policy.name, _canonical(policy.to_json()))

    def _load(self, name: str, *, missing: str = "", status: int = 404) -> KeyPolicy:
        """The live policy; raises not-found (Vault's ``missing`` text) or KeyDestroyed for a tombstone."""
        name = self._check_name(name)
        raw = self._raw(name)
        if raw is None:
            raise TransitKeyNotFound(missing or f"key {name} not found", status=status)
        if raw.get("tombstone"):
            raise TransitKeyDestroyed(f"key {name} was destroyed at {raw.get('destroyed_at')}")
        return KeyPolicy.from_json(raw)

    def _usable(self, name: str, missing: str = "encryption key not found") -> KeyPolicy:
        """The policy, if its lifecycle state allows cryptographic use (Vault answers 400 for a missing key)."""
        policy = self._load(name, missing=missing, status=400)
        if policy.state == STATE_DISABLED:
            raise TransitKeyDisabled(f"key {policy.name} is disabled")
        if policy.state == STATE_PENDING:
            raise TransitKeyPendingDeletion(
                f"key {policy.name} is pending deletion (scheduled for {rfc3339(policy.deletion_date)})"
            )
        return policy

    # --- key management ------------------------------------------------------------------

    def create_key(
        self,
        name: str,
        type: str = "aes256-gcm96",
        exportable: bool = False,
        allow_plaintext_backup: bool = False,
        auto_rotate_period: int | str = 0,
        derived: bool = False,
        *,
        convergent_encryption: bool = False,
        key_size: int = 0,
        tenant: str = "root",
        region: str = "local",
    ) -> dict[str, Any]:
        """``POST /transit/keys/:name``; returns the read shape. An existing key is returned unchanged (Vault
        warns "key already existed"); the name of a destroyed key is refused."""
        name = self._check_name(name)
        key_type = type or "aes256-gcm96"
        info = KEY_TYPES.get(key_type)
        if info is None:
            raise _bad(f"unknown key type {key_type}")
        period = parse_duration(auto_rotate_period, "auto_rotate_period")
        if period != 0 and period < 3600:
            raise _bad("auto rotate period must be 0 to disable or at least an hour")
        derived = _as_bool(derived, "derived")
        if _as_bool(convergent_encryption, "convergent_encryption"):
            if not derived:
                raise _bad("convergent encryption requires derivation to be enabled")
            raise _bad("convergent encryption is not supported by strongroom")
        if derived and not info.derivation:
            raise _bad(f"key derivation and convergent encryption not supported for keys of type {key_type}")
        size = _as_int(key_size, "key_size")
        if size:
            if info.family != "hmac":
                raise _bad(f"key_size is not valid for algorithm {key_type}")
            if not HMAC_MIN_KEY_SIZE <= size <= HMAC_MAX_KEY_SIZE:
                raise _bad(f"invalid key_size {size}")
        if not isinstance(tenant, str) or not tenant or not isinstance(region, str) or not region:
            raise _bad("tenant and region must be non-empty strings")
        with self._lock:
            raw = self._raw(name)
            if raw is not None:
                if raw.get("tombstone"):
                    raise TransitKeyDestroyed(
                        f"key {name} was destroyed at {raw.get('destroyed_at')}; its name cannot be reused"
                    )
                return self._format(KeyPolicy.from_json(raw))
            now = self._clock()
            policy = KeyPolicy(
                name=name,
                type=key_type,
                versions={1: _generate_version(info, now, size)},
                latest_version=1,
                derived=derived,
                exportable=_as_bool(exportable, "exportable"),
                allow_plaintext_backup=_as_bool(allow_plaintext_backup, "allow_plaintext_backup"),
                auto_rotate_period=period,
                key_size=size if info.family == "hmac" else 0,
                tenant=tenant,
                region=region,
                created=now,
            )
            self._save(policy)
            return self._format(policy)

    def _format(self, policy: KeyPolicy) -> dict[str, Any]:
        info = policy.info
        data: dict[str, Any] = {
            "name": policy.name,
            "type": policy.type,
            "derived": policy.derived,
            "deletion_allowed": policy.deletion_allowed,
            "min_available_version": policy.min_available_version,
            "min_decryption_version": policy.min_decryption_version,
            "min_encryption_version": policy.min_encryption_version,
            "latest_version": policy.latest_version,
            "exportable": policy.exportable,
            "allow_plaintext_backup": policy.allow_plaintext_backup,
            "supports_encryption": info.encryption,
            "supports_decryption": info.encryption,
            "supports_signing": info.signing,
            "supports_derivation": info.derivation,
            "auto_rotate_period": policy.auto_rotate_period,
            "imported_key": False,
            # strongroom extensions
            "state": policy.state,
            "tenant": policy.tenant,
            "region": policy.region,
            "deletion_date": rfc3339(policy.deletion_date) or None,
            "purge_protection": policy.purge_protection,
        }
        if policy.key_size:
            data["key_size"] = policy.key_size
        if policy.derived:
            data["kdf"] = "hkdf_sha256"
            data["convergent_encryption"] = False
        if info.signing:
            name = {"ed25519": "ed25519", "ecdsa": info.curve, "rsa": info.name}[info.family]
            data["keys"] = {
                str(v): {
                    "name": name,
                    "public_key": "" if policy.derived else policy.versions[v].public_key,
                    "certificate_chain": "",
                    "creation_time": rfc3339(policy.versions[v].created),
                }
                for v in policy.visible_versions()
            }
        else:
            data["keys"] = {str(v): int(policy.versions[v].created.timestamp()) for v in policy.visible_versions()}
        return data

    def read_key(self, name: str) -> dict[str, Any]:
        """``GET /transit/keys/:name`` (404 when missing). A destroyed key reads as its tombstone."""
        name = self._check_name(name)
        raw = self._raw(name)
        if raw is None:
            raise TransitKeyNotFound(f"key {name} not found")
        if raw.get("tombstone"):
            return {
                "name": name,
                "type": raw.get("type"),
                "state": STATE_DESTROYED,
                "tenant": raw.get("tenant"),
                "region": raw.get("region"),
                "destroyed_at": raw.get("destroyed_at"),
                "versions": raw.get("versions", []),
                "latest_version": raw.get("latest_version", 0),
                "deletion_allowed": False,
                "exportable": False,
                "supports_encryption": False,
                "supports_decryption": False,
                "supports_signing": False,
                "supports_derivation": False,
                "purge_protection": bool(raw.get("purge_protection")),
                "keys": {},
            }
        return self._format(KeyPolicy.from_json(raw))

    def list_keys(self, *, tenant: str | None = None) -> dict[str, Any]:
        """``LIST /transit/keys`` -> ``{"keys": [...]}`` (404 when empty, as Vault). ``tenant`` filters by owner."""
        names = [n for n in self._storage.list(KEYS_PREFIX) if not n.endswith("/")]
        if tenant is not None:
            names = [n for n in names if (self._raw(n) or {}).get("tenant") == tenant]
        if not names:
            raise VaultNotFound("no keys")
        return {"keys": names}

    def delete_key(self, name: str) -> None:
        """``DELETE /transit/keys/:name``: only with ``deletion_allowed`` (and never under purge protection)."""
        name = self._check_name(name)
        with self._lock:
            raw = self._raw(name)
            if raw is None:
                raise _bad(f"error deleting policy {name}: could not delete policy; not found")
            if raw.get("tombstone"):
                raise TransitKeyDestroyed(f"key {name} was destroyed; its tombstone is kept")
            policy = KeyPolicy.from_json(raw)
            if policy.purge_protection:
                raise KeyPurgeProtected(f"error deleting policy {name}: key is purge-protected")
            if not policy.deletion_allowed:
                raise _bad(f"error deleting policy {name}: deletion is not allowed for this policy")
            self._storage.delete(KEYS_PREFIX + name)

    def update_config(
        self,
        name: str,
        min_decryption_version: int | None = None,
        min_encryption_version: int | None = None,
        deletion_allowed: bool | None = None,
        exportable: bool | None = None,
        auto_rotate_period: int | str | None = None,
        allow_plaintext_backup: bool | None = None,
    ) -> dict[str, Any]:
        """``POST /transit/keys/:name/config`` with Vault's checks; returns the read shape.
        ``exportable`` and ``allow_plaintext_backup`` only go from false to true."""
        with self._lock:
            policy = self._load(name, missing=f"no existing key named {name} could be found", status=400)
            changed = False
            if min_decryption_version is not None:
                value = _as_int(min_decryption_version, "min_decryption_version")
                if value < 0:
                    raise _bad("min decryption version cannot be negative")
                value = value or 1
                if value != policy.min_decryption_version:
                    if value > policy.latest_version:
                        raise _bad(
                            f"cannot set min decryption version of {value}, "
                            f"latest key version is {policy.latest_version}"
                        )
                    policy.min_decryption_version = value
                    changed = True
            if min_encryption_version is not None:
                value = _as_int(min_encryption_version, "min_encryption_version")
                if value < 0:
                    raise _bad("min encryption version cannot be negative")
                if value != policy.min_encryption_version:
                    if value > policy.latest_version:
                        raise _bad(
                            f"cannot set min encryption version of {value}, "
                            f"latest key version is {policy.latest_version}"
                        )
                    policy.min_encryption_version = value
                    changed = True
            if 0 < policy.min_encryption_version < policy.min_decryption_version:
                raise _bad(
                    "cannot set min encryption/decryption values; min encryption version of "
                    f"{policy.min_encryption_version} must be greater than or equal to min decryption version of "
                    f"{policy.min_decryption_version}"
                )
            if deletion_allowed is not None:
                allowed = _as_bool(deletion_allowed, "deletion_allowed")
                if allowed and policy.purge_protection:
                    raise KeyPurgeProtected(f"key {policy.name} is purge-protected; deletion cannot be allowed")
                if allowed != policy.deletion_allowed:
                    policy.deletion_allowed = allowed
                    changed = True
            if exportable is not None and _as_bool(exportable, "exportable") and not policy.exportable:
                policy.exportable = True
                changed = True
            if (
                allow_plaintext_backup is not None
                and _as_bool(allow_plaintext_backup, "allow_plaintext_backup")
                and not policy.allow_plaintext_backup
            ):
                policy.allow_plaintext_backup = True
                changed = True
            if auto_rotate_period is not None:
                period = parse_duration(auto_rotate_period, "auto_rotate_period")
                if period != 0 and period < 3600:
                    raise _bad("auto rotate period must be 0 to disable or at least an hour")
                if period != policy.auto_rotate_period:
                    policy.auto_rotate_period = period
                    changed = True
            if changed:
                if policy.min_available_version > policy.min_encryption_version:
                    raise _bad("min encryption version should not be less than min available version")
                if policy.min_available_version > policy.min_decryption_version:
                    raise _bad("min decryption version should not be less then min available version")
                self._save(policy)
            return self._format(policy)

    def rotate(self, name: str) -> dict[str, Any]:
        """``POST /transit/keys/:name/rotate``: add a new latest version; returns the read shape."""
        with self._lock:
            policy = self._usable(name, missing="key not found")
            self._rotate(policy)
            return self._format(policy)

    def _rotate(self, policy: KeyPolicy) -> None:
        policy.latest_version += 1
        policy.versions[policy.latest_version] = _generate_version(policy.info, self._clock(), policy.key_size)
        self._save(policy)

    def trim(self, name: str, min_available_version: int) -> dict[str, Any]:
        """``POST /transit/keys/:name/trim``: erase every version below ``min_available_version`` for good."""
        with self._lock:
            policy = self._load(name, missing="invalid key name", status=400)
            if min_available_version is None:
                raise _bad("missing min_available_version")
            value = _as_int(min_available_version, "min_available_version")
            if value < policy.min_available_version:
                raise _bad("minimum available version cannot be decremented")
            if policy.min_encryption_version == 0:
                raise _bad("minimum available version cannot be set when minimum encryption version is not set")
            if policy.min_decryption_version == 0:
                raise _bad("minimum available version cannot be set when minimum decryption version is not set")
            if value > policy.min_encryption_version:
                raise _bad("minimum available version cannot be greater than minmum encryption version")
            if value > policy.min_decryption_version:
                raise _bad("minimum available version cannot be greater than minimum decryption version")
            if value < 0:
                raise _bad("minimum available version cannot be negative")
            if value == 0:
                raise _bad("minimum available version should be positive")
            policy.min_available_version = value
            for version in [v for v in policy.versions if v < value]:
                del policy.versions[version]
            self._save(policy)
            return self._format(policy)

    def maybe_auto_rotate(self, now: dt.datetime | None = None) -> list[str]:
        """Rotate every enabled key whose latest version is older than its ``auto_rotate_period``."""
        moment = now or self._clock()
        rotated: list[str] = []
        for name in self._storage.list(KEYS_PREFIX):
            if name.endswith("/"):
                continue
            with self._lock:
                raw = self._raw(name)
                if raw is None or raw.get("tombstone"):
                    continue
                policy = KeyPolicy.from_json(raw)
                if policy.state != STATE_ENABLED or policy.auto_rotate_period <= 0:
                    continue
                latest = policy.versions.get(policy.latest_version)
                if latest and moment >= latest.created + dt.timedelta(seconds=policy.auto_rotate_period):
                    self._rotate(policy)
                    rotated.append(name)
        return rotated

    # --- symmetric helpers -----------------------------------------------------------------

    def _symmetric_key(self, policy: KeyPolicy, version: int, context: bytes | None) -> bytes:
        entry = policy.entry(version)
        if not policy.derived:
            return entry.material
        if not context:
            raise _bad(
                "missing 'context' for key derivation; the key was created using a derived key, which means "
                "additional, per-request information must be included in order to perform operations with the key"
            )
        return prims.derive_key(entry.material, context, policy.info.size)

    def _encryption_version(self, policy: KeyPolicy, requested: int) -> int:
        if requested == 0:
            return policy.latest_version
        if requested < 0:
            raise _bad("requested version for encryption is negative")
        if requested > policy.latest_version:
            raise _bad("requested version for encryption is higher than the latest key version")
        if requested < policy.min_encryption_version:
            raise _bad("requested version for encryption is less than the minimum encryption key version")
        return requested

    def _encrypt_one(
        self, policy: KeyPolicy, plaintext: bytes, context: bytes | None, version: int, aad: bytes | None
    ) -> tuple[str, int]:
        info = policy.info
        if not info.encryption:
            raise _bad(f"message encryption not supported for key type {policy.type}")
        version = self._encryption_version(policy, version)
        if info.family == "aead":
            blob = prims.aead_seal(policy.type, self._symmetric_key(policy, version, context), plaintext, aad)
        else:
            try:
                blob = prims.rsa_encrypt(policy.entry(version).material, plaintext)
            except ValueError as exc:
                raise _bad(f"failed to RSA encrypt the plaintext: {exc}") from None
        return f"vault:v{version}:{_b64(blob)}", version

    def _decrypt_one(self, policy: KeyPolicy, ciphertext: str, context: bytes | None, aad: bytes | None) -> bytes:
        info = policy.info
        if not info.encryption:
            raise _bad(f"message decryption not supported for key type {policy.type}")
        version, payload = _split_versioned(ciphertext, "ciphertext")
        version = version or 1
        if version > policy.latest_version:
            raise _bad("invalid ciphertext: version is too new")
        if policy.min_decryption_version > 0 and version < policy.min_decryption_version:
            raise _bad(ERR_TOO_OLD)
        try:
            blob = b64decode(payload)
        except ValueError:
            raise _bad("invalid ciphertext: could not decode base64") from None
        if info.family == "aead":
            key = self._symmetric_key(policy, version, context)
            if len(blob) < prims.NONCE_LEN:
                raise _bad("invalid ciphertext length")
            try:
                return prims.aead_open(policy.type, key, blob, aad)
            except DecryptionFailed:
                raise _bad("cipher: message authentication failed") from None
        try:
            return prims.rsa_decrypt(policy.entry(version).material, blob)
        except DecryptionFailed:
            raise _bad("failed to RSA decrypt the ciphertext: crypto/rsa: decryption error") from None

    @staticmethod
    def _aad(policy: KeyPolicy, value: str, index: int) -> bytes | None:
        if not value:
            return None
        if policy.info.family != "aead":
            raise _bad(f"'[{index}].associated_data' provided for non-AEAD cipher suite {policy.type}")
        try:
            return b64decode(value)
        except ValueError as exc:
            raise _bad(f"unable to get associated_data/additional_data from factory[0]: {exc}") from None

    # --- encrypt / decrypt / rewrap / datakey --------------------------------------------------

    def encrypt(
        self,
        name: str,
        plaintext: str | None = None,
        context: str | None = None,
        key_version: int | None = None,
        associated_data: str | None = None,
        batch_input: Sequence[Mapping[str, Any]] | None = None,
        *,
        nonce: str | None = None,
        upsert: bool = False,
        key_type: str = "aes256-gcm96",
        tenant: str = "root",
        region: str = "local",
    ) -> dict[str, Any]:
        """``POST /transit/encrypt/:name`` -> ``{"ciphertext", "key_version"}`` or ``{"batch_results": [...]}``.

        ``upsert=True`` creates a missing key first (Vault does so when the token may create it); the key is
        derived when a context is given.
        """
        if batch_input is not None:
            items = _batch_items(batch_input)
            for index, item in enumerate(items):
                if "plaintext" not in item:
                    raise _bad(f"failed to parse batch input: '[{index}].plaintext' missing plaintext to encrypt")
        else:
            if plaintext is None:
                raise _bad("missing plaintext to encrypt")
            items = [
                {
                    "plaintext": plaintext,
                    "context": context or "",
                    "nonce": nonce or "",
                    "key_version": key_version,
                    "associated_data": associated_data or "",
                }
            ]
        results: list[dict[str, Any]] = [{} for _ in items]
        prepared: list[tuple[bytes, bytes | None] | None] = []
        context_set = bool(items[0].get("context"))
        for index, item in enumerate(items):
            item_context = _str_field(item, "context", index)
            if bool(item_context) != context_set:
                raise _bad("context should be set either in all the request blocks or in none")
            try:
                raw_plaintext = b64decode(_str_field(item, "plaintext", index))
                raw_context = b64decode(item_context) if item_context else None
                if _str_field(item, "nonce", index):
                    b64decode(_str_field(item, "nonce", index))
            except ValueError as exc:
                results[index]["error"] = str(exc)
                prepared.append(None)
                continue
            prepared.append((raw_plaintext, raw_context))
        if upsert and self._raw(self._check_name(name)) is None:
            self.create_key(name, type=key_type, derived=context_set, tenant=tenant, region=region)
        policy = self._usable(name)
        for index, item in enumerate(items):
            ready = prepared[index]
            if ready is None:
                continue
            try:
                if _str_field(item, "nonce", index):
                    raise _bad("provided nonce not allowed for this key")
                aad = self._aad(policy, _str_field(item, "associated_data", index), index)
                ciphertext, version = self._encrypt_one(
                    policy, ready[0], ready[1], _as_int(item.get("key_version"), "key_version"), aad
                )
            except VaultInvalidRequest as exc:
                results[index]["error"] = exc.message
                continue
            results[index].update(ciphertext=ciphertext, key_version=version)
        if batch_input is None:
            if "error" in results[0]:
                raise _bad(results[0]["error"])
            return results[0]
        for index, item in enumerate(items):
            results[index]["reference"] = _str_field(item, "reference", index)
        return {"batch_results": results}

    def decrypt(
        self,
        name: str,
        ciphertext: str | None = None,
        context: str | None = None,
        associated_data: str | None = None,
        batch_input: Sequence[Mapping[str, Any]] | None = None,
        *,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        """``POST /transit/decrypt/:name`` -> ``{"plaintext": base64}`` or ``{"batch_results": [...]}``."""
        if batch_input is not None:
            items = _batch_items(batch_input)
            for index, item in enumerate(items):
                if "ciphertext" not in item:
                    raise _bad(f"failed to parse batch input: '[{index}].ciphertext' missing ciphertext to decrypt")
        else:
            if not ciphertext:
                raise _bad("missing ciphertext to decrypt")
            items = [
                {
                    "ciphertext": ciphertext,
                    "context": context or "",
                    "nonce": nonce or "",
                    "associated_data": associated_data or "",
                }
            ]
        results: list[dict[str, Any]] = [{"plaintext": ""} for _ in items]
        contexts: list[bytes | None] = []
        context_set = bool(items[0].get("context"))
        for index, item in enumerate(items):
            item_context = _str_field(item, "context", index)
            if bool(item_context) != context_set:
                raise _bad("context should be set either in all the request blocks or in none")
            contexts.append(None)
            if not _str_field(item, "ciphertext", index):
                results[index]["error"] = "missing ciphertext to decrypt"
                continue
            try:
                contexts[index] = b64decode(item_context) if item_context else None
                if _str_field(item, "nonce", index):
                    b64decode(_str_field(item, "nonce", index))
            except ValueError as exc:
                results[index]["error"] = str(exc)
        policy = self._usable(name)
        for index, item in enumerate(items):
            if "error" in results[index]:
                continue
            try:
                if _str_field(item, "nonce", index):
                    raise _bad("provided nonce not allowed for this key")
                aad = self._aad(policy, _str_field(item, "associated_data", index), index)
                plain = self._decrypt_one(policy, _str_field(item, "ciphertext", index), contexts[index], aad)
            except VaultInvalidRequest as exc:
                results[index]["error"] = exc.message
                continue
            results[index]["plaintext"] = _b64(plain)
        if batch_input is None:
            if "error" in results[0]:
                raise _bad(results[0]["error"])
            return {"plaintext": results[0]["plaintext"]}
        for index, item in enumerate(items):
            results[index]["reference"] = _str_field(item, "reference", index)
        return {"batch_results": results}

    def rewrap(
        self,
        name: str,
        ciphertext: str | None = None,
        context: str | None = None,
        key_version: int | None = None,
        associated_data: str | None = None,
        batch_input: Sequence[Mapping[str, Any]] | None = None,
        *,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        """``POST /transit/rewrap/:name``: decrypt and re-encrypt under ``key_version`` (default latest) without
        revealing the plaintext -> ``{"ciphertext", "key_version"}`` or ``{"batch_results": [...]}``."""
        if batch_input is not None:
            items = _batch_items(batch_input)
        else:
            if not ciphertext:
                raise _bad("missing ciphertext to decrypt")
            items = [
                {
                    "ciphertext": ciphertext,
                    "context": context or "",
                    "nonce": nonce or "",
                    "key_version": key_version,
                    "associated_data": associated_data or "",
                }
            ]
        results: list[dict[str, Any]] = [{} for _ in items]
        contexts: list[bytes | None] = []
        context_set = bool(items[0].get("context"))
        for index, item in enumerate(items):
            item_context = _str_field(item, "context", index)
            if bool(item_context) != context_set:
                raise _bad("context should be set either in all the request blocks or in none")
            contexts.append(None)
            if not _str_field(item, "ciphertext", index):
                results[index]["error"] = "missing ciphertext to decrypt"
                continue
            try:
                contexts[index] = b64decode(item_context) if item_context else None
                if _str_field(item, "nonce", index):
                    b64decode(_str_field(item, "nonce", index))
            except ValueError as exc:
                results[index]["error"] = str(exc)
        policy = self._usable(name)
        for index, item in enumerate(items):
            if "error" in results[index]:
                continue
            try:
                if _str_field(item, "nonce", index):
                    raise _bad("provided nonce not allowed for this key")
                aad = self._aad(policy, _str_field(item, "associated_data", index), index)
                plain = self._decrypt_one(policy, _str_field(item, "ciphertext", index), contexts[index], aad)
                new_ciphertext, version = self._encrypt_one(
                    policy, plain, contexts[index], _as_int(item.get("key_version"), "key_version"), aad
                )
            except VaultInvalidRequest as exc:
                results[index]["error"] = exc.message
                continue
            results[index].update(ciphertext=new_ciphertext, key_version=version)
        if batch_input is None:
            if "error" in results[0]:
                raise _bad(results[0]["error"])
            return results[0]
        for index, item in enumerate(items):
            results[index]["reference"] = _str_field(item, "reference", index)
        return {"batch_results": results}

    def generate_data_key(
        self,
        name: str,
        kind: str = "plaintext",
        bits: int = 256,
        context: str | None = None,
        *,
        nonce: str | None = None,
        key_version: int | None = None,
    ) -> dict[str, Any]:
        """``POST /transit/datakey/{plaintext|wrapped}/:name``: a fresh random key of ``bits`` (128/256/512)
        encrypted under the named key -> ``{"ciphertext", "key_version"[, "plaintext"]}``."""
        if kind not in ("plaintext", "wrapped"):
            raise _bad("Invalid path, must be 'plaintext' or 'wrapped'")
        raw_context = _opt_b64(context, what="failed to base64-decode context")
        raw_nonce = _opt_b64(nonce, what="failed to base64-decode nonce")
        policy = self._usable(name)
        size = {128: 16, 256: 32, 512: 64}.get(_as_int(bits, "bits", 256))
        if size is None:
            raise _bad("invalid bit length")
        if raw_nonce:
            raise _bad("provided nonce not allowed for this key")
        data_key = prims.random_bytes(size)
        ciphertext, version = self._encrypt_one(
            policy, data_key, raw_context, _as_int(key_version, "key_version"), None
        )
        result: dict[str, Any] = {"ciphertext": ciphertext, "key_version": version}
        if kind == "plaintext":
            result["plaintext"] = _b64(data_key)
        return result

    # --- HMAC ------------------------------------------------------------------------------

    @staticmethod
    def _hmac_key(policy: KeyPolicy, version: int) -> bytes:
        if version < 0:
            raise _bad("key version does not exist (cannot be negative)")
        if version > policy.latest_version:
            raise _bad(f"key version does not exist; latest key version is {policy.latest_version}")
        entry = policy.entry(version)
        return entry.material if policy.info.family == "hmac" else entry.hmac_key

    def hmac(
        self,
        name: str,
        input: str | None = None,
        algorithm: str = "sha2-256",
        key_version: int | None = None,
        batch_input: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """``POST /transit/hmac/:name[/:algorithm]`` -> ``{"hmac": "vault:vN:<base64>"}`` or batch results.
        Uses the version's HMAC key (the key itself for type ``hmac``)."""
        policy = self._usable(name)
        version = _as_int(key_version, "key_version")
        if version == 0:
            version = policy.latest_version
        elif (
            version != policy.latest_version
            and 0 < policy.min_encryption_version
            and version < policy.min_encryption_version
        ):
            raise _bad("cannot generate HMAC: version is too old (disallowed by policy)")
        key = self._hmac_key(policy, version)
        algorithm = algorithm or "sha2-256"
        if algorithm not in prims.HASH_SIZES:
            raise _bad(f'unsupported algorithm "{algorithm}"')
        if batch_input is not None:
            items = _batch_items(batch_input)
        else:
            if input is None:
                raise _bad("missing input for HMAC")
            items = [{"input": input}]
        results: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            result: dict[str, Any] = {}
            if "input" not in item:
                result["error"] = "missing input for HMAC"
            else:
                try:
                    data = b64decode(_str_field(item, "input", index))
                    result["hmac"] = f"vault:v{version}:{_b64(prims.hmac_digest(algorithm, key, data))}"
                except ValueError as exc:
                    result["error"] = f"unable to decode input as base64: {exc}"
            results.append(result)
        if batch_input is None:
            if "error" in results[0]:
                raise _bad(results[0]["error"])
            return {"hmac": results[0]["hmac"]}
        for index, item in enumerate(items):
            results[index]["reference"] = _str_field(item, "reference", index)
        return {"batch_results": results}

    def verify_hmac(
        self,
        name: str,
        input: str | None = None,
        hmac: str | None = None,
        algorithm: str | None = None,
        batch_input: Sequence[Mapping[str, Any]] | None = None,
        *,
        hash_algorithm: str | None = None,
    ) -> dict[str, Any]:
        """``POST /transit/verify/:name`` with ``hmac`` -> ``{"valid": bool}`` (batch items show ``valid`` only
        when true, as Vault's omitempty does). ``algorithm`` (the URL's) wins over ``hash_algorithm`` (the body's,
        which hvac sends); the default is sha2-256."""
        policy = self._usable(name)
        algorithm = algorithm or hash_algorithm or "sha2-256"
        if algorithm not in prims.HASH_SIZES:
            raise _bad(f'unsupported algorithm "{algorithm}"')
        items = _batch_items(batch_input) if batch_input is not None else [{"input": input or "", "hmac": hmac or ""}]
        results: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            result: dict[str, Any] = {}
            try:
                if "input" not in item:
                    raise _bad("missing input")
                try:
                    data = b64decode(_str_field(item, "input", index))
                except ValueError as exc:
                    raise _bad(f"unable to decode input as base64: {exc}") from None
                if "hmac" not in item:
                    raise _bad("missing hmac")
                tag = _str_field(item, "hmac", index)
                if not tag.startswith("vault:v"):
                    raise _bad("invalid HMAC to verify: no prefix")
                parts = tag[len("vault:v") :].split(":", 1)
                if len(parts) != 2:
                    raise _bad("invalid HMAC: wrong number of fields")
                if not _INT_RE.fullmatch(parts[0]):
                    raise _bad("invalid HMAC: version number could not be decoded")
                version = int(parts[0])
                try:
                    expected = b64decode(parts[1])
                except ValueError as exc:
                    raise _bad(f"unable to decode verification HMAC as base64: {exc}") from None
                if version > policy.latest_version:
                    raise _bad("invalid HMAC: version is too new")
                if policy.min_decryption_version > 0 and version < policy.min_decryption_version:
                    raise _bad("cannot verify HMAC: version is too old (disallowed by policy)")
                key = self._hmac_key(policy, version)
                if _hmac.compare_digest(prims.hmac_digest(algorithm, key, data), expected):
                    result["valid"] = True
            except VaultInvalidRequest as exc:
                result["error"] = exc.message
            results.append(result)
        if batch_input is None:
            if "error" in results[0]:
                raise _bad(results[0]["error"])
            return {"valid": bool(results[0].get("valid"))}
        for index, item in enumerate(items):
            results[index]["reference"] = _str_field(item, "reference", index)
        return {"batch_results": results}

    # --- sign / verify ------------------------------------------------------------------------

    @staticmethod
    def _sign_args(
        hash_algorithm: str | None, marshaling_algorithm: str | None, salt_length: object
    ) -> tuple[str, str, int | str]:
        algorithm = hash_algorithm or "sha2-256"
        if algorithm not in prims.HASH_SIZES:
            raise _bad(f'invalid hash algorithm "{algorithm}"')
        marshaling = marshaling_algorithm or "asn1"
        if marshaling not in ("asn1", "jws"):
            raise _bad(f'invalid marshaling type "{marshaling}"')
        salt: int | str
        raw_salt = "auto" if salt_length is None or salt_length == "" else salt_length
        if isinstance(raw_salt, str) and raw_salt.lower() in ("auto", "hash"):
            salt = raw_salt.lower()
        else:
            try:
                salt = _as_int(raw_salt, "salt_length")
            except VaultInvalidRequest:
                raise _bad(f"salt length neither 'auto', 'hash', nor an int: {raw_salt}") from None
            if salt < -1:
                raise _bad(f"salt length is invalid: {salt}")
            if salt == -1:
                salt = "hash"
        return algorithm, marshaling, salt

    @staticmethod
    def _require_signing(policy: KeyPolicy) -> None:
        if not policy.info.signing:
            raise _bad(f"key type {policy.type} does not support signing")

    @staticmethod
    def _ed25519_checks(policy: KeyPolicy, prehashed: bool, algorithm: str) -> None:
        if policy.info.family != "ed25519":
            return
        if prehashed:
            raise _bad("failed to parse batch item: only Pure Ed25519 signatures supported, prehashed must be false")
        if algorithm == "sha2-512":
            raise _bad(
                "failed to parse batch item: only Pure Ed25519 signatures supported, hash_alogithm should not be set"
            )

    def _signing_material(self, policy: KeyPolicy, version: int, context: bytes | None) -> bytes:
        entry = policy.entry(version)
        if policy.info.family == "ed25519" and policy.derived:
            if not context:
                raise _bad(
                    "error deriving key: missing 'context' for key derivation; the key was created using a derived "
                    "key, which means additional, per-request information must be included in order to perform "
                    "operations with the key"
                )
            return prims.ed25519_from_seed(prims.derive_key(entry.material, context, 32))
        return entry.material

    def sign(
        self,
        name: str,
        input: str | None = None,
        hash_algorithm: str | None = None,
        prehashed: bool = False,
        signature_algorithm: str | None = None,
        marshaling_algorithm: str | None = "asn1",
        key_version: int | None = None,
        batch_input: Sequence[Mapping[str, Any]] | None = None,
        *,
        context: str | None = None,
        salt_length: int | str | None = "auto",
        algorithm: str | None = None,
    ) -> dict[str, Any]:
        """``POST /transit/sign/:name[/:hash]`` -> ``{"signature": "vault:vN:...", "key_version"}`` or batch results.

        ECDSA and RSA sign the ``hash_algorithm`` digest of the input (or the input itself when ``prehashed``);
        Ed25519 signs the raw input. ``marshaling_algorithm="jws"`` gives raw ``r||s`` in unpadded base64url.
        """
        algorithm, marshaling, salt = self._sign_args(hash_algorithm or algorithm, marshaling_algorithm, salt_length)
        policy = self._usable(name, missing="signing key not found")
        self._require_signing(policy)
        prehashed = _as_bool(prehashed, "prehashed")
        requested = _as_int(key_version, "key_version")
        sig_algorithm = signature_algorithm or "pss"
        items = _batch_items(batch_input) if batch_input is not None else [{"input": input or "", "context": context}]
        results: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            result: dict[str, Any] = {"key_version": 0}
            try:
                if "input" not in item:
                    raise _bad("missing input")
                try:
                    data = b64decode(_str_field(item, "input", index))
                except ValueError as exc:
                    raise _bad(f"unable to decode input: {exc}") from None
                try:
                    raw_context = b64decode(_str_field(item, "context", index))
                except ValueError:
                    raise _bad("failed to base64-decode context") from None
                self._ed25519_checks(policy, prehashed, algorithm)
                version = self._signing_version(policy, requested)
                signature, public = self._sign_one(
                    policy, version, data, raw_context, algorithm, prehashed, sig_algorithm, marshaling, salt
                )
                result.update(signature=signature, key_version=version)
                if public:
                    result["publickey"] = _b64(public)
            except VaultInvalidRequest as exc:
                result["error"] = exc.message
            results.append(result)
        if batch_input is None:
            if "error" in results[0]:
                raise _bad(results[0]["error"])
            single = {"signature": results[0]["signature"], "key_version": results[0]["key_version"]}
            if "publickey" in results[0]:
                single["public_key"] = results[0]["publickey"]
            return single
        for index, item in enumerate(items):
            results[index]["reference"] = _str_field(item, "reference", index)
        return {"batch_results": results}

    @staticmethod
    def _signing_version(policy: KeyPolicy, requested: int) -> int:
        if requested == 0:
            return policy.latest_version
        if requested < 0:
            raise _bad("requested version for signing is negative")
        if requested > policy.latest_version:
            raise _bad("requested version for signing is higher than the latest key version")
        if policy.min_encryption_version > 0 and requested < policy.min_encryption_version:
            raise _bad("requested version for signing is less than the minimum encryption key version")
        return requested

    def _sign_one(
        self,
        policy: KeyPolicy,
        version: int,
        data: bytes,
        context: bytes | None,
        algorithm: str,
        prehashed: bool,
        sig_algorithm: str,
        marshaling: str,
        salt: int | str,
    ) -> tuple[str, bytes]:
        family = policy.info.family
        material = self._signing_material(policy, version, context)
        public = b""
        message = data if (prehashed or not policy.info.hashes_input) else prims.digest(algorithm, data)
        try:
            if family == "ed25519":
                signature = prims.ed25519_sign(material, message)
                if policy.derived:
                    public = prims.ed25519_public(material)
            elif family == "ecdsa":
                signature = prims.ecdsa_sign_digest(material, message, marshaling)
            else:
                if sig_algorithm not in ("pss", "pkcs1v15"):
                    raise _bad(f"unsupported rsa signature algorithm {sig_algorithm}")
                signature = prims.rsa_sign_digest(material, message, algorithm, sig_algorithm, salt)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        encoded = _b64url_raw(signature) if marshaling == "jws" else _b64(signature)
        return f"vault:v{version}:{encoded}", public

    def verify(
        self,
        name: str,
        input: str | None = None,
        signature: str | None = None,
        hash_algorithm: str | None = None,
        prehashed: bool = False,
        signature_algorithm: str | None = None,
        marshaling_algorithm: str | None = "asn1",
        batch_input: Sequence[Mapping[str, Any]] | None = None,
        *,
        hmac: str | None = None,
        context: str | None = None,
        salt_length: int | str | None = "auto",
        algorithm: str | None = None,
    ) -> dict[str, Any]:
        """``POST /transit/verify/:name[/:hash]`` -> ``{"valid": bool}`` or batch results; with ``hmac`` (or batch
        items carrying ``hmac``) this verifies an HMAC instead."""
        if batch_input is not None:
            items = _batch_items(batch_input)
            has_sig = [("signature" in i) for i in items]
            has_hmac = [("hmac" in i and "signature" not in i) for i in items]
            if any(has_sig) and any(has_hmac):
                raise _bad("elements of batch_input must all provide either 'signature', 'hmac' or 'cmac'")
            if not any(has_sig) and not any(has_hmac):
                raise _bad("no batch_input elements have 'signature', 'hmac' or 'cmac'")
            if any(has_sig) and not all(has_sig):
                raise _bad("some elements of batch_input are missing 'signature'")
            if any(has_hmac) and not all(has_hmac):
                raise _bad("some elements of batch_input are missing 'hmac'")
            if any(has_hmac):
                return self.verify_hmac(name, hash_algorithm=hash_algorithm or algorithm, batch_input=items)
        else:
            if signature is not None and hmac is not None:
                raise _bad("provide one of 'signature', 'hmac' or 'cmac'")
            if signature is None and hmac is None:
                raise _bad("missing one of 'signature', 'hmac' or 'cmac' arguments to verify")
            if hmac is not None:
                return self.verify_hmac(name, input=input or "", hmac=hmac, hash_algorithm=hash_algorithm or algorithm)
            items = [{"input": input or "", "signature": signature, "context": context}]
        algorithm, marshaling, salt = self._sign_args(hash_algorithm or algorithm, marshaling_algorithm, salt_length)
        policy = self._usable(name, missing="signature verification key not found")
        self._require_signing(policy)
        prehashed = _as_bool(prehashed, "prehashed")
        sig_algorithm = signature_algorithm or "pss"
        results: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            result: dict[str, Any] = {"valid": False}
            try:
                try:
                    data = b64decode(_str_field(item, "input", index))
                except ValueError as exc:
                    raise _bad(f"failed to parse item: failed to parse input: {exc}") from None
                try:
                    raw_context = b64decode(_str_field(item, "context", index))
                except ValueError as exc:
                    raise _bad(f"failed to parse item: failed to parse context: {exc}") from None
                self._ed25519_checks(policy, prehashed, algorithm)
                result["valid"] = self._verify_one(
                    policy,
                    _str_field(item, "signature", index),
                    data,
                    raw_context,
                    algorithm,
                    prehashed,
                    sig_algorithm,
                    marshaling,
                    salt,
                )
            except VaultInvalidRequest as exc:
                result["error"] = exc.message
            results.append(result)
        if batch_input is None:
            if "error" in results[0]:
                raise _bad(results[0]["error"])
            return {"valid": results[0]["valid"]}
        for index, item in enumerate(items):
            results[index]["reference"] = _str_field(item, "reference", index)
        return {"batch_results": results}

    def _verify_one(
        self,
        policy: KeyPolicy,
        signature: str,
        data: bytes,
        context: bytes | None,
        algorithm: str,
        prehashed: bool,
        sig_algorithm: str,
        marshaling: str,
        salt: int | str,
    ) -> bool:
        version, payload = _split_versioned(signature, "signature")
        if version > policy.latest_version:
            raise _bad("invalid signature: version is too new")
        if policy.min_decryption_version > 0 and version < policy.min_decryption_version:
            raise _bad(ERR_TOO_OLD)
        try:
            raw = _b64url_raw_decode(payload) if marshaling == "jws" else b64decode(payload)
        except ValueError:
            raise _bad("invalid base64 signature value") from None
        family = policy.info.family
        material = self._signing_material(policy, version, context)
        message = data if (prehashed or not policy.info.hashes_input) else prims.digest(algorithm, data)
        try:
            if family == "ed25519":
                return prims.ed25519_verify(prims.ed25519_public(material), message, raw)
            if family == "ecdsa":
                return prims.ecdsa_verify_digest(material, message, raw, marshaling)
            if sig_algorithm not in ("pss", "pkcs1v15"):
                raise _bad(f"unsupported rsa signature algorithm {sig_algorithm}")
            return prims.rsa_verify_digest(material, message, raw, algorithm, sig_algorithm, salt)
        except ValueError as exc:
            raise _bad(str(exc)) from None

    # --- random, hash, export ------------------------------------------------------------------

    def random(self, num_bytes: int | str = 32, format: str = "base64") -> dict[str, Any]:
        """``POST /transit/random[/:bytes]`` -> ``{"random_bytes": ...}`` in ``base64`` or ``hex``."""
        count = _as_int(num_bytes, "bytes", 32)
        if count < 1:
            raise _bad('"bytes" cannot be less than 1')
        if count > RANDOM_MAX_BYTES:
            raise _bad(f'"bytes" should be less than {RANDOM_MAX_BYTES}')
        if format not in ("base64", "hex"):
            raise _bad(f'unsupported encoding format {format}; must be "hex" or "base64"')
        data = prims.random_bytes(count)
        return {"random_bytes": data.hex() if format == "hex" else _b64(data)}

    def hash(self, input: str, algorithm: str = "sha2-256", format: str = "hex") -> dict[str, Any]:
        """``POST /transit/hash[/:algorithm]`` -> ``{"sum": ...}`` in ``hex`` or ``base64``."""
        algorithm = algorithm or "sha2-256"
        if algorithm not in prims.HASH_SIZES or algorithm == "sha1":
            raise _bad(f"unsupported algorithm {algorithm}")
        if format not in ("hex", "base64"):
            raise _bad(f'unsupported encoding format {format}; must be "hex" or "base64"')
        try:
            data = b64decode(input)
        except ValueError as exc:
            raise _bad(f"unable to decode input as base64: {exc}") from None
        digest = prims.digest(algorithm, data)
        return {"sum": digest.hex() if format == "hex" else _b64(digest)}

    def export(self, name: str, type: str, version: int | str | None = None) -> dict[str, Any]:
        """``GET /transit/export/:type/:name[/:version]`` -> ``{"name", "type", "keys": {"N": material}}``.
        ``type``: encryption-key, signing-key, hmac-key (all need ``exportable``) or public-key."""
        if type not in ("encryption-key", "signing-key", "hmac-key", "public-key"):
            raise _bad(f"invalid export type: {type}")
        name = self._check_name(name)
        raw = self._raw(name)
        if raw is None:
            raise TransitKeyNotFound(f"key {name} not found")
        policy = self._usable(name) if type != "public-key" else self._load(name)
        info = policy.info
        if not policy.exportable and type != "public-key":
            raise _bad("private key material is not exportable")
        if type == "encryption-key" and not info.encryption:
            raise _bad("encryption not supported for the key")
        if type == "signing-key" and not info.signing:
            raise _bad("signing not supported for the key")
        if type == "public-key" and not info.signing:
            raise _bad(f"unknown key type {policy.type} for export type {type}")
        if version is None or version == "":
            chosen = policy.visible_versions()
        else:
            text = str(version)
            if text == "latest":
                number = policy.latest_version
            elif _INT_RE.fullmatch(text.removeprefix("v")):
                number = int(text.removeprefix("v"))
            else:
                raise _bad("invalid key version")
            if number < policy.min_decryption_version:
                raise _bad("version for export is below minimum decryption version")
            if number not in policy.versions:
                raise _bad("version does not exist or cannot be found")
            chosen = [number]
        return {
            "name": policy.name,
            "type": policy.type,
            "keys": {str(v): self._export_one(policy, policy.versions[v], type) for v in chosen},
        }

    @staticmethod
    def _export_one(policy: KeyPolicy, entry: KeyVersion, kind: str) -> str:
        family = policy.info.family
        if kind == "hmac-key":
            return _b64(entry.material if family == "hmac" else entry.hmac_key)
        if family == "aead":
            return _b64(entry.material)
        if family == "ed25519":
            return entry.public_key if kind == "public-key" else _b64(entry.material)
        if family == "ecdsa":
            return (
                prims.ecdsa_public_pem(entry.material).strip()
                if kind == "public-key"
                else (prims.ecdsa_private_pem(entry.material))
            )
        return prims.rsa_public_pem(entry.material) if kind == "public-key" else prims.rsa_private_pem(entry.material)

    # --- object store ----------------------------------------------------------------------

    def kek_material(self, name: str, version: int | None = None) -> tuple[int, bytes]:
        """``(version, raw 32-byte key)`` of an enabled, non-derived ``aes256-gcm96`` key, for wrapping object DEKs.

        ``version=None`` is the version encryption uses now (the latest); an explicit version (unwrapping) must
        exist and be at or above ``min_decryption_version``.
        """
        policy = self._usable(name)
        if policy.type != "aes256-gcm96" or policy.derived:
            raise _bad(f"key {policy.name} is not a non-derived aes256-gcm96 key")
        if version is None:
            number = policy.latest_version
        else:
            number = _as_int(version, "version")
            if number < 1 or number > policy.latest_version:
                raise _bad("invalid key version")
            if number < policy.min_decryption_version:
                raise _bad(ERR_TOO_OLD)
        return number, policy.entry(number).material

    # --- lifecycle (strongroom) ------------------------------------------------------------

    def enable(self, name: str) -> dict[str, Any]:
        """disabled -> enabled (a key pending deletion must be cancelled first)."""
        with self._lock:
            policy = self._load(name)
            if policy.state == STATE_PENDING:
                raise KeyStateConflict(f"key {policy.name} is pending deletion; cancel the deletion first")
            if policy.state != STATE_ENABLED:
                policy.state = STATE_ENABLED
                self._save(policy)
            return self._format(policy)

    def disable(self, name: str) -> dict[str, Any]:
        """enabled -> disabled: every cryptographic operation under the key is refused until enabled again."""
        with self._lock:
            policy = self._load(name)
            if policy.state == STATE_PENDING:
                raise KeyStateConflict(f"key {policy.name} is pending deletion")
            if policy.state != STATE_DISABLED:
                policy.state = STATE_DISABLED
                self._save(policy)
            return self._format(policy)

    def schedule_deletion(self, name: str, days: int = 30) -> dict[str, Any]:
        """enabled | disabled -> pending_deletion, destroyable once ``days`` (7..30) have passed."""
        count = _as_int(days, "days", 30)
        if not MIN_PENDING_DAYS <= count <= MAX_PENDING_DAYS:
            raise _bad(f"pending window must be between {MIN_PENDING_DAYS} and {MAX_PENDING_DAYS} days")
        with self._lock:
            policy = self._load(name)
            if policy.state == STATE_PENDING:
                raise KeyStateConflict(f"key {policy.name} is already pending deletion")
            policy.state = STATE_PENDING
            policy.deletion_date = self._clock() + dt.timedelta(days=count)
            self._save(policy)
            return self._format(policy)

    def cancel_deletion(self, name: str) -> dict[str, Any]:
        """pending_deletion -> disabled (as AWS KMS: re-enable explicitly)."""
        with self._lock:
            policy = self._load(name)
            if policy.state != STATE_PENDING:
                raise KeyStateConflict(f"key {policy.name} is not pending deletion")
            policy.state = STATE_DISABLED
            policy.deletion_date = None
            self._save(policy)
            return self._format(policy)

    def refused_justifications(self, name: str) -> tuple[str, ...]:
        """The key access justifications the key's owner refuses (keys/release.py); a missing key refuses none."""
        raw = self._raw(self._check_name(name))
        if raw is None or raw.get("tombstone"):
            return ()
        return tuple(str(j) for j in raw.get("refused_justifications") or ())

    def set_refused_justifications(self, name: str, refused: tuple[str, ...]) -> tuple[str, ...]:
        """Replace the refused justifications (already validated names, kept sorted and unique)."""
        with self._lock:
            policy = self._load(name)
            policy.refused_justifications = tuple(sorted(set(refused)))
            self._save(policy)
            return policy.refused_justifications

    def enable_purge_protection(self, name: str) -> dict[str, Any]:
        """Irreversible: destroy then needs the scheduled date to pass, ``force`` and ``delete_key`` are refused."""
        with self._lock:
            policy = self._load(name)
            if not policy.purge_protection or policy.deletion_allowed:
                policy.purge_protection = True
                policy.deletion_allowed = False
                self._save(policy)
            return self._format(policy)

    def destroy(self, name: str, force: bool = False) -> dict[str, Any]:
        """Crypto-shred the key: replace its storage entry (every version's material) with a tombstone and return
        a signed deletion certificate.

        Allowed when the key is pending deletion and its date has passed; ``force=True`` skips both conditions
        unless purge protection is on.
        """
        with self._lock:
            policy = self._load(name)
            now = self._clock()
            due = policy.state == STATE_PENDING and policy.deletion_date is not None and now >= policy.deletion_date
            if policy.purge_protection and force:
                raise KeyPurgeProtected(f"key {policy.name} is purge-protected; force destroy is refused")
            if not due and not force:
                if policy.state != STATE_PENDING:
                    raise KeyStateConflict(f"key {policy.name} is not pending deletion; schedule the deletion first")
                raise KeyStateConflict(f"key {policy.name} cannot be destroyed before {rfc3339(policy.deletion_date)}")
            versions = sorted(policy.versions)
            certificate: dict[str, Any] = {
                "kind": CERT_KIND,
                "key_name": policy.name,
                "key_type": policy.type,
                "tenant": policy.tenant,
                "region": policy.region,
                "versions": versions,
                "latest_version": policy.latest_version,
                "scheduled_deletion_date": rfc3339(policy.deletion_date) or None,
                "destroyed_at": rfc3339(now),
                "forced": bool(force and not due),
            }
            certificate = self._sign_certificate(certificate)
            tombstone = {
                "name": policy.name,
                "tombstone": True,
                "type": policy.type,
                "tenant": policy.tenant,
                "region": policy.region,
                "versions": versions,
                "latest_version": policy.latest_version,
                "destroyed_at": certificate["destroyed_at"],
                "purge_protection": policy.purge_protection,
                "certificate": certificate,
            }
            self._storage.put(KEYS_PREFIX + policy.name, _canonical(tombstone))
            return certificate

    def redestroy(self, certificate: Mapping[str, Any]) -> bool:
        """After a restore from a backup older than a destruction: put back the tombstone ``certificate`` (this
        vault's deletion certificate of the key, from the register of destroyed keys) describes, erasing the key's
        restored material. No state or purge-protection check: the key was destroyed already. True when a live key
        was erased; False when it is a tombstone already or absent.

        The caller vouches for where ``certificate`` comes from (the register that carries it is signed by the root
        namespace's certificate key, checked by service/vaultregister.py); this namespace's own certificate key may
        be younger than the restored storage. Here it must be whole and name the tenant of the key it erases."""
        if not verify_deletion_certificate(certificate):
            raise VaultInvalidRequest("the deletion certificate is altered")
        name = self._check_name(str(certificate["key_name"]))
        with self._lock:
            raw = self._raw(name)
            if raw is None or raw.get("tombstone"):
                return False
            if raw.get("tenant") != certificate.get("tenant"):
                raise VaultInvalidRequest(f"the deletion certificate of {name} names another tenant's key")
            tombstone = {
                "name": name,
                "tombstone": True,
                "type": certificate.get("key_type"),
                "tenant": certificate.get("tenant"),
                "region": certificate.get("region"),
                "versions": list(certificate.get("versions") or []),
                "latest_version": certificate.get("latest_version", 0),
                "destroyed_at": certificate.get("destroyed_at"),
                "purge_protection": bool(raw.get("purge_protection")),
                "certificate": dict(certificate),
            }
            self._storage.put(KEYS_PREFIX + name, _canonical(tombstone))
            return True

    def deletion_certificate(self, name: str) -> dict[str, Any]:
        """The certificate issued when ``name`` was destroyed."""
        name = self._check_name(name)
        raw = self._raw(name)
        if raw is None or not raw.get("tombstone"):
            raise TransitKeyNotFound(f"no destroyed key named {name}")
        certificate = raw["certificate"]
        assert isinstance(certificate, dict)
        return certificate

    def _cert_key(self) -> tuple[bytes, str]:
        raw = self._storage.get(CERT_KEY_PATH)
        if raw is None:
            with self._lock:
                raw = self._storage.get(CERT_KEY_PATH)
                if raw is None:
                    private = prims.ed25519_generate()
                    entry = {
                        "type": "ed25519",
                        "private_key": _b64(private),
                        "public_key": _b64(prims.ed25519_public(private)),
                        "created_time": rfc3339(self._clock()),
                    }
                    raw = _canonical(entry)
                    self._storage.put(CERT_KEY_PATH, raw)
        entry = json.loads(raw)
        return base64.b64decode(entry["private_key"]), entry["public_key"]

    def deletion_certificate_public_key(self) -> str:
        """The base64 Ed25519 public key that signs this vault's deletion certificates (created on first use)."""
        return self._cert_key()[1]

    def sign_certificate(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``body`` signed with this engine's certificate key (the scheme: keys/certificates.py)."""
        return self._sign_certificate(dict(body))

    def _sign_certificate(self, body: dict[str, Any]) -> dict[str, Any]:
        private, public = self._cert_key()
        body = dict(body)
        body["signing_public_key"] = public
        body["signing_key_id"] = hashlib.sha256(base64.b64decode(public)).hexdigest()[:16]
        body["signature"] = _b64(prims.ed25519_sign(private, _canonical(body)))
        return body

    def verify_deletion_certificate(self, cert: Mapping[str, Any]) -> bool:
        """True when ``cert`` was issued (and left unaltered) by this vault's certificate key."""
        return verify_deletion_certificate(cert, self.deletion_certificate_public_key())
