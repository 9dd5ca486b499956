"""backup leases: a backup in progress holds the sweeper back from blobs its snapshot may reference

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from strongroom.metadata.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup_leases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("held_since", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backup_leases")),
    )


def downgrade() -> None:
    op.drop_table("backup_leases")
