"""The domain's ``UnitOfWork`` on one SQLAlchemy connection (one transaction)."""

from __future__ import annotations

from functools import cached_property

from sqlalchemy.engine import Connection

from koppel.server.adapters.db.repositories.brands import SqlBrandRepository
from koppel.server.adapters.db.repositories.core import SqlRepository
from koppel.server.adapters.db.repositories.credentials import (
    SqlDeviceGrantRepository,
    SqlIntegrationKeyRepository,
)
from koppel.server.adapters.db.repositories.dossier import SqlDossierRepository
from koppel.server.adapters.db.repositories.events import SqlEventRepository
from koppel.server.adapters.db.repositories.extensions import SqlExtensionRepository
from koppel.server.adapters.db.repositories.host import SqlHostSettings
from koppel.server.adapters.db.repositories.jobs import SqlJobRepository
from koppel.server.adapters.db.repositories.my_files import SqlMyFilesRepository
from koppel.server.adapters.db.repositories.password_resets import SqlResetRepository
from koppel.server.adapters.db.repositories.portal import SqlWebRepository
from koppel.server.adapters.db.repositories.templates import SqlTemplateRepository
from koppel.server.adapters.db.repositories.uploads import SqlUploadRepository


class SqlUnitOfWork:
    """Implements ``koppel.server.domain.unit_of_work.UnitOfWork``: each family's
    repository is made on first use, once, on the transaction's connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @cached_property
    def core(self) -> SqlRepository:
        """Accounts, environments, users, groups, connectors, tokens, audit."""
        return SqlRepository(self.connection)

    @cached_property
    def dossier(self) -> SqlDossierRepository:
        """The dossier."""
        return SqlDossierRepository(self.connection)

    @cached_property
    def templates(self) -> SqlTemplateRepository:
        """The firms' dossier templates."""
        return SqlTemplateRepository(self.connection)

    @cached_property
    def uploads(self) -> SqlUploadRepository:
        """Resumable uploads."""
        return SqlUploadRepository(self.connection)

    @cached_property
    def extensions(self) -> SqlExtensionRepository:
        """Allowed file extensions."""
        return SqlExtensionRepository(self.connection)

    @cached_property
    def events(self) -> SqlEventRepository:
        """Events and event sessions."""
        return SqlEventRepository(self.connection)

    @cached_property
    def my_files(self) -> SqlMyFilesRepository:
        """Output files."""
        return SqlMyFilesRepository(self.connection)

    @cached_property
    def jobs(self) -> SqlJobRepository:
        """Jobs."""
        return SqlJobRepository(self.connection)

    @cached_property
    def portal(self) -> SqlWebRepository:
        """Portal sessions and second factors."""
        return SqlWebRepository(self.connection)

    @cached_property
    def password_resets(self) -> SqlResetRepository:
        """Forgotten-password requests and their links."""
        return SqlResetRepository(self.connection)

    @cached_property
    def device_grants(self) -> SqlDeviceGrantRepository:
        """Device authorization grants."""
        return SqlDeviceGrantRepository(self.connection)

    @cached_property
    def integration_keys(self) -> SqlIntegrationKeyRepository:
        """Integrations' API keys."""
        return SqlIntegrationKeyRepository(self.connection)

    @cached_property
    def host(self) -> SqlHostSettings:
        """Named values of the host."""
        return SqlHostSettings(self.connection)

    @cached_property
    def brands(self) -> SqlBrandRepository:
        """The portals' logos and colours."""
        return SqlBrandRepository(self.connection)
