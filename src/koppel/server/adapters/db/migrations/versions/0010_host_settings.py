"""host settings: the host's identity and the public address its server announced

``koppel-admin`` reads the address agents use from here (the server records it at every
start) instead of assuming its own default, and ``check`` probes each environment's
recorded address for the host identity to prove it reaches this host.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 16:30:00.000000
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "host_settings",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=2000), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_host_settings")),
    )
    # The identity is made here, once, so that replicas starting together never race.
    op.bulk_insert(
        table,
        [{"name": "host_id", "value": secrets.token_hex(16), "changed_at": datetime.now(UTC)}],
    )


def downgrade() -> None:
    op.drop_table("host_settings")
