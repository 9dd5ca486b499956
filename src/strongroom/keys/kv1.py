"""The KV version 1 secrets engine, as HashiCorp Vault's ``kv`` (version 1) behaves: one unversioned value per path.

A write replaces the whole value; a delete removes it for good; a list shows the keys one level below a path
(folders end in "/"). Storage (the mount's own, through the barrier): ``data/<path>`` holds the value as JSON.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from strongroom.core.errors import VaultInvalidRequest
from strongroom.keys.storage import VaultStorage

__all__ = ["KVv1Engine"]

MAX_PATH = 1024


def _path(path: str) -> str:
    p = path.strip("/")
    if not p or len(p) > MAX_PATH or ".." in p.split("/") or "//" in p:
        raise VaultInvalidRequest(f"invalid secret path {path!r}")
    return p


class KVv1Engine:
    """Unversioned secrets under one mount; safe to share between threads."""

    def __init__(self, storage: VaultStorage) -> None:
        self.storage = storage
        self._lock = threading.Lock()

    def read(self, path: str) -> dict[str, Any] | None:
        raw = self.storage.get("data/" + _path(path))
        return None if raw is None else dict(json.loads(raw))

    def write(self, path: str, data: dict[str, Any]) -> None:
        if not data:
            raise VaultInvalidRequest("no data provided")
        with self._lock:
            self.storage.put("data/" + _path(path), json.dumps(data, separators=(",", ":")).encode())

    def delete(self, path: str) -> None:
        with self._lock:
            self.storage.delete("data/" + _path(path))

    def list(self, path: str) -> list[str]:
        p = path.strip("/")
        return sorted(self.storage.list("data/" + (p + "/" if p else "")))

    def is_empty(self) -> bool:
        return not self.storage.list("data/")
