"""uploads (tus resumable uploads)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 00:52:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=400), nullable=False),
        sa.Column("media_type", sa.String(length=200), nullable=False),
        sa.Column("declared_length", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("blob_key", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_uploads_environment_id_environments"),
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"], ["memberships.id"], name=op.f("fk_uploads_membership_id_memberships")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
    )
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_uploads_environment_id"), ["environment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_uploads_membership_id"), ["membership_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_uploads_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_uploads_expires_at"))
        batch_op.drop_index(batch_op.f("ix_uploads_membership_id"))
        batch_op.drop_index(batch_op.f("ix_uploads_environment_id"))
    op.drop_table("uploads")
