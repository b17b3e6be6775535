"""The table of forgotten-password requests and their reset links."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table

from koppel.server.adapters.db.tables.core import UTCDateTime, metadata

password_resets = Table(
    "password_resets",
    metadata,
    Column("id", Integer, primary_key=True),
    # NULL: the login or address named no account (the request still counts against the
    # client address's limit).
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE")),
    Column(
        "portal_environment_id",
        Integer,
        ForeignKey("environments.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("address", String(64), nullable=False),
    # The language of the request's page: the e-mail's when the account chose none.
    Column("language", String(8), nullable=False),
    Column("requested_at", UTCDateTime(), nullable=False),
    # Set by the job that sends the e-mail: only the SHA-256 of the link's secret is kept.
    Column("public_id", String(64), unique=True),
    Column("secret_hash", String(64)),
    Column("expires_at", UTCDateTime()),
    Column("used_at", UTCDateTime()),
    Column("superseded_at", UTCDateTime()),
    Index("ix_password_resets_account_id_requested_at", "account_id", "requested_at"),
    Index("ix_password_resets_address_requested_at", "address", "requested_at"),
)
