"""Time travel for the e2e tests: move the stored timestamps of some rows into the past, as if that much time had
gone by. The server judges expiry, gag ends and retries from stored timestamps, so this is how a test lets 12 hours
pass without waiting (the server's SQLite database is written beside it; WAL and busy timeouts make that safe)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, update

from strongroom.metadata.models import UTCDateTime


def age(data_dir: Path, model: Any, hours: float, only: tuple[str, ...] = (), **where: Any) -> int:
    """Shift every timestamp column (or those named in ``only``) of the ``model`` rows matching ``where``
    (column=value) back by ``hours``; how many rows."""
    table = model.__table__
    engine = create_engine(f"sqlite:///{data_dir / 'strongroom.db'}", connect_args={"timeout": 30})
    try:
        cols = [c for c in table.c if isinstance(c.type, UTCDateTime) and (not only or c.name in only)]
        keys = [table.c[name] == value for name, value in where.items()]
        shift = dt.timedelta(hours=hours)
        with engine.begin() as conn:
            rows = conn.execute(select(*table.primary_key.columns, *cols).where(*keys)).all()
            npk = len(table.primary_key.columns)
            for row in rows:
                pk = [c == v for c, v in zip(table.primary_key.columns, row[:npk], strict=True)]
                values = {c.name: (v - shift if v is not None else None) for c, v in zip(cols, row[npk:], strict=True)}
                conn.execute(update(table).where(*pk).values(**values))
        return len(rows)
    finally:
        engine.dispose()
