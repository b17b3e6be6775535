"""Tables of the dossier: destinations, item types, items, attachments and versions."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from koppel.server.adapters.db.tables.core import UTCDateTime, metadata

destinations = Table(
    "destinations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment_id", Integer, ForeignKey("environments.id"), nullable=False),
    Column("code", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    UniqueConstraint("environment_id", "code", name="uq_destinations_environment_code"),
)

item_types = Table(
    "item_types",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment_id", Integer, ForeignKey("environments.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("editable", Boolean, nullable=False, default=False),
    Column("confidential", Boolean, nullable=False, default=False),
    UniqueConstraint("environment_id", "name", name="uq_item_types_environment_name"),
)

item_type_groups = Table(
    "item_type_groups",
    metadata,
    Column("item_type_id", Integer, ForeignKey("item_types.id"), primary_key=True),
    Column("group_id", Integer, ForeignKey("groups.id"), primary_key=True, index=True),
)

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("environment_id", Integer, ForeignKey("environments.id"), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("item_type_id", Integer, ForeignKey("item_types.id"), nullable=False, index=True),
    Column("destination_id", Integer, ForeignKey("destinations.id"), nullable=False, index=True),
    Column("author_membership_id", Integer, ForeignKey("memberships.id"), nullable=False),
    Column("workstation_id", String(64)),
    Column("workstation_name", String(200)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("document_date", UTCDateTime()),
    Column("submission_id", String(64)),
    UniqueConstraint("environment_id", "submission_id", name="uq_items_environment_submission"),
    Index("ix_items_environment_created", "environment_id", "created_at"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("item_id", Integer, ForeignKey("items.id"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
)

attachment_versions = Table(
    "attachment_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("attachment_id", Integer, ForeignKey("attachments.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("name", String(255), nullable=False),
    Column("media_type", String(200), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("blob_key", String(200), nullable=False),
    Column("author_membership_id", Integer, ForeignKey("memberships.id"), nullable=False),
    Column("workstation_id", String(64)),
    Column("workstation_name", String(200)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("conflict_of", Integer),
    UniqueConstraint("attachment_id", "number", name="uq_attachment_versions_attachment_number"),
)
