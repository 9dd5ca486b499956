"""The seal: initialise the vault, collect unseal keys, unseal and seal it (Vault's ``sys/init``, ``sys/unseal``).

Physical entries the seal owns (outside the barrier, see docs/VAULT-DESIGN.md)::

    core/seal-config   JSON, plaintext: {"type", "secret_shares", "secret_threshold", "version"}
    core/root-key      b"SRR1" | nonce(12) | AES-256-GCM(root key) | tag(16), associated data b"core/root-key"
    core/keyring       owned by the Barrier, encrypted under the root key

Seal types:

* ``shamir``: a random 32-byte unseal key encrypts the root key; it is split into ``n`` shares with
  threshold ``t`` (or handed out whole when ``n == 1``) and never stored. Unsealing collects shares
  through :meth:`SealManager.submit_unseal_key` with Vault's progress / nonce / reset behaviour.
* ``keyfile`` (the embedded default, development grade): the unseal key lives in a 0600 file,
  created on first initialisation; :meth:`SealManager.auto_unseal` unseals without operators.
* ``pkcs11``: the root key is wrapped by an AES-256 key inside an HSM (:class:`Pkcs11Unsealer`).

Auto-unseal types return no keys from :meth:`SealManager.initialize` and report ``t = n = 1``.
The vault is left sealed after initialisation, as Vault does. The root key lives only in the
barrier, in a bytearray overwritten on seal; submitted shares are overwritten once used or reset.
"""

from __future__ import annotations

import hmac
import json
import os
import stat
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NoReturn, Protocol

from strongroom import __version__
from strongroom.core.errors import (
    DecryptionFailed,
    InvalidRequest,
    InvalidUnsealKey,
    SealDeviceError,
    SealMismatch,
    VaultAlreadyInitialized,
    VaultNotInitialized,
)
from strongroom.crypto import open_small, random_bytes, seal_small
from strongroom.keys import shamir
from strongroom.keys.barrier import KEYRING_PATH, Barrier
from strongroom.keys.rootfile import ROOT_KEY_LEN, load_or_create_root_file
from strongroom.keys.storage import VaultStorage

__all__ = [
    "ROOT_KEY_PATH",
    "SEAL_CONFIG_PATH",
    "AutoUnsealer",
    "InitResult",
    "KeyfileUnsealer",
    "SealManager",
    "SealStatus",
]

SEAL_CONFIG_PATH = "core/seal-config"
ROOT_KEY_PATH = "core/root-key"
ROOT_KEY_AAD = ROOT_KEY_PATH.encode()
ROOT_KEY_MAGIC = b"SRR1"
KEY_LEN = 32
SEAL_TYPES = ("shamir", "keyfile", "pkcs11")

#: Vault's wording for a combined key that does not open the root key.
INVALID_KEY_MESSAGE = "Unseal failed, invalid key"
NOT_INITIALIZED_MESSAGE = "Vault is not initialized"
ALREADY_INITIALIZED_MESSAGE = "Vault is already initialized"

_TOKEN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_TOKEN_CHARS = 24


@dataclass(frozen=True)
class SealStatus:
    """The ``sys/seal-status`` body: seal type, whether initialised and sealed, threshold ``t`` of ``n``
    shares, unseal ``progress`` of the current attempt and its ``nonce`` ("" when none), server version."""

    type: str
    initialized: bool
    sealed: bool
    t: int
    n: int
    progress: int
    nonce: str
    version: str

    def to_dict(self) -> dict[str, object]:
        """The fields as a JSON-ready dict (Vault's field names)."""
        return asdict(self)


@dataclass(frozen=True, repr=False)
class InitResult:
    """What ``sys/init`` hands out once: the unseal keys (shares) and the initial root token.

    Neither is stored by the seal: the caller shows the keys and registers the token. ``repr`` is redacted.
    """

    keys: list[bytes]
    root_token: str

    def __repr__(self) -> str:
        return f"InitResult(keys=<{len(self.keys)} redacted>, root_token=<redacted>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("an InitResult cannot be pickled or copied")


class AutoUnsealer(Protocol):
    """A device that wraps the root key so the vault can unseal itself (key file, HSM).

    ``wrap`` returns ``nonce | ciphertext | tag`` binding ``aad``; ``unwrap`` reverses it and raises
    :class:`DecryptionFailed` when the blob does not open and :class:`SealDeviceError` when the device
    fails. Implementations are thread-safe and never return plaintext on failure.
    """

    seal_type: str

    def wrap(self, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt ``plaintext`` (the root key) bound to ``aad``."""
        ...

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        """Decrypt a :meth:`wrap` result; fails closed."""
        ...


class KeyfileUnsealer:
    """Auto-unseal from a 0600 file holding the 32-byte unseal key (the embedded default; development only).

    The file is created (0600, fsynced, directory 0700) by the first :meth:`wrap`, i.e. at vault
    initialisation. :meth:`unwrap` never creates it: a missing, mis-sized or group/world-readable
    file is :class:`SealDeviceError`. Warning users loudly that this is development grade is the
    caller's job.
    """

    seal_type = "keyfile"

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)

    @property
    def path(self) -> Path:
        """Where the unseal key lives."""
        return self._path

    def __repr__(self) -> str:
        return f"KeyfileUnsealer({str(self._path)!r})"

    def wrap(self, plaintext: bytes, aad: bytes) -> bytes:
        """Seal ``plaintext`` under the file's key, creating the file on first use."""
        return seal_small(load_or_create_root_file(self._path), plaintext, aad)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        """Open a :meth:`wrap` result with the file's key."""
        return open_small(self._read_key(), blob, aad)

    def _read_key(self) -> bytes:
        try:
            fd = os.open(self._path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            raise SealDeviceError(f"cannot read the unseal key file {self._path}") from exc
        with os.fdopen(fd, "rb") as fh:
            mode = stat.S_IMODE(os.fstat(fh.fileno()).st_mode)
            if mode & 0o077:
                raise SealDeviceError(f"{self._path} must not be readable by group or others (mode {oct(mode)})")
            data = fh.read(ROOT_KEY_LEN + 1)
        if len(data) != ROOT_KEY_LEN:
            raise SealDeviceError(f"{self._path} must hold exactly {ROOT_KEY_LEN} bytes")
        return data


@dataclass(frozen=True)
class _SealConfig:
    type: str
    shares: int
    threshold: int

    def to_json(self) -> bytes:
        body = {"type": self.type, "secret_shares": self.shares, "secret_threshold": self.threshold, "version": 1}
        return json.dumps(body, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> _SealConfig:
        try:
            body = json.loads(raw)
            config = cls(str(body["type"]), int(body["secret_shares"]), int(body["secret_threshold"]))
        except (ValueError, TypeError, KeyError):
            raise DecryptionFailed("the stored seal configuration is corrupt") from None
        if config.type not in SEAL_TYPES or not 1 <= config.threshold <= config.shares <= shamir.MAX_SHARES:
            raise DecryptionFailed("the stored seal configuration is corrupt")
        return config


def validate_shares(shares: int, threshold: int) -> None:
    """Vault's seal-config rules; raises :class:`InvalidRequest` with Vault's messages."""
    for name, value in (("shares", shares), ("threshold", threshold)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest(f"{name} must be an integer")
    if shares < 1:
        raise InvalidRequest("shares must be at least one")
    if threshold < 1:
        raise InvalidRequest("threshold must be at least one")
    if shares > 1 and threshold == 1:
        raise InvalidRequest("threshold must be greater than one for multiple shares")
    if shares > shamir.MAX_SHARES:
        raise InvalidRequest("shares must be less than 256")
    if threshold > shares:
        raise InvalidRequest("threshold cannot be larger than shares")


def _wipe(buf: bytearray) -> None:
    buf[:] = bytes(len(buf))


class SealManager:
    """Initialise, unseal and seal the vault over a physical :class:`VaultStorage`.

    ``unsealer`` selects auto-unseal (:class:`KeyfileUnsealer`, :class:`Pkcs11Unsealer`); without it
    the seal is ``shamir``. The manager owns the :attr:`barrier` the engines store through. All
    methods are thread-safe. Randomness (keys, shares, nonces, the root token) comes from
    :func:`strongroom.crypto.random_bytes`.
    """

    def __init__(
        self,
        physical: VaultStorage,
        *,
        unsealer: AutoUnsealer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if unsealer is not None and unsealer.seal_type not in SEAL_TYPES[1:]:
            raise InvalidRequest(f"unknown auto-unseal type {unsealer.seal_type!r}")
        self._physical = physical
        self._unsealer = unsealer
        self._barrier = Barrier(physical, clock=clock)
        self._lock = threading.RLock()
        self._config: _SealConfig | None = None
        self._parts: list[bytearray] = []
        self._nonce = ""

    @classmethod
    def with_keyfile(cls, physical: VaultStorage, path: str | Path) -> SealManager:
        """A manager whose unseal key lives in the 0600 file ``path`` (seal type ``keyfile``)."""
        return cls(physical, unsealer=KeyfileUnsealer(path))

    @classmethod
    def with_pkcs11(
        cls, physical: VaultStorage, lib_path: str | Path, token_label: str, pin: str, key_label: str
    ) -> SealManager:
        """A manager whose root key is wrapped by an HSM key (seal type ``pkcs11``)."""
        from strongroom.keys.hsm import Pkcs11Unsealer

        return cls(physical, unsealer=Pkcs11Unsealer(lib_path, token_label, pin, key_label))

    def __repr__(self) -> str:
        return f"SealManager(type={self.seal_type!r}, sealed={self._barrier.sealed})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a SealManager cannot be pickled or copied")

    @property
    def seal_type(self) -> str:
        """``"shamir"``, ``"keyfile"`` or ``"pkcs11"``: the seal this server is configured with."""
        return "shamir" if self._unsealer is None else self._unsealer.seal_type

    @property
    def barrier(self) -> Barrier:
        """The barrier every engine stores through (sealed until the vault is unsealed)."""
        return self._barrier

    @property
    def sealed(self) -> bool:
        """True while the barrier holds no key."""
        return self._barrier.sealed

    # --- status -------------------------------------------------------------------------------

    def status(self) -> SealStatus:
        """The current seal status (cheap: the configuration is cached once initialised)."""
        with self._lock:
            config = self._load_config()
            if config is None:
                return SealStatus(self.seal_type, False, True, 0, 0, 0, "", __version__)
            return SealStatus(
                config.type,
                True,
                self._barrier.sealed,
                config.threshold,
                config.shares,
                len(self._parts),
                self._nonce,
                __version__,
            )

    def initialized(self) -> bool:
        """True once ``core/seal-config`` exists."""
        with self._lock:
            return self._load_config() is not None

    # --- init ---------------------------------------------------------------------------------

    def initialize(self, shares: int = 1, threshold: int = 1) -> InitResult:
        """Initialise the vault and leave it sealed.

        Shamir: a random unseal key is split into ``shares`` with ``threshold`` (Vault's rules:
        ``1 <= threshold <= shares <= 255``, ``threshold >= 2`` when ``shares > 1``; the whole key when
        ``shares == 1``). Auto-unseal types ignore ``shares``/``threshold`` and return no keys.
        A random root key is wrapped at ``core/root-key``, the barrier keyring created under it, and
        ``core/seal-config`` written last (it marks the vault initialised). The root token is random
        (``hvs.`` + 24 characters) and not stored here. Raises :class:`VaultAlreadyInitialized`.
        """
        with self._lock:
            if self.seal_type == "shamir":
                validate_shares(shares, threshold)
                config = _SealConfig("shamir", shares, threshold)
            else:
                config = _SealConfig(self.seal_type, 1, 1)
            if self._load_config() is not None:
                raise VaultAlreadyInitialized(ALREADY_INITIALIZED_MESSAGE)
            if self._physical.get(ROOT_KEY_PATH) is not None or self._physical.get(KEYRING_PATH) is not None:
                raise VaultAlreadyInitialized(
                    "vault storage holds a partial initialization under core/; clear it to initialize again"
                )
            root_key = bytearray(random_bytes(KEY_LEN))
            unseal_key = bytearray(random_bytes(KEY_LEN)) if self._unsealer is None else bytearray()
            try:
                if self._unsealer is None:
                    wrapped = seal_small(bytes(unseal_key), bytes(root_key), ROOT_KEY_AAD)
                    keys = [bytes(unseal_key)] if shares == 1 else shamir.split(bytes(unseal_key), shares, threshold)
                else:
                    wrapped = self._unsealer.wrap(bytes(root_key), ROOT_KEY_AAD)
                    keys = []
                self._physical.put(ROOT_KEY_PATH, ROOT_KEY_MAGIC + wrapped)
                self._barrier.initialize(root_key)
                self._physical.put(SEAL_CONFIG_PATH, config.to_json())
            finally:
                _wipe(root_key)
                _wipe(unseal_key)
            self._config = config
            return InitResult(keys=keys, root_token=_new_root_token())

    # --- unseal -------------------------------------------------------------------------------

    def submit_unseal_key(self, key: bytes | bytearray | None, reset: bool = False) -> SealStatus:
        """One step of Shamir unsealing (Vault's ``PUT sys/unseal``); returns the new status.

        ``reset=True`` discards the shares of the current attempt (and ignores ``key``). Otherwise
        ``key`` is one share (``32 + 1`` bytes; the 32-byte key itself when ``n == 1``). The first
        share of an attempt gets a fresh ``nonce``; a share already given is ignored. When ``t``
        distinct shares are in, they are combined and the root key opened: success unseals; a wrong
        combination raises :class:`InvalidUnsealKey` ("Unseal failed, invalid key") and the attempt
        is reset. Already unsealed: returns the status. Raises :class:`VaultNotInitialized`,
        :class:`SealMismatch` (stored seal is not Shamir), :class:`InvalidRequest` (no key).
        """
        with self._lock:
            config = self._require_config()
            if config.type != "shamir" or self._unsealer is not None:
                if config.type != self.seal_type:
                    raise SealMismatch()
                if isinstance(self._unsealer, KeyfileUnsealer):
                    if key is not None and not reset:
                        return self._unseal_with_keyfile_key(key)
                    raise InvalidRequest(
                        "the keyfile seal unseals with its key file: run `strongroom operator unseal` (no key) "
                        "as the server's user"
                    )
                raise InvalidRequest(f"seal type {config.type} does not take unseal keys; it unseals itself")
            if reset:
                self._reset_progress()
                return self.status()
            if not self._barrier.sealed:
                return self.status()
            if key is None:
                raise InvalidRequest("'key' must be specified in request body as JSON, or 'reset' set to true")
            if not isinstance(key, bytes | bytearray):
                raise InvalidRequest("key must be bytes")
            expected = KEY_LEN if config.shares == 1 else KEY_LEN + shamir.SHARE_OVERHEAD
            if len(key) < expected:
                raise InvalidUnsealKey(f"key is shorter than minimum {expected} bytes")
            if len(key) > expected:
                raise InvalidUnsealKey(f"key is longer than maximum {expected} bytes")
            if any(hmac.compare_digest(bytes(part), bytes(key)) for part in self._parts):
                return self.status()
            if not self._parts:
                self._nonce = str(uuid.UUID(bytes=random_bytes(16), version=4))
            self._parts.append(bytearray(key))
            if len(self._parts) < config.threshold:
                return self.status()
            parts, self._parts, self._nonce = self._parts, [], ""
            try:
                self._unseal_with_parts(config, parts)
            finally:
                for part in parts:
                    _wipe(part)
            return self.status()

    def _unseal_with_keyfile_key(self, key: bytes | bytearray) -> SealStatus:
        """A keyfile vault sealed on purpose (``operator seal``) opens again for whoever shows the key file's
        content: whoever can read the file could start the server anyway. Anything else is an invalid key."""
        assert isinstance(self._unsealer, KeyfileUnsealer)
        if not self._barrier.sealed:
            return self.status()
        if not hmac.compare_digest(bytes(key), self._unsealer._read_key()):
            raise InvalidUnsealKey("Unseal failed, invalid key")
        return self.auto_unseal()

    def auto_unseal(self) -> SealStatus:
        """Unseal with the configured key file or HSM; a no-op when already unsealed.

        Raises :class:`VaultNotInitialized`, :class:`SealMismatch` (the stored seal type differs, or this
        is a Shamir manager), :class:`SealDeviceError` (device unavailable, wrong PIN, missing key) or
        :class:`DecryptionFailed` (the wrapped root key or keyring does not open). Fails closed: the
        vault stays sealed on every error.
        """
        with self._lock:
            config = self._require_config()
            if self._unsealer is None or config.type != self._unsealer.seal_type:
                raise SealMismatch()
            if not self._barrier.sealed:
                return self.status()
            root_key = bytearray(self._unsealer.unwrap(self._wrapped_root_key(), ROOT_KEY_AAD))
            try:
                self._barrier.unseal(root_key)
            finally:
                _wipe(root_key)
            return self.status()

    def seal(self) -> None:
        """Seal: the barrier overwrites and drops every key, and any unseal attempt is discarded. Idempotent."""
        with self._lock:
            self._barrier.seal()
            self._reset_progress()

    # --- internals ----------------------------------------------------------------------------

    def _unseal_with_parts(self, config: _SealConfig, parts: list[bytearray]) -> None:
        if config.shares == 1:
            unseal_key = bytearray(parts[0])
        else:
            try:
                unseal_key = bytearray(shamir.combine([bytes(p) for p in parts]))
            except InvalidRequest as exc:
                raise InvalidUnsealKey(f"failed to compute root key: {exc.message}") from None
        try:
            wrapped = self._wrapped_root_key()
            try:
                root_key = bytearray(open_small(bytes(unseal_key), wrapped, ROOT_KEY_AAD))
            except DecryptionFailed:
                raise InvalidUnsealKey(INVALID_KEY_MESSAGE) from None
            try:
                self._barrier.unseal(root_key)
            finally:
                _wipe(root_key)
        finally:
            _wipe(unseal_key)

    def _wrapped_root_key(self) -> bytes:
        raw = self._physical.get(ROOT_KEY_PATH)
        if raw is None or not raw.startswith(ROOT_KEY_MAGIC):
            raise DecryptionFailed()
        return raw[len(ROOT_KEY_MAGIC) :]

    def _load_config(self) -> _SealConfig | None:
        if self._config is None:
            raw = self._physical.get(SEAL_CONFIG_PATH)
            if raw is not None:
                self._config = _SealConfig.from_json(raw)
        return self._config

    def _require_config(self) -> _SealConfig:
        config = self._load_config()
        if config is None:
            raise VaultNotInitialized(NOT_INITIALIZED_MESSAGE)
        return config

    def _reset_progress(self) -> None:
        for part in self._parts:
            _wipe(part)
        self._parts = []
        self._nonce = ""


def _new_root_token() -> str:
    """``hvs.`` + 24 random base62 characters (~143 bits), drawn without modulo bias."""
    chars: list[str] = []
    while len(chars) < _TOKEN_CHARS:
        for b in random_bytes(32):
            if b < 248 and len(chars) < _TOKEN_CHARS:
                chars.append(_TOKEN_ALPHABET[b % 62])
    return "hvs." + "".join(chars)
