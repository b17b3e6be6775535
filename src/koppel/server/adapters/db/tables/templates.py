"""The tables of the firms' dossier templates: the destinations and item types that
``koppel-admin setup client`` and ``template apply`` copy into a firm's clients
(``domain/dossier_template.py``)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, String, Table, UniqueConstraint

from koppel.server.adapters.db.tables.core import metadata

dossier_template_destinations = Table(
    "dossier_template_destinations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("firm_id", Integer, ForeignKey("environments.id"), nullable=False),
    Column("code", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    UniqueConstraint("firm_id", "code", name="uq_dossier_template_destinations_firm_code"),
)

dossier_template_item_types = Table(
    "dossier_template_item_types",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("firm_id", Integer, ForeignKey("environments.id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("editable", Boolean, nullable=False),
    Column("confidential", Boolean, nullable=False),
    # A JSON list of group names: groups belong to each environment, so the template
    # names them and a copy finds (or makes) the client's group of that name.
    Column("groups", JSON, nullable=False),
    UniqueConstraint("firm_id", "name", name="uq_dossier_template_item_types_firm_name"),
)
