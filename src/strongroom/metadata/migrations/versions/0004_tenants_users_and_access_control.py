"""tenants, users, groups, access keys; bucket and object access control

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 08:00:00

The first tenant, which earlier versions called ``root``, becomes ``default`` (the vault renames its records at
unseal the same way).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import strongroom.metadata.models  # noqa: F401
from strongroom.metadata.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("canonical_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("public_access_block", sa.Text(), nullable=True))
    with op.batch_alter_table("buckets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("policy", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("acl", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("public_access_block", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ownership", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("access_version", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acl", sa.Text(), nullable=True))
    with op.batch_alter_table("multipart_uploads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acl", sa.Text(), nullable=True))
    op.create_table(
        "users",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_users_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_users")),
    )
    op.create_table(
        "user_groups",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("policy", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_user_groups_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_user_groups")),
    )
    op.create_table(
        "group_members",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("group_name", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "group_name", "user_name", name=op.f("pk_group_members")),
    )
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(length=128), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("access_key_id", name=op.f("pk_access_keys")),
    )
    op.create_index("ix_access_keys_user", "access_keys", ["tenant_id", "user_name"], unique=False)
    # the first tenant was called "root": it is "default" now
    conn = op.get_bind()
    old = conn.execute(sa.text("SELECT id, name, created_at FROM tenants WHERE id = 'root'")).first()
    if old is not None:
        conn.execute(
            sa.text("INSERT INTO tenants (id, name, created_at) VALUES ('default', 'default', :ts)"),
            {"ts": old.created_at},
        )
        conn.execute(sa.text("UPDATE buckets SET tenant_id = 'default' WHERE tenant_id = 'root'"))
        conn.execute(sa.text("DELETE FROM tenants WHERE id = 'root'"))


def downgrade() -> None:
    op.drop_index("ix_access_keys_user", table_name="access_keys")
    op.drop_table("access_keys")
    op.drop_table("group_members")
    op.drop_table("user_groups")
    op.drop_table("users")
    with op.batch_alter_table("multipart_uploads", schema=None) as batch_op:
        batch_op.drop_column("acl")
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.drop_column("acl")
    with op.batch_alter_table("buckets", schema=None) as batch_op:
        for name in ("access_version", "ownership", "public_access_block", "acl", "policy"):
            batch_op.drop_column(name)
    with op.batch_alter_table("tenants", schema=None) as batch_op:
        batch_op.drop_column("public_access_block")
        batch_op.drop_column("canonical_id")
