"""The table of resumable uploads (tus), one row per upload."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String, Table

from koppel.server.adapters.db.tables.core import UTCDateTime, metadata

uploads = Table(
    "uploads",
    metadata,
    # Random, url-safe: the upload URL is the only handle a client has.
    Column("id", String(64), primary_key=True),
    Column("environment_id", Integer, ForeignKey("environments.id"), nullable=False, index=True),
    Column("membership_id", Integer, ForeignKey("memberships.id"), nullable=False, index=True),
    Column("filename", String(400), nullable=False),
    Column("media_type", String(200), nullable=False),
    Column("declared_length", BigInteger, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
    Column("completed_at", UTCDateTime(), nullable=True),
    Column("sha256", String(64), nullable=True),
    # The partial key while receiving, the committed key once complete.
    Column("blob_key", String(200), nullable=False),
    Column("claimed_at", UTCDateTime(), nullable=True),
    # The request appending to it now (a random id) and until when its claim holds: two
    # replicas never append to one upload at once (renewed while a PATCH streams).
    Column("writer", String(32), nullable=True),
    Column("writer_until", UTCDateTime(), nullable=True),
)
