"""One migration history for both databases: after ``upgrade`` the schema is exactly the
tables the code declares (every ``tables_*`` module), and every migration goes down and
up again, on SQLite and on PostgreSQL 15."""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import postgres
from koppel.server.adapters import db
from koppel.server.adapters.db import migrate
from koppel.server.adapters.db.database import Database
from koppel.server.adapters.db.tables.core import metadata
from koppel.server.adapters.secret_key import KeySource


def _declared() -> None:
    """Import every table module, so the metadata holds every table the code uses."""
    for module in pkgutil.iter_modules(db.__path__):
        if module.name.startswith("tables"):
            importlib.import_module(f"{db.__name__}.{module.name}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    keys = KeySource(tmp_path / "secret.key")
    if request.param == "sqlite":
        found = Database(f"sqlite:///{tmp_path / 'koppel.sqlite3'}", keys)
        yield found
        found.dispose()
        return
    if not postgres.available():
        pytest.fail("PostgreSQL 15 binaries are not on the PATH; .ci/run installs them")
    cluster = postgres.start_cluster()
    try:
        found = Database(cluster.create_database(f"schema_{uuid.uuid4().hex[:8]}"), keys)
        yield found
        found.dispose()
    finally:
        cluster.stop()


def test_migrations_build_exactly_the_declared_schema(database: Database) -> None:
    _declared()
    database.upgrade()
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    # Every migration can be undone and done again.
    config = migrate._config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
        command.upgrade(config, "head")
    assert not database.needs_upgrade()
