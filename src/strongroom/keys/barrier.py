"""The security barrier: every vault entry is AES-256-GCM sealed before it reaches physical storage.

Key hierarchy below the seal (see docs/VAULT-DESIGN.md)::

    root key (32 B) --seal_small(aad=b"core/keyring")--> physical "core/keyring"
        keyring = [(term 1, key 1, installed), (term 2, key 2, installed), ...]
        the newest term encrypts; every term decrypts.

Wire formats, byte by byte (all integers big-endian):

* keyring plaintext: ``b"SRK1" | u32 count | count x (u32 term | u64 install_time_us | key[32])``,
  terms strictly increasing from 1; stored as ``seal_small(root_key, plaintext, aad=b"core/keyring")``.
* entry: ``b"SRB1" | u32 term | seal_small(key_for_term, value, aad=path.encode())``; binding the
  path as associated data means an entry moved to another path no longer opens.

Physical storage is untrusted: it sees only those two forms. Paths under ``core/`` belong to the seal
layer and are refused here. While sealed the barrier holds no key and refuses every operation with
:class:`KeyStoreSealed`; :meth:`Barrier.seal` overwrites every key buffer before dropping it.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from strongroom.core.errors import (
    DecryptionFailed,
    InvalidKeyMaterial,
    InvalidRequest,
    KeyStoreSealed,
    VaultAlreadyInitialized,
    VaultNotInitialized,
)
from strongroom.crypto import open_small, random_bytes, seal_small
from strongroom.keys.storage import VaultStorage

__all__ = [
    "ENTRY_MAGIC",
    "KEYRING_PATH",
    "MAX_PATH_BYTES",
    "RESERVED_PREFIX",
    "Barrier",
    "KeyStatus",
]

log = logging.getLogger("strongroom.keys.barrier")

KEY_LEN = 32
ENTRY_MAGIC = b"SRB1"
KEYRING_MAGIC = b"SRK1"
KEYRING_PATH = "core/keyring"
KEYRING_AAD = KEYRING_PATH.encode()
RESERVED_PREFIX = "core/"
#: Paths are at most this many UTF-8 bytes (the physical table's key column).
MAX_PATH_BYTES = 512

_ENTRY_HEADER = struct.Struct(">4sI")
_KEYRING_HEADER = struct.Struct(">4sI")
_KEYRING_ITEM = struct.Struct(">IQ32s")
_MAX_TERM = 0xFFFFFFFF


@dataclass(frozen=True)
class KeyStatus:
    """The barrier's active encryption key: its term and when it was installed (Vault's sys/key-status)."""

    term: int
    install_time: datetime


class _TermKey:
    """One keyring entry. The key lives in a bytearray so that :meth:`wipe` can overwrite it."""

    __slots__ = ("installed_us", "key", "term")

    def __init__(self, term: int, key: bytearray, installed_us: int) -> None:
        self.term = term
        self.key = key
        self.installed_us = installed_us

    def wipe(self) -> None:
        self.key[:] = bytes(len(self.key))

    def __repr__(self) -> str:
        return f"_TermKey(term={self.term}, key=<redacted>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("barrier keys cannot be pickled or copied")


def _reject(reason: str) -> NoReturn:
    log.debug("barrier rejected an entry: %s", reason)
    raise DecryptionFailed()


def _root_key_buffer(root_key: bytes | bytearray) -> bytearray:
    if not isinstance(root_key, bytes | bytearray) or len(root_key) != KEY_LEN:
        raise InvalidKeyMaterial(f"root key must be {KEY_LEN} bytes")
    return bytearray(root_key)


def _encode_keyring(keyring: Sequence[_TermKey]) -> bytearray:
    out = bytearray(_KEYRING_HEADER.pack(KEYRING_MAGIC, len(keyring)))
    for entry in keyring:
        out += _KEYRING_ITEM.pack(entry.term, entry.installed_us, bytes(entry.key))
    return out


def _decode_keyring(plain: bytes) -> list[_TermKey]:
    if len(plain) < _KEYRING_HEADER.size:
        _reject("keyring too short")
    magic, count = _KEYRING_HEADER.unpack_from(plain, 0)
    if magic != KEYRING_MAGIC:
        _reject("keyring magic")
    if count < 1 or len(plain) != _KEYRING_HEADER.size + count * _KEYRING_ITEM.size:
        _reject("keyring length")
    keyring: list[_TermKey] = []
    previous = 0
    for i in range(count):
        term, installed_us, key = _KEYRING_ITEM.unpack_from(plain, _KEYRING_HEADER.size + i * _KEYRING_ITEM.size)
        if term <= previous:
            _reject("keyring terms out of order")
        previous = term
        keyring.append(_TermKey(term, bytearray(key), installed_us))
    return keyring


class Barrier(VaultStorage):
    """:class:`VaultStorage` that encrypts every value under a rotating keyring (Vault's AESGCMBarrier).

    Contract: ``get``/``put``/``delete``/``list`` behave as the physical storage's do, for paths
    outside ``core/``; values reach the physical storage only as entries (see the module doc).
    Any integrity failure of an entry or of the keyring is one opaque :class:`DecryptionFailed`.
    Every call while sealed raises :class:`KeyStoreSealed`. Thread-safe: seal, unseal and rotate
    may race with reads and writes; each call sees one consistent keyring.
    """

    def __init__(self, physical: VaultStorage, *, clock: Callable[[], float] = time.time) -> None:
        self._physical = physical
        self._clock = clock
        self._lock = threading.RLock()
        self._root_key: bytearray | None = None
        self._keyring: list[_TermKey] = []

    def __repr__(self) -> str:
        return f"Barrier(sealed={self.sealed})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Barrier cannot be pickled or copied")

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def sealed(self) -> bool:
        """True while no key is held (initial state, and after :meth:`seal`)."""
        with self._lock:
            return self._root_key is None

    def initialized(self) -> bool:
        """True once a keyring exists in physical storage."""
        return self._physical.get(KEYRING_PATH) is not None

    def initialize(self, root_key: bytes | bytearray) -> None:
        """Create the keyring (term 1, a fresh random key) under ``root_key``; the barrier stays sealed.

        Raises :class:`VaultAlreadyInitialized` if a keyring exists already.
        """
        root = _root_key_buffer(root_key)
        try:
            with self._lock:
                if self.initialized():
                    raise VaultAlreadyInitialized("Vault is already initialized")
                first = _TermKey(1, bytearray(random_bytes(KEY_LEN)), self._now_us())
                try:
                    self._write_keyring(root, [first])
                finally:
                    first.wipe()
        finally:
            root[:] = bytes(KEY_LEN)

    def unseal(self, root_key: bytes | bytearray) -> None:
        """Load the keyring with ``root_key``. A no-op when already unsealed.

        Raises :class:`VaultNotInitialized` without a keyring, :class:`DecryptionFailed` when
        ``root_key`` does not open it (wrong key or tampered keyring); the barrier stays sealed then.
        """
        root = _root_key_buffer(root_key)
        with self._lock:
            if self._root_key is not None:
                root[:] = bytes(KEY_LEN)
                return
            sealed_ring = self._physical.get(KEYRING_PATH)
            if sealed_ring is None:
                root[:] = bytes(KEY_LEN)
                raise VaultNotInitialized("Vault is not initialized")
            try:
                keyring = _decode_keyring(open_small(bytes(root), sealed_ring, KEYRING_AAD))
            except BaseException:
                root[:] = bytes(KEY_LEN)
                raise
            self._root_key = root
            self._keyring = keyring

    def seal(self) -> None:
        """Overwrite and drop every key held (root key and keyring). Idempotent."""
        with self._lock:
            for entry in self._keyring:
                entry.wipe()
            self._keyring = []
            if self._root_key is not None:
                self._root_key[:] = bytes(len(self._root_key))
            self._root_key = None

    def rotate(self) -> int:
        """Install a new key term online and return it. New writes use it; older terms still decrypt.

        The keyring is persisted before the new term is used, so a failed write changes nothing.
        """
        with self._lock:
            root = self._require_unsealed()
            newest = self._keyring[-1].term
            if newest >= _MAX_TERM:
                raise InvalidRequest("the keyring has no terms left")
            entry = _TermKey(newest + 1, bytearray(random_bytes(KEY_LEN)), self._now_us())
            try:
                self._write_keyring(root, [*self._keyring, entry])
            except BaseException:
                entry.wipe()
                raise
            self._keyring.append(entry)
            return entry.term

    def key_info(self) -> KeyStatus:
        """The active term and its install time (UTC)."""
        with self._lock:
            self._require_unsealed()
            active = self._keyring[-1]
            return KeyStatus(active.term, datetime.fromtimestamp(active.installed_us / 1_000_000, UTC))

    # --- VaultStorage -----------------------------------------------------------------------

    def get(self, path: str) -> bytes | None:
        """Decrypt the entry at ``path``; ``None`` when absent, :class:`DecryptionFailed` when tampered."""
        aad = _entry_path(path)
        self._check_unsealed()
        raw = self._physical.get(path)
        if raw is None:
            return None
        if len(raw) < _ENTRY_HEADER.size:
            _reject("entry too short")
        magic, term = _ENTRY_HEADER.unpack_from(raw, 0)
        if magic != ENTRY_MAGIC:
            _reject("entry magic")
        with self._lock:
            self._require_unsealed()
            key = self._key_for_term(term)
        return open_small(key, raw[_ENTRY_HEADER.size :], aad)

    def put(self, path: str, value: bytes) -> None:
        """Encrypt ``value`` under the active term and store it at ``path``."""
        aad = _entry_path(path)
        if not isinstance(value, bytes | bytearray | memoryview):
            raise InvalidRequest("value must be bytes")
        with self._lock:
            self._require_unsealed()
            active = self._keyring[-1]
            term, key = active.term, bytes(active.key)
        self._physical.put(path, _ENTRY_HEADER.pack(ENTRY_MAGIC, term) + seal_small(key, bytes(value), aad))

    def delete(self, path: str) -> None:
        """Remove the entry at ``path`` (idempotent)."""
        _entry_path(path)
        self._check_unsealed()
        self._physical.delete(path)

    def list(self, prefix: str) -> list[str]:
        """Immediate children of ``prefix`` (``""`` or ending with ``/``); ``core/`` is never listed."""
        if not isinstance(prefix, str) or (prefix and not prefix.endswith("/")):
            raise InvalidRequest("a list prefix must be empty or end with '/'")
        if prefix:
            _entry_path(prefix[:-1])
        self._check_unsealed()
        children = self._physical.list(prefix)
        if not prefix:
            children = [c for c in children if c != RESERVED_PREFIX]
        return children

    # --- internals --------------------------------------------------------------------------

    def _now_us(self) -> int:
        return int(self._clock() * 1_000_000)

    def _check_unsealed(self) -> None:
        with self._lock:
            self._require_unsealed()

    def _require_unsealed(self) -> bytearray:
        if self._root_key is None:
            raise KeyStoreSealed()
        return self._root_key

    def _key_for_term(self, term: int) -> bytes:
        for entry in self._keyring:
            if entry.term == term:
                return bytes(entry.key)
        _reject(f"unknown key term {term}")

    def _write_keyring(self, root: bytearray, keyring: Sequence[_TermKey]) -> None:
        plain = _encode_keyring(keyring)
        try:
            self._physical.put(KEYRING_PATH, seal_small(bytes(root), bytes(plain), KEYRING_AAD))
        finally:
            plain[:] = bytes(len(plain))


def _entry_path(path: str) -> bytes:
    """Validate a barrier path and return it as the entry's associated data."""
    if not isinstance(path, str) or not path:
        raise InvalidRequest("path must be a non-empty string")
    if path.startswith(RESERVED_PREFIX) or path == RESERVED_PREFIX.rstrip("/"):
        raise InvalidRequest("paths under core/ are reserved")
    if path.startswith("/") or path.endswith("/"):
        raise InvalidRequest("path must not start or end with '/'")
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest("path must be valid UTF-8") from None
    if len(encoded) > MAX_PATH_BYTES:
        raise InvalidRequest(f"path must be at most {MAX_PATH_BYTES} bytes")
    if "\x00" in path:
        raise InvalidRequest("path must not contain NUL")
    return encoded
