"""device authorizations (RFC 8628) and integrations' API keys

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "device_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_code_hash", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("workstation", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_polled_at", _WHEN, nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("binding_hash", sa.String(length=64), nullable=True),
        sa.Column("second_factor_done", sa.Boolean(), nullable=False),
        sa.Column("decided_at", _WHEN, nullable=True),
        sa.Column("denial", sa.Text(), nullable=True),
        sa.Column("access_public_id", sa.String(length=32), nullable=True),
        sa.Column("access_hash", sa.String(length=64), nullable=True),
        sa.Column("access_expires_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_device_grants_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_grants")),
        sa.UniqueConstraint("device_code_hash", name=op.f("uq_device_grants_device_code_hash")),
        sa.UniqueConstraint("user_code_hash", name=op.f("uq_device_grants_user_code_hash")),
        sa.UniqueConstraint("access_public_id", name=op.f("uq_device_grants_access_public_id")),
    )
    op.create_index("ix_device_grants_address_created", "device_grants", ["address", "created_at"])
    op.create_index("ix_device_grants_expires_at", "device_grants", ["expires_at"])
    op.create_table(
        "integration_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("last_used_at", _WHEN, nullable=True),
        sa.Column("revoked_at", _WHEN, nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_integration_keys_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_keys")),
        sa.UniqueConstraint("public_id", name=op.f("uq_integration_keys_public_id")),
    )
    op.create_index("ix_integration_keys_environment_id", "integration_keys", ["environment_id"])


def downgrade() -> None:
    op.drop_index("ix_integration_keys_environment_id", table_name="integration_keys")
    op.drop_table("integration_keys")
    op.drop_index("ix_device_grants_expires_at", table_name="device_grants")
    op.drop_index("ix_device_grants_address_created", table_name="device_grants")
    op.drop_table("device_grants")
