"""Bringing a database to the newest schema with Alembic, programmatically."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

_SCRIPTS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


@cache
def _head() -> str | None:
    """This release's newest revision (the scripts are read once per process)."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration the database does not have yet (up to ``revision``)."""
    if revision == "head" and not pending(engine):
        return  # every command opens the database: no Alembic run when nothing is due
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def pending(engine: Engine) -> bool:
    """Whether the database lacks migrations this release has."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current != _head()


def revisions(engine: Engine) -> tuple[str | None, str | None]:
    """The database's current migration revision and this release's newest one."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current, _head()


def known(revision: str) -> bool:
    """Whether ``revision`` is one of this release's migrations (not one of a newer
    release, which this one cannot read)."""
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(_config()).get_revision(revision) is not None
    except CommandError:
        return False
