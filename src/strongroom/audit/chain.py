"""Appending to hash chains inside a database transaction.

A chain is extended under its head row's lock (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's writing
transactions hold the database's write lock from their start), so every gateway and the vault extend it in one
order, and an entry commits or rolls back with the transaction that carries it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from strongroom.audit.entry import ZERO, canonical, entry_hash
from strongroom.metadata.models import AuditCheckpoint, AuditEntry, AuditHead

HEADS = cast(Table, AuditHead.__table__)
ENTRIES = cast(Table, AuditEntry.__table__)
CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)

_LOCK_HEAD = (
    select(HEADS.c.size, HEADS.c.head, HEADS.c.checkpoint_size)
    .where(HEADS.c.chain == bindparam("chain"))
    .with_for_update()
)
_NEW_HEAD = {"chain": "", "size": 0, "head": ZERO, "checkpoint_size": 0, "checkpoint_at": 0}
_INSERT_HEAD = {
    "sqlite": sqlite_insert(HEADS).on_conflict_do_nothing(index_elements=["chain"]),
    "postgresql": pg_insert(HEADS).on_conflict_do_nothing(index_elements=["chain"]),
}
_INSERT_ENTRY = insert(ENTRIES)
_UPDATE_HEAD = (
    update(HEADS)
    .where(HEADS.c.chain == bindparam("b_chain"))
    .values(size=bindparam("b_size"), head=bindparam("b_head"))
)


class Tx(Protocol):
    """The part of a transaction appending needs (metadata.repository's RawTransaction and ConnTx)."""

    dialect: Any

    def execute(self, stmt: Any, params: dict[str, Any] | list[dict[str, Any]]) -> None: ...

    def row(self, stmt: Any, params: dict[str, Any]) -> tuple[Any, ...] | None: ...


@dataclass
class Pending:
    """An entry waiting for its place: its chains and fields (see entry.fields_of), and the columns stored beside
    it for filtering."""

    chains: list[str]
    fields: dict[str, Any]
    at_us: int
    principal: str
    action: str
    resource: str
    outcome: str


def append(tx: Tx, entries: Iterable[Pending]) -> dict[str, int]:
    """Append ``entries`` (each to every one of its chains), in the caller's transaction. Returns, per chain, how
    many entries it holds past its last checkpoint."""
    past: dict[str, int] = {}
    by_chain: dict[str, list[Pending]] = {}
    for e in entries:
        for chain in e.chains:
            by_chain.setdefault(chain, []).append(e)
    for chain in sorted(by_chain):  # one lock order: two writers never wait on each other's heads
        head = tx.row(_LOCK_HEAD, {"chain": chain})
        if head is None:
            tx.execute(_INSERT_HEAD[tx.dialect.name], {**_NEW_HEAD, "chain": chain})
            head = tx.row(_LOCK_HEAD, {"chain": chain})
            assert head is not None
        size, prev, checkpointed = int(head[0]), str(head[1]), int(head[2])
        rows = []
        for e in by_chain[chain]:
            body = {**e.fields, "chain": chain, "seq": size, "prev": prev}
            digest = entry_hash(body)
            body["hash"] = digest
            rows.append(
                {
                    "chain": chain,
                    "seq": size,
                    "at": e.at_us,
                    "principal": e.principal[:256],
                    "action": e.action[:128],
                    "resource": e.resource,
                    "outcome": e.outcome,
                    "hash": digest,
                    "body": canonical(body).decode("utf-8"),
                }
            )
            size, prev = size + 1, digest
        tx.execute(_INSERT_ENTRY, rows)
        tx.execute(_UPDATE_HEAD, {"b_chain": chain, "b_size": size, "b_head": prev})
        past[chain] = size - checkpointed
    return past
