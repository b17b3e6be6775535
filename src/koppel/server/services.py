"""Wiring: the database, the policy and the agent packages one server process uses."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from koppel.server.adapters import private_files
from koppel.server.adapters.blobs import LocalBlobStore
from koppel.server.adapters.db.database import Database, sqlite_files, sqlite_path
from koppel.server.adapters.db.repositories.core import SqlRepository
from koppel.server.adapters.db.repositories.host import SqlHostSettings
from koppel.server.adapters.packages import AgentPackages
from koppel.server.adapters.secret_key import KeySource
from koppel.server.config import ServerSettings
from koppel.server.domain.policy import Policy
from koppel.server.domain.setup import host
from koppel.server.domain.transfer.blobs import BlobStore

log = logging.getLogger(__name__)


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
    database = sqlite_path(settings.resolved_database_url)
    if database is not None:
        owned += sqlite_files(database)
    return owned


@dataclass
class Services:
    """What adapters (HTTP, CLI) need to run the domain."""

    settings: ServerSettings
    database: Database
    policy: Policy
    packages: AgentPackages
    blobs: BlobStore

    @classmethod
    def create(cls, settings: ServerSettings, migrate: bool | None = None) -> Services:
        """Make the data folder private, open the database (migrating it when configured)
        and its secrets, and build the policy. A missing or wrong secret key raises
        ``SecretKeyError``; a data folder readable by others is tightened and logged."""
        tightened = private_files.secure_data_dir(settings.data_dir, _owned_paths(settings))
        if tightened:
            log.warning(private_files.describe(tightened))
        database = Database(settings.resolved_database_url, key_source(settings))
        if settings.auto_migrate if migrate is None else migrate:
            database.upgrade()
        else:
            database.open_secrets()
        return cls(
            settings,
            database,
            settings.policy(),
            AgentPackages(settings.resolved_packages_dir),
            LocalBlobStore(settings.data_dir / "blobs"),
        )

    @contextmanager
    def transaction(self) -> Iterator[SqlRepository]:
        """One unit of work."""
        with self.database.transaction() as repo:
            yield repo

    @cached_property
    def host_id(self) -> str:
        """This host's identity (made once, by a migration; read once per process, so
        that answering a probe never waits for the database)."""
        with self.transaction() as repo:
            return host.host_id(SqlHostSettings(repo.c), self.policy.clock())
