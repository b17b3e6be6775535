"""The table of the environments' own lists of allowed file extensions (an environment
without a row uses the default list; ``domain/extensions.py``)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Integer, Table

from koppel.server.adapters.db.tables.core import UTCDateTime, metadata

extension_allowlists = Table(
    "extension_allowlists",
    metadata,
    Column("environment_id", Integer, ForeignKey("environments.id"), primary_key=True),
    # A JSON list of extensions, lower case without the dot; "" for names without one.
    Column("extensions", JSON, nullable=False),
    Column("changed_at", UTCDateTime(), nullable=False),
)
