"""password resets: forgotten passwords reset by a link sent by e-mail

One row per request of the forgot-password page (the unknown logins' too, so that the
limit per client address counts them); the link's secret is stored only as its hash, and
made by the job that sends the e-mail.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
# 0014 is another branch's; the lead rebases this onto it at the merge.
down_revision: str | None = "0014"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("portal_environment_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=True),
        sa.Column("secret_hash", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_password_resets_account_id_accounts",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["portal_environment_id"],
            ["environments.id"],
            name="fk_password_resets_portal_environment_id_environments",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_password_resets"),
        sa.UniqueConstraint("public_id", name="uq_password_resets_public_id"),
    )
    op.create_index(
        "ix_password_resets_account_id_requested_at",
        "password_resets",
        ["account_id", "requested_at"],
    )
    op.create_index(
        "ix_password_resets_address_requested_at",
        "password_resets",
        ["address", "requested_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_password_resets_address_requested_at", table_name="password_resets")
    op.drop_index("ix_password_resets_account_id_requested_at", table_name="password_resets")
    op.drop_table("password_resets")
