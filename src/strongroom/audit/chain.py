"""Appending to hash chains inside a database transaction.

A chain is extended under its head row's lock (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's writing
transactions hold the database's write lock from their start), so every gateway and the vault extend it in one
order, and an entry commits or rolls back with the transaction that carries it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from sqlalchemy import Table

from strongroom.audit.entry import ZERO, canonical
from strongroom.metadata.models import AuditCheckpoint, AuditEntry, AuditHead

HEADS = cast(Table, AuditHead.__table__)
ENTRIES = cast(Table, AuditEntry.__table__)
CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)

# Driver-level SQL ("{p}": the driver's placeholder): every value is a plain int or str, so the statements skip
# SQLAlchemy's per-execution parameter processing (they run on every request).
_SQL = {
    "lock": "SELECT size, head, checkpoint_size FROM audit_heads WHERE chain = {p}",
    "new_head": "INSERT INTO audit_heads (chain, size, head, checkpoint_size, checkpoint_at) "
    "VALUES ({p}, 0, {p}, 0, 0) ON CONFLICT (chain) DO NOTHING",
    "insert": "INSERT INTO audit_entries (chain, seq, at, principal, action, resource, outcome, hash, body) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p}, {p}, {p})",
    "advance": "UPDATE audit_heads SET size = {p}, head = {p} WHERE chain = {p}",
}
_DIALECT_SQL: dict[str, dict[str, str]] = {}


def _sql(dialect: Any) -> dict[str, str]:
    got = _DIALECT_SQL.get(dialect.name)
    if got is None:
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        got = {k: v.format(p=mark) for k, v in _SQL.items()}
        if dialect.name == "postgresql":
            got["lock"] += " FOR UPDATE"
        _DIALECT_SQL[dialect.name] = got
    return got


def stored_line(body: str, digest: str) -> str:
    """An entry's export line: its stored canonical body (which excludes its hash) with ``hash`` added."""
    return f'{body[:-1]},"hash":"{digest}"}}'


class Tx(Protocol):
    """The part of a transaction appending needs (metadata.repository's RawTransaction and ConnTx)."""

    dialect: Any

    def driver(self, sql: str, params: Sequence[Any], many: bool = False) -> tuple[Any, ...] | None: ...


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
    sql = _sql(tx.dialect)
    past: dict[str, int] = {}
    by_chain: dict[str, list[Pending]] = {}
    for e in entries:
        for chain in e.chains:
            by_chain.setdefault(chain, []).append(e)
    for chain in sorted(by_chain):  # one lock order: two writers never wait on each other's heads
        head = tx.driver(sql["lock"], (chain,))
        if head is None:
            tx.driver(sql["new_head"], (chain, ZERO))
            head = tx.driver(sql["lock"], (chain,))
            assert head is not None
        size, prev, checkpointed = int(head[0]), str(head[1]), int(head[2])
        rows = []
        for e in by_chain[chain]:
            body = canonical({**e.fields, "chain": chain, "seq": size, "prev": prev})
            digest = hashlib.sha256(body).hexdigest()
            rows.append(
                (
                    chain,
                    size,
                    e.at_us,
                    e.principal[:256],
                    e.action[:128],
                    e.resource,
                    e.outcome,
                    digest,
                    body.decode("utf-8"),
                )
            )
            size, prev = size + 1, digest
        if len(rows) == 1:
            tx.driver(sql["insert"], rows[0])
        else:
            tx.driver(sql["insert"], rows, many=True)
        tx.driver(sql["advance"], (size, prev, chain))
        past[chain] = size - checkpointed
    return past
