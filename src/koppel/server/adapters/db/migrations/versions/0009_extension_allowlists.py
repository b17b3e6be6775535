"""extension allowlists: the file extensions each environment accepts

Every environment that exists now gets its own list: the default of this release plus
every extension already used by a file in its dossier (any version of any attachment) or
pushed into its users' My files, so that what a practice exchanges today keeps working
and an administrator removes what should not. Environments created later have no row and
use the release's default until an administrator changes their list.

Names without an extension are not added: they are accepted only where an administrator
allows them explicitly (``koppel-admin extensions allow ENV .``).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 10:00:00.000000
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

# Frozen copies (a migration must not change when the code does): the default list of
# koppel.server.domain.transfer.extensions and the rules of koppel.protocol.extensions.
_DEFAULT = (
    "pdf", "doc", "docx", "docm", "odt", "rtf", "txt", "xls", "xlsx", "xlsm", "ods", "csv",
    "ppt", "pptx", "odp", "xml", "xbrl", "xaf", "jpg", "jpeg", "png", "gif", "tif", "tiff",
    "heic", "bmp", "eml", "msg", "zip", "7z",
)  # fmt: skip
_EXTENSION = re.compile(r"^[\w+~-]{1,32}$")
_ROWS_PER_FETCH = 10_000

_environments = sa.table("environments", sa.column("id", sa.Integer))
_items = sa.table("items", sa.column("id", sa.Integer), sa.column("environment_id", sa.Integer))
_attachments = sa.table(
    "attachments",
    sa.column("id", sa.Integer),
    sa.column("item_id", sa.Integer),
    sa.column("name", sa.String),
)
_versions = sa.table(
    "attachment_versions", sa.column("attachment_id", sa.Integer), sa.column("name", sa.String)
)
_output_files = sa.table(
    "output_files",
    sa.column("environment_id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("source", sa.String),
)


def _extension(name: str) -> str | None:
    """The stored form of a name's last extension, or None (no extension, or none that
    an administrator could type)."""
    _, dot, suffix = name.rpartition(".")
    suffix = suffix.lower()
    return suffix if dot and _EXTENSION.match(suffix) else None


def _in_use(connection: sa.engine.Connection) -> dict[int, set[str]]:
    """Per environment, the extensions of the names its files have."""
    queries = [
        sa.select(_items.c.environment_id, _versions.c.name)
        .select_from(
            _versions.join(_attachments, _attachments.c.id == _versions.c.attachment_id).join(
                _items, _items.c.id == _attachments.c.item_id
            )
        )
        .distinct(),
        sa.select(_items.c.environment_id, _attachments.c.name)
        .select_from(_attachments.join(_items, _items.c.id == _attachments.c.item_id))
        .distinct(),
        # Pushed by integrations (generated analyses are the server's own .xlsx).
        sa.select(_output_files.c.environment_id, _output_files.c.name)
        .where(_output_files.c.source == "pushed")
        .distinct(),
    ]
    found: dict[int, set[str]] = {}
    for query in queries:
        # Streamed in batches: a large dossier's names are never all in memory at once.
        # (An option of the statement: set on the connection it would outlive this query.)
        rows = connection.execute(query.execution_options(yield_per=_ROWS_PER_FETCH))
        for environment_id, name in rows:
            extension = _extension(name or "")
            if extension:
                found.setdefault(environment_id, set()).add(extension)
    return found


def upgrade() -> None:
    table = op.create_table(
        "extension_allowlists",
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("extensions", sa.JSON(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_extension_allowlists_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("environment_id", name=op.f("pk_extension_allowlists")),
    )
    connection = op.get_bind()
    now = datetime.now(UTC)
    if connection.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as UTC without an offset, as UTCDateTime does
    in_use = _in_use(connection)
    rows = [
        {
            "environment_id": environment_id,
            "extensions": sorted(set(_DEFAULT) | in_use.get(environment_id, set())),
            "changed_at": now,
        }
        for (environment_id,) in connection.execute(sa.select(_environments.c.id))
    ]
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_table("extension_allowlists")
