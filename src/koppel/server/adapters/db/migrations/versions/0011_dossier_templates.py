"""dossier templates: the destinations and item types a firm's new clients start with

A firm's template is copied into a client environment by ``koppel-admin setup client``
(when the client has no destinations or item types yet) and by ``koppel-admin template
apply``. No firm has one yet: every template starts empty.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dossier_template_destinations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("firm_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["firm_id"],
            ["environments.id"],
            name=op.f("fk_dossier_template_destinations_firm_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_template_destinations")),
        sa.UniqueConstraint("firm_id", "code", name="uq_dossier_template_destinations_firm_code"),
    )
    op.create_table(
        "dossier_template_item_types",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("firm_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("editable", sa.Boolean(), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["firm_id"],
            ["environments.id"],
            name=op.f("fk_dossier_template_item_types_firm_id_environments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_template_item_types")),
        sa.UniqueConstraint("firm_id", "name", name="uq_dossier_template_item_types_firm_name"),
    )


def downgrade() -> None:
    op.drop_table("dossier_template_item_types")
    op.drop_table("dossier_template_destinations")
