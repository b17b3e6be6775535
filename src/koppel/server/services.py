"""Wiring: the database, the policy and the agent packages one server process uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from koppel.server.adapters.blobs import LocalBlobStore
from koppel.server.adapters.db.database import Database
from koppel.server.adapters.db.repository import SqlRepository
from koppel.server.adapters.packages import AgentPackages
from koppel.server.config import ServerSettings
from koppel.server.domain.blobs import BlobStore
from koppel.server.domain.policy import Policy


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
        """Open the database (migrating it when configured) and build the policy."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(settings.resolved_database_url)
        if settings.auto_migrate if migrate is None else migrate:
            database.upgrade()
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
