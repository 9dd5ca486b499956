"""The vault's storage contract and an in-memory implementation for tests.

Physical storage (the ``vault_entries`` table, :class:`MemoryStorage`) is untrusted: it sees only
what the barrier hands it, i.e. ciphertext, plus the seal's own ``core/`` entries, which are
encrypted by the unseal key or the root key themselves (``core/seal-config`` is plaintext metadata).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Protocol

__all__ = ["MemoryStorage", "PrefixedStorage", "VaultStorage", "immediate_children", "walk"]


class VaultStorage(Protocol):
    """Key/value storage addressed by ``/``-separated paths (Vault's ``physical.Backend``).

    Contract for every implementation:

    * ``get`` returns the stored bytes, or ``None`` when the path holds nothing.
    * ``put`` creates or overwrites; ``delete`` is idempotent.
    * ``list(prefix)`` returns the immediate children of ``prefix``, sorted: the rest of each path
      after ``prefix`` up to and including its next ``/`` (a folder, e.g. ``"sub/"``), or the whole
      rest for a leaf (``"k1"``). An empty prefix lists the top level; nothing found is ``[]``.
    * Safe to call from several threads at once; a single call is atomic.
    """

    def get(self, path: str) -> bytes | None:
        """The value at ``path``, or ``None``."""
        ...

    def put(self, path: str, value: bytes) -> None:
        """Store ``value`` at ``path``, replacing any previous value."""
        ...

    def delete(self, path: str) -> None:
        """Remove ``path``; a missing path is not an error."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Immediate children of ``prefix``, sorted; folders end with ``/``."""
        ...


def immediate_children(paths: Iterable[str], prefix: str) -> list[str]:
    """Vault list semantics over an iterable of full paths (shared by the implementations)."""
    children: set[str] = set()
    for path in paths:
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix) :]
        if not rest:
            continue
        head, sep, _tail = rest.partition("/")
        children.add(head + sep)
    return sorted(children)


class MemoryStorage(VaultStorage):
    """A thread-safe in-memory :class:`VaultStorage` (tests and throwaway dev vaults).

    Values are copied in and out, so a caller mutating a buffer after ``put`` changes nothing stored.
    :meth:`items` exposes a snapshot of everything stored, for tests that scan for leaked secrets.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, bytes] = {}

    def get(self, path: str) -> bytes | None:
        with self._lock:
            return self._data.get(path)

    def put(self, path: str, value: bytes) -> None:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError("value must be bytes")
        with self._lock:
            self._data[path] = bytes(value)

    def delete(self, path: str) -> None:
        with self._lock:
            self._data.pop(path, None)

    def list(self, prefix: str) -> list[str]:
        with self._lock:
            paths = list(self._data)
        return immediate_children(paths, prefix)

    def items(self) -> dict[str, bytes]:
        """A snapshot copy of every stored path and value."""
        with self._lock:
            return dict(self._data)


class PrefixedStorage(VaultStorage):
    """A :class:`VaultStorage` view of ``inner`` under ``prefix`` (a vault namespace's own subtree).

    Every path is ``prefix + path`` in ``inner``; nothing outside the prefix can be read, written or listed, so an
    engine built over it cannot reach another namespace's entries. Thread-safety is ``inner``'s.
    """

    def __init__(self, inner: VaultStorage, prefix: str) -> None:
        if not prefix.endswith("/") or prefix.startswith("/") or "//" in prefix:
            raise ValueError("prefix must be a relative folder path ending in '/'")
        self._inner = inner
        self.prefix = prefix

    def _path(self, path: str) -> str:
        if path.startswith("/") or ".." in path.split("/"):
            raise ValueError("invalid storage path")
        return self.prefix + path

    def get(self, path: str) -> bytes | None:
        return self._inner.get(self._path(path))

    def put(self, path: str, value: bytes) -> None:
        self._inner.put(self._path(path), value)

    def delete(self, path: str) -> None:
        self._inner.delete(self._path(path))

    def list(self, prefix: str) -> list[str]:
        return self._inner.list(self._path(prefix))


def walk(storage: VaultStorage, prefix: str = "") -> list[str]:
    """Every leaf path under ``prefix`` (depth first, sorted), through ``list``."""
    found: list[str] = []
    for child in storage.list(prefix):
        if child.endswith("/"):
            found.extend(walk(storage, prefix + child))
        else:
            found.append(prefix + child)
    return found
