"""Tables of the credentials beside user tokens: device authorizations (RFC 8628) and
integrations' API keys. Every secret in them is a SHA-256 hash."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from koppel.server.adapters.db.tables.core import UTCDateTime, metadata

device_grants = Table(
    "device_grants",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("device_code_hash", String(64), nullable=False, unique=True),
    Column("user_code_hash", String(64), nullable=False, unique=True),
    Column("scope", String(200), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("workstation", String(200), nullable=False),
    Column("address", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("interval", Integer, nullable=False),
    # pending -> approved | denied; approved -> issued (the access token was handed out)
    Column("state", String(16), nullable=False),
    Column("last_polled_at", UTCDateTime()),
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE")),
    Column("binding_hash", String(64)),
    Column("second_factor_done", Boolean, nullable=False),
    Column("decided_at", UTCDateTime()),
    Column("denial", Text),
    Column("access_public_id", String(32), unique=True),
    Column("access_hash", String(64)),
    Column("access_expires_at", UTCDateTime()),
    Index("ix_device_grants_address_created", "address", "created_at"),
    Index("ix_device_grants_expires_at", "expires_at"),
)

integration_keys = Table(
    "integration_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "environment_id",
        Integer,
        ForeignKey("environments.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", String(64), nullable=False),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("last_used_at", UTCDateTime()),
    Column("revoked_at", UTCDateTime()),
    Column("revoked_by", String(200)),
    Index("ix_integration_keys_environment_id", "environment_id"),
)
