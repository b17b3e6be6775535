"""The portals' branding: one logo and colour per environment."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, LargeBinary, String, Table

from koppel.server.adapters.db.tables.core import UTCDateTime, metadata

portal_brands = Table(
    "portal_brands",
    metadata,
    Column("environment_id", Integer, ForeignKey("environments.id"), primary_key=True),
    Column("color", String(7)),
    # A logo is at most 256 KB (domain/portal/branding.py): kept in the database, so a
    # backup and every replica have it without a shared folder.
    Column("logo", LargeBinary),
    Column("logo_type", String(32)),
    Column("updated_at", UTCDateTime(), nullable=False),
)
