"""bucket CORS configurations (PutBucketCors / GetBucketCors / DeleteBucketCors)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-20 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from strongroom.metadata.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bucket_cors",
        sa.Column("bucket_id", sa.String(length=36), nullable=False),
        sa.Column("configuration", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["bucket_id"], ["buckets.id"], name=op.f("fk_bucket_cors_bucket_id_buckets")),
        sa.PrimaryKeyConstraint("bucket_id", name=op.f("pk_bucket_cors")),
    )


def downgrade() -> None:
    op.drop_table("bucket_cors")
