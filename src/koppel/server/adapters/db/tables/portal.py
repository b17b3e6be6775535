"""Tables of the web portal: sessions, failed sign-ins, second factors."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table

from koppel.server.adapters.db.tables.core import UTCDateTime, metadata

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("public_id", String(64), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("portal_environment_id", Integer, ForeignKey("environments.id"), nullable=False),
    Column("second_factor_done", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_web_sessions_account_id", "account_id"),
)

sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(64), nullable=False),
    Column("address", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_sign_in_failures_login_at", "login", "at"),
    Index("ix_sign_in_failures_address_at", "address", "at"),
)

second_factors = Table(
    "second_factors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, unique=True),
    # Encrypted with the server's secret key (adapters/db/sealed.py).
    Column("secret", String(255), nullable=False),
    # NULL until the user confirmed enrolment with a first code.
    Column("confirmed_at", UTCDateTime()),
    # The time step of the last accepted code: a code is never accepted twice.
    Column("last_step", Integer, nullable=False, default=0),
)

recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("used_at", UTCDateTime()),
    Index("ix_recovery_codes_account_id", "account_id"),
)
