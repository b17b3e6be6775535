"""upload writers: the request appending to an upload, for every replica to see

tus PATCHes to one upload must never append at once. A lock in one process does not stop
a second replica; a claim in the upload's row does (``writer``, ``writer_until``).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("writer", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("writer_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("writer_until")
        batch.drop_column("writer")
