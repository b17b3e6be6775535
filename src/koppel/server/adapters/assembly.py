"""The composition root: the one place that picks the adapters behind the domain's ports
(the SQL database, the blob folder or S3 bucket, the agent packages, in-process events) and
hands them out as ``Services``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from koppel.server.adapters import private_files
from koppel.server.adapters.blobs import LocalBlobStore
from koppel.server.adapters.db import database as db
from koppel.server.adapters.db.database import Database, Presence
from koppel.server.adapters.db.notifications import Listener, listens
from koppel.server.adapters.packages import LocalAgentPackages
from koppel.server.adapters.secret_key import KeySource
from koppel.server.adapters.signals import LocalEvents
from koppel.server.config import ServerSettings
from koppel.server.domain.transfer.blobs import BlobStore
from koppel.server.services import Services

__all__ = [
    "Presence",
    "ServerServices",
    "blob_store",
    "create_services",
    "database_presence",
    "describe_database",
    "key_source",
    "masked_url",
    "open_database",
]

log = logging.getLogger(__name__)


@dataclass
class ServerServices(Services):
    """``Services`` as assembled, with the concrete adapters that process-level code
    drives: the database (migrations, key rotation) and the in-process events (started
    and stopped with the app)."""

    database: Database
    events: LocalEvents


def key_source(settings: ServerSettings) -> KeySource:
    """Where the secret key is: ``KOPPEL_SECRET_KEY`` when set, else the key file."""
    variable = settings.secret_key.get_secret_value().strip() if settings.secret_key else ""
    return KeySource(settings.resolved_secret_key_file, variable or None)


def _owned_paths(settings: ServerSettings) -> list[Path]:
    """What the server keeps besides the data folder itself, to tighten at start."""
    owned = [settings.resolved_secret_key_file, settings.data_dir / "blobs"]
    owned += [settings.data_dir / "blobs" / area for area in ("blobs", "partial")]
    if settings.packages_dir is None:  # a folder of the operator's is theirs to set
        owned.append(settings.resolved_packages_dir)
    database = db.sqlite_path(settings.resolved_database_url)
    if database is not None:
        owned += db.sqlite_files(database)
    return owned


def open_database(settings: ServerSettings, migrate: bool | None = None) -> Database:
    """Make the data folder private, open the database (migrating it when configured, or
    when ``migrate``) and its secrets. A missing or wrong secret key raises
    ``SecretKeyError``; a data folder readable by others is tightened and logged."""
    tightened = private_files.secure_data_dir(settings.data_dir, _owned_paths(settings))
    if tightened:
        log.warning(private_files.describe(tightened))
    database = Database(settings.resolved_database_url, key_source(settings))
    if settings.auto_migrate if migrate is None else migrate:
        database.upgrade()
    else:
        database.open_secrets()
    return database


def create_services(settings: ServerSettings, migrate: bool | None = None) -> ServerServices:
    """The services of one server process (``open_database``, then the policy, the agent
    packages, the blob folder and the in-process events)."""
    database = open_database(settings, migrate)
    events = LocalEvents()
    return ServerServices(
        settings=settings,
        store=database,
        policy=settings.policy(),
        packages=LocalAgentPackages(settings.resolved_packages_dir),
        blobs=blob_store(settings),
        publisher=events,
        feed=events,
        database=database,
        events=events,
    )


def blob_store(settings: ServerSettings) -> BlobStore:
    """The bucket of ``KOPPEL_BLOB_URL`` when set, else the blob folder in the data folder."""
    if settings.blob_url:
        # boto3 is imported only by a server that uses S3.
        from koppel.server.adapters.blobs.s3 import S3BlobStore

        return S3BlobStore.from_url(settings.blob_url)
    return LocalBlobStore(settings.data_dir / "blobs")


def notifications(settings: ServerSettings, wake: Callable[[str], None]) -> Listener | None:
    """A listener of the database's notifications calling ``wake("events" | "jobs")``
    (not started), or None where the database sends none (SQLite)."""
    url = settings.resolved_database_url
    return Listener(url, wake) if listens(url) else None


def database_presence(settings: ServerSettings) -> Presence:
    """Whether the configured database exists and holds Koppel data (nothing created)."""
    return db.presence(settings.resolved_database_url)


def describe_database(settings: ServerSettings) -> str:
    """The configured database for messages: a SQLite file's path, else the masked URL."""
    return db.describe(settings.resolved_database_url)


def masked_url(url: str) -> str:
    """A database URL without its password."""
    return db.masked(url)
