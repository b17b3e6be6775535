"""secrets at rest: event-session ids hashed, CSRF tokens derived, room for encrypted
TOTP secrets

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:00:00.000000

- ``event_sessions.secret_hash``: the SHA-256 of the secret part of a session id
  (``kpes_<public id>_<secret>``). Sessions stored before held their whole id in
  ``public_id``; they are deleted (a watching agent opens a new one when its stream
  ends, as after any restart).
- ``web_sessions.csrf_token`` is dropped: the token is derived from the session
  cookie's secret. Signed-in browsers stay signed in; a form loaded before the upgrade
  is refused once and works after a reload.
- ``second_factors.secret`` widens to 255 characters for its encrypted form. The values
  themselves (and ``server_secrets``) are encrypted at the first start of this release,
  with the key from ``KOPPEL_SECRET_KEY`` or the key file: a migration has no key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM event_sessions"))
    with op.batch_alter_table("event_sessions") as batch:
        batch.add_column(sa.Column("secret_hash", sa.String(length=64), nullable=False))
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("csrf_token")
    with op.batch_alter_table("second_factors") as batch:
        batch.alter_column(
            "secret",
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=False,
        )


def downgrade() -> None:
    # An older release cannot read encrypted values: a downgrade ends every second
    # factor (users enrol again) and the settings-signing key (made anew at start; saved
    # settings files must be saved again).
    op.execute(sa.text("DELETE FROM server_secrets"))
    op.execute(sa.text("DELETE FROM recovery_codes"))
    op.execute(sa.text("DELETE FROM second_factors"))
    with op.batch_alter_table("second_factors") as batch:
        batch.alter_column(
            "secret",
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
    op.execute(sa.text("DELETE FROM web_sessions"))
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("csrf_token", sa.String(length=64), nullable=False))
    op.execute(sa.text("DELETE FROM event_sessions"))
    with op.batch_alter_table("event_sessions") as batch:
        batch.drop_column("secret_hash")
