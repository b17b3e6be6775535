"""languages, time zones and e-mail addresses

An account may have an e-mail address (for a forgotten password), a language and a time
zone of its own; an environment has the defaults of its portal for users without one.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 18:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("environments") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("time_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of environments or accounts would
    # trip over the foreign keys that point at them.
    for table, column in (
        ("environments", "time_zone"),
        ("environments", "language"),
        ("accounts", "time_zone"),
        ("accounts", "language"),
        ("accounts", "email"),
    ):
        op.drop_column(table, column)
