"""dossier: destinations, item types, items, attachments, versions

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def _env_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["environment_id"],
        ["environments.id"],
        name=op.f(f"fk_{table}_environment_id_environments"),
    )


def _when(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "destinations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        _env_fk("destinations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_destinations")),
        sa.UniqueConstraint("environment_id", "code", name="uq_destinations_environment_code"),
    )
    op.create_table(
        "item_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("editable", sa.Boolean(), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        _env_fk("item_types"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_types")),
        sa.UniqueConstraint("environment_id", "name", name="uq_item_types_environment_name"),
    )
    op.create_table(
        "item_type_groups",
        sa.Column("item_type_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_type_id"],
            ["item_types.id"],
            name=op.f("fk_item_type_groups_item_type_id_item_types"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_item_type_groups_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("item_type_id", "group_id", name=op.f("pk_item_type_groups")),
    )
    op.create_index(
        op.f("ix_item_type_groups_group_id"), "item_type_groups", ["group_id"], unique=False
    )
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("environment_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("item_type_id", sa.Integer(), nullable=False),
        sa.Column("destination_id", sa.Integer(), nullable=False),
        sa.Column("author_membership_id", sa.Integer(), nullable=False),
        sa.Column("workstation_id", sa.String(length=64), nullable=True),
        sa.Column("workstation_name", sa.String(length=200), nullable=True),
        _when("created_at", nullable=False),
        _when("document_date"),
        sa.Column("submission_id", sa.String(length=64), nullable=True),
        _env_fk("items"),
        sa.ForeignKeyConstraint(
            ["item_type_id"], ["item_types.id"], name=op.f("fk_items_item_type_id_item_types")
        ),
        sa.ForeignKeyConstraint(
            ["destination_id"],
            ["destinations.id"],
            name=op.f("fk_items_destination_id_destinations"),
        ),
        sa.ForeignKeyConstraint(
            ["author_membership_id"],
            ["memberships.id"],
            name=op.f("fk_items_author_membership_id_memberships"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint(
            "environment_id", "submission_id", name="uq_items_environment_submission"
        ),
    )
    op.create_index(op.f("ix_items_item_type_id"), "items", ["item_type_id"], unique=False)
    op.create_index(op.f("ix_items_destination_id"), "items", ["destination_id"], unique=False)
    op.create_index(
        "ix_items_environment_created", "items", ["environment_id", "created_at"], unique=False
    )
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_attachments_item_id_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    op.create_index(op.f("ix_attachments_item_id"), "attachments", ["item_id"], unique=False)
    op.create_table(
        "attachment_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_key", sa.String(length=200), nullable=False),
        sa.Column("author_membership_id", sa.Integer(), nullable=False),
        sa.Column("workstation_id", sa.String(length=64), nullable=True),
        sa.Column("workstation_name", sa.String(length=200), nullable=True),
        _when("created_at", nullable=False),
        sa.Column("conflict_of", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_attachment_versions_attachment_id_attachments"),
        ),
        sa.ForeignKeyConstraint(
            ["author_membership_id"],
            ["memberships.id"],
            name=op.f("fk_attachment_versions_author_membership_id_memberships"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachment_versions")),
        sa.UniqueConstraint(
            "attachment_id", "number", name="uq_attachment_versions_attachment_number"
        ),
    )


def downgrade() -> None:
    op.drop_table("attachment_versions")
    op.drop_index(op.f("ix_attachments_item_id"), table_name="attachments")
    op.drop_table("attachments")
    op.drop_index("ix_items_environment_created", table_name="items")
    op.drop_index(op.f("ix_items_destination_id"), table_name="items")
    op.drop_index(op.f("ix_items_item_type_id"), table_name="items")
    op.drop_table("items")
    op.drop_index(op.f("ix_item_type_groups_group_id"), table_name="item_type_groups")
    op.drop_table("item_type_groups")
    op.drop_table("item_types")
    op.drop_table("destinations")
