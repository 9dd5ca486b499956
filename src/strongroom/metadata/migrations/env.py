"""Alembic environment: runs on the connection the repository passes in (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context

from strongroom.metadata.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via Repository.migrate / strongroom db commands
    raise RuntimeError("run migrations through strongroom.metadata.repository.migrate()")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
