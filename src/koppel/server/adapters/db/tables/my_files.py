"""Tables of My files (the my_files), their deliveries, background jobs and events."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from koppel.server.adapters.db.tables.core import UTCDateTime, metadata

output_files = Table(
    "output_files",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment_id", Integer, ForeignKey("environments.id"), nullable=False),
    Column("membership_id", Integer, ForeignKey("memberships.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("media_type", String(200), nullable=False),
    Column("size", BigInteger),
    Column("sha256", String(64)),
    Column("blob_key", String(300)),
    Column("state", String(10), nullable=False),
    Column("error", Text),
    Column("source", String(10), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("ready_at", UTCDateTime()),
    Index("ix_output_files_membership_state", "membership_id", "state"),
)

output_deliveries = Table(
    "output_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("output_file_id", Integer, ForeignKey("output_files.id"), nullable=False),
    Column("workstation_id", String(64), nullable=False),
    Column("delivered_at", UTCDateTime(), nullable=False),
    Index("ix_output_deliveries_file_workstation", "output_file_id", "workstation_id", unique=True),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_by", String(100)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime()),
    Column("finished_at", UTCDateTime()),
    Column("error", Text),
    # The claim of a running job: a new token per claim (a finish or renewal must name
    # it) and when the lease lapses unless the worker renews it (migration 0007).
    Column("lease_token", String(32)),
    Column("lease_expires_at", UTCDateTime()),
    Index("ix_jobs_state", "state"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("environment_id", Integer, ForeignKey("environments.id"), nullable=False),
    # NULL: the event concerns everyone in the environment.
    Column("membership_id", Integer, ForeignKey("memberships.id")),
    Column("kind", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_events_environment_id", "environment_id", "id"),
)

event_sessions = Table(
    "event_sessions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("public_id", String(64), nullable=False, unique=True),
    # SHA-256 of the secret part of the session id (the stream's only credential).
    Column("secret_hash", String(64), nullable=False),
    Column("workstation_id", String(64), nullable=False),
    # {"memberships": [ids], "environments": {id: code}}: the scope of the stream.
    Column("scope", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)
