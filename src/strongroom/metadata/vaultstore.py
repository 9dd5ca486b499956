"""Physical storage for the key vault in the metadata database (untrusted: the barrier seals every value)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from strongroom.metadata.models import VaultEntry
from strongroom.metadata.repository import Repository, _prefix_upper_bound


class SqlPhysicalStorage:
    """VaultStorage over the vault_entries table. Safe for concurrent use from threads and processes."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo

    def get(self, path: str) -> bytes | None:
        with self._repo.reading() as s:
            row = s.get(VaultEntry, path)
            return None if row is None else bytes(row.value)

    def put(self, path: str, value: bytes) -> None:
        with self._repo.session() as s:
            insert = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
            stmt = insert(VaultEntry).values(path=path, value=value)
            s.execute(stmt.on_conflict_do_update(index_elements=[VaultEntry.path], set_={"value": value}))

    def delete(self, path: str) -> None:
        with self._repo.session() as s:
            s.execute(delete(VaultEntry).where(VaultEntry.path == path))

    def list(self, prefix: str) -> list[str]:
        """Immediate children of prefix (Vault semantics): leaf names, and folders ending with '/'."""
        with self._repo.reading() as s:
            q = select(VaultEntry.path)
            if prefix:
                q = q.where(VaultEntry.path >= prefix)
                upper = _prefix_upper_bound(prefix)
                if upper is not None:
                    q = q.where(VaultEntry.path < upper)
            children: set[str] = set()
            for (path,) in s.execute(q):
                rest = path[len(prefix) :]
                if not rest:
                    continue
                head, sep, _tail = rest.partition("/")
                children.add(head + sep)
            return sorted(children)
