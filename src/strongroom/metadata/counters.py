"""Shared abuse-limit counters (``rate_counters``): Core statements only, one short transaction per exchange.

Gateways never write per request: ``service/limits.py`` counts in memory and calls :meth:`CounterStore.exchange`
about once a second per active subject, adding its local deltas and reading back the totals of every gateway.
Concurrent-safe across threads and processes: an addition is one ``INSERT ... ON CONFLICT DO UPDATE SET count =
count + delta``, and rows are touched in one fixed order so that PostgreSQL transactions never deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Engine, Table, bindparam, delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from strongroom.metadata.models import RateCounter

COUNTERS = cast(Table, RateCounter.__table__)

#: (scope, subject, window index): one row of ``rate_counters``.
CounterId = tuple[str, str, int]
#: Counters read per statement (SQLite allows 32766 bound parameters; each counter takes three).
READ_BATCH = 1000

_SELECT = select(COUNTERS.c.scope, COUNTERS.c.subject, COUNTERS.c.window_index, COUNTERS.c.count).where(
    tuple_(COUNTERS.c.scope, COUNTERS.c.subject, COUNTERS.c.window_index).in_(bindparam("ids", expanding=True))
)


@dataclass(frozen=True)
class CounterAdd:
    """Add ``delta`` to one counter, creating it (to expire at ``expires_at``, unix seconds) when it is new."""

    scope: str
    subject: str
    window_index: int
    delta: int
    expires_at: int

    @property
    def id(self) -> CounterId:
        return (self.scope, self.subject, self.window_index)


class CounterStore:
    """The ``rate_counters`` table of one metadata database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        stmt: Any = insert(COUNTERS)
        self._upsert = stmt.on_conflict_do_update(
            index_elements=[COUNTERS.c.scope, COUNTERS.c.subject, COUNTERS.c.window_index],
            set_={"count": COUNTERS.c.count + stmt.excluded.count},
        )

    def exchange(self, adds: Sequence[CounterAdd], reads: Sequence[CounterId]) -> dict[CounterId, int]:
        """In one transaction: add every delta, then read the totals of ``reads`` (absent counters read as 0)."""
        rows = [
            dict(scope=a.scope, subject=a.subject, window_index=a.window_index, count=a.delta, expires_at=a.expires_at)
            for a in sorted(adds, key=lambda a: a.id)
            if a.delta
        ]
        wanted = sorted(set(reads))
        totals: dict[CounterId, int] = dict.fromkeys(wanted, 0)
        with self.engine.begin() as conn:
            if rows:
                conn.execute(self._upsert, rows)
            for at in range(0, len(wanted), READ_BATCH):
                for scope, subject, window_index, count in conn.execute(_SELECT, {"ids": wanted[at : at + READ_BATCH]}):
                    totals[(scope, subject, int(window_index))] = int(count)
        return totals

    def purge(self, now: int) -> int:
        """Delete the counters that expired before ``now`` (unix seconds); the number deleted."""
        with self.engine.begin() as conn:
            result = conn.execute(delete(COUNTERS).where(COUNTERS.c.expires_at < now))
        return int(getattr(result, "rowcount", 0) or 0)
