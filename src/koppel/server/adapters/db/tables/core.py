"""The tables, as SQLAlchemy Core metadata. Alembic migrations create them; this module
is what queries are written against."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (SQLite forgets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value  # type: ignore[no-any-return]


def _when(name: str, nullable: bool = True) -> Column[datetime]:
    return Column(name, UTCDateTime(), nullable=nullable)


accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("login", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("email", String(254)),
    Column("language", String(8)),
    Column("time_zone", String(64)),
    _when("created_at", nullable=False),
)

environments = Table(
    "environments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("update", String(10), nullable=False),
    Column("has_portal", Boolean, nullable=False, default=False),
    Column("main_site_url", String(500)),
    Column("api_url", String(500)),
    Column("firm_id", Integer, ForeignKey("environments.id"), index=True),
    Column("language", String(8)),
    Column("time_zone", String(64)),
    _when("created_at", nullable=False),
)

memberships = Table(
    "memberships",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment_id", Integer, ForeignKey("environments.id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("portal_access", Boolean, nullable=False, default=False),
    _when("created_at", nullable=False),
    UniqueConstraint("environment_id", "account_id", name="uq_memberships_environment_account"),
)

groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment_id", Integer, ForeignKey("environments.id"), nullable=False),
    Column("name", String(100), nullable=False),
    UniqueConstraint("environment_id", "name", name="uq_groups_environment_name"),
)

group_members = Table(
    "group_members",
    metadata,
    Column("group_id", Integer, ForeignKey("groups.id"), primary_key=True),
    Column("membership_id", Integer, ForeignKey("memberships.id"), primary_key=True, index=True),
)

authorizations = Table(
    "authorizations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment_id", Integer, ForeignKey("environments.id"), nullable=False, index=True),
    Column("function", String(100), nullable=False),
    Column("group_id", Integer, ForeignKey("groups.id"), index=True),
    Column("membership_id", Integer, ForeignKey("memberships.id"), index=True),
)

connectors = Table(
    "connectors",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment_id", Integer, ForeignKey("environments.id"), nullable=False),
    Column("name", String(40), nullable=False),
    Column("blocked", Boolean, nullable=False, default=True),
    UniqueConstraint("environment_id", "name", name="uq_connectors_environment_name"),
)

enrollments = Table(
    "enrollments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("membership_id", Integer, ForeignKey("memberships.id"), nullable=False, index=True),
    _when("created_at", nullable=False),
    _when("expires_at", nullable=False),
    _when("used_at"),
)

user_tokens = Table(
    "user_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("membership_id", Integer, ForeignKey("memberships.id"), nullable=False),
    Column("connector", String(40), nullable=False),
    Column("workstation_id", String(64), nullable=False),
    Column("workstation_name", String(200), nullable=False),
    _when("created_at", nullable=False),
    _when("expires_at"),
    _when("last_used_at"),
    _when("revoked_at"),
    Column("revoked_reason", String(30)),
    Index("ix_user_tokens_membership_workstation", "membership_id", "workstation_id"),
)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", Integer, primary_key=True),
    _when("at", nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(60), nullable=False),
    Column("environment", String(32), index=True),
    Column("detail", JSON, nullable=False),
)

server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(40), primary_key=True),
    # Encrypted with the server's secret key, as ASCII (adapters/db/sealed.py).
    Column("value", LargeBinary, nullable=False),
)

host_settings = Table(
    "host_settings",
    metadata,
    # What the host knows of itself, shared by every replica and by koppel-admin: its
    # identity (what `check` probes for) and the public address the server announced.
    Column("name", String(40), primary_key=True),
    Column("value", String(2000), nullable=False),
    _when("changed_at", nullable=False),
)
