"""Engines and units of work: one transaction per ``Database.transaction()``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import NullPool, QueuePool

from koppel.server.adapters.db import migrate, sealed
from koppel.server.adapters.db.unit_of_work import SqlUnitOfWork
from koppel.server.adapters.private_files import create_file, make_dir
from koppel.server.adapters.secret_key import KeySource, SecretKeys, open_keys
from koppel.server.domain.errors import StoreConflict

_SQLITE_KEPT = 8  # connections kept open per SQLite database: more than run at once


def _sqlite_pragmas(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN; take control so that every unit
    # of work starts with BEGIN IMMEDIATE: writers queue on busy_timeout instead of
    # failing with "database is locked" when a read turns into a write.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Straight to the driver: through SQLAlchemy's statement machinery this one
        # line cost as much as a query, once per unit of work.
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for another database or an in-memory one)."""
    if not url.startswith("sqlite"):
        return None
    path = make_url(url).database
    return Path(path) if path and path != ":memory:" else None


def sqlite_files(path: Path) -> list[Path]:
    """A SQLite database file and the journal files SQLite writes beside it."""
    return [path, *(path.with_name(path.name + tail) for tail in ("-wal", "-shm", "-journal"))]


class Presence(Enum):
    """Whether a configured database is there to use."""

    READY = "ready"  # holds Koppel's schema (perhaps of an older release)
    MISSING = "missing"  # no such file, or a database without Koppel's tables
    UNREACHABLE = "unreachable"  # the database server cannot be reached or refused us


def presence(url: str) -> Presence:
    """Whether the database at ``url`` exists and holds Koppel data, without creating
    anything (a SQLite file that is not there is not made)."""
    path = sqlite_path(url)
    if url.startswith("sqlite") and path is not None and not path.is_file():
        return Presence.MISSING
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            found = inspect(connection).has_table("alembic_version")
    except SQLAlchemyError:
        return Presence.UNREACHABLE
    finally:
        engine.dispose()
    return Presence.READY if found else Presence.MISSING


def masked(url: str) -> str:
    """A database URL without its password (only the scheme when it does not parse)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # any malformed URL: never echo what may hold a password
        return url.split("://", 1)[0] + "://..."


def describe(url: str) -> str:
    """A database for messages: a SQLite file's path, else the URL without password."""
    path = sqlite_path(url)
    return str(path) if path is not None else masked(url)


def make_engine(url: str) -> Engine:
    """An engine for a database URL (``sqlite:///path`` or ``postgresql+psycopg://...``)."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        if path is not None:
            make_dir(path.parent)
            # SQLite creates a new database 0644 less the umask, and its -wal and -shm
            # files with the database's own mode: an empty 0600 file made first (a valid
            # empty database) keeps all three private.
            create_file(path)
        if ":memory:" in url:
            engine = create_engine(url)
        else:
            # Connections are kept and reused: opening one (and its PRAGMAs) cost about
            # as much CPU as the unit of work itself, several times per uploaded file.
            # Any number may be open at once, as with no pool (writers queue on
            # busy_timeout, not on the pool); those beyond the kept ones are closed when
            # returned. Code that replaces or deletes the file disposes the engine first
            # (``Database.dispose``) so that no kept connection holds the old file.
            engine = create_engine(
                url, poolclass=QueuePool, pool_size=_SQLITE_KEPT, max_overflow=-1
            )
        _sqlite_pragmas(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """The server's metadata store, and the keys that open the secrets in it."""

    def __init__(self, url: str, key_source: KeySource) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.key_source = key_source
        self.keys: SecretKeys | None = None

    def upgrade(self) -> None:
        """Apply pending migrations, then open the secrets (``open_secrets``)."""
        migrate.upgrade(self.engine)
        self.open_secrets()

    def open_secrets(self) -> None:
        """Load the secret key, checked against what the database's secrets need (a
        ``SecretKeyError`` says what is missing), and encrypt values an older release
        left plain. Nothing while migrations are pending: ``upgrade`` does it after."""
        if migrate.pending(self.engine):
            return
        with self.engine.begin() as connection:
            needed = sealed.census(connection).by_key
        self.keys = open_keys(self.key_source, needed)
        with self.transaction() as uow:
            sealed.seal_plain(uow.connection, self.keys)
            uow.core.signing_key()  # created once here, not raced by the first requests

    def needs_upgrade(self) -> bool:
        """Whether migrations are pending."""
        return migrate.pending(self.engine)

    def revisions(self) -> tuple[str | None, str | None]:
        """The migration the database is at (None: none yet) and this release's newest."""
        return migrate.revisions(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[SqlUnitOfWork]:
        """A unit of work whose changes commit when the block ends without an exception;
        a unique key taken meanwhile (the driver's ``IntegrityError``) is a
        ``StoreConflict``."""
        try:
            with self.engine.begin() as connection:
                sealed.attach(connection, self.keys)
                yield SqlUnitOfWork(connection)
        except IntegrityError as exc:
            raise StoreConflict(str(exc.orig)) from exc

    def settle(self) -> None:
        """Fold SQLite's write-ahead log into the database file (PASSIVE: writers are not
        held up; what they write meanwhile waits for the next time). Kept connections
        keep the log open, so without this the file alone would lag behind until
        SQLite's own checkpoint at 1,000 pages. Nothing to do on PostgreSQL."""
        if sqlite_path(self.url) is None:
            return
        # On the driver's connection, outside any transaction (which would hold the
        # checkpoint back): the pool's connections are in autocommit (see _sqlite_pragmas).
        connection = self.engine.raw_connection()
        try:
            driver = connection.driver_connection
            assert driver is not None  # a pooled connection that is checked out
            driver.execute("PRAGMA wal_checkpoint(PASSIVE)").close()
        finally:
            connection.close()

    def ping(self) -> None:
        """``SELECT 1``: raises the driver's error when the database does not answer."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close pooled connections (a SQLite database checkpoints its write-ahead log
        when the last one closes). The engine stays usable: it opens new ones."""
        self.engine.dispose()
