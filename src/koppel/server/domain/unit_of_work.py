"""The storage port the adapters receive: one unit of work holds one repository per family,
all in one transaction (it commits together or not at all).

Routes, portal pages and admin commands get a ``UnitOfWork`` from
``Services.transaction()`` and pass its repositories to the domain; only the composition
root (``adapters/assembly.py``) knows which adapter implements it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only: the families import this module back
    from koppel.server.domain.dossier.model import DossierRepository
    from koppel.server.domain.dossier.template import TemplateRepository
    from koppel.server.domain.events import EventRepository
    from koppel.server.domain.integrations import IntegrationKeyRepository
    from koppel.server.domain.jobs.model import JobRepository
    from koppel.server.domain.my_files import MyFilesRepository
    from koppel.server.domain.portal.branding import BrandRepository
    from koppel.server.domain.portal.device_approval import DeviceGrantRepository
    from koppel.server.domain.portal.model import WebRepository
    from koppel.server.domain.portal.password_reset import ResetRepository
    from koppel.server.domain.repository import Repository
    from koppel.server.domain.setup.host import HostSettings
    from koppel.server.domain.transfer.extensions import ExtensionRepository
    from koppel.server.domain.transfer.uploads import UploadRepository


class UnitOfWork(Protocol):
    """The repositories of every family, in one transaction."""

    @property
    def core(self) -> Repository:
        """Accounts, environments, users, groups, connectors, tokens, audit."""
        ...

    @property
    def dossier(self) -> DossierRepository:
        """Destinations, item types, items, attachments and their versions."""
        ...

    @property
    def templates(self) -> TemplateRepository:
        """The firms' dossier templates."""
        ...

    @property
    def uploads(self) -> UploadRepository:
        """Resumable uploads."""
        ...

    @property
    def extensions(self) -> ExtensionRepository:
        """The environments' lists of allowed file extensions."""
        ...

    @property
    def events(self) -> EventRepository:
        """Events and event sessions."""
        ...

    @property
    def my_files(self) -> MyFilesRepository:
        """Output files (My files) and their deliveries."""
        ...

    @property
    def jobs(self) -> JobRepository:
        """Queued and running jobs."""
        ...

    @property
    def portal(self) -> WebRepository:
        """Portal sessions, sign-in failures and second factors."""
        ...

    @property
    def password_resets(self) -> ResetRepository:
        """Forgotten-password requests and their links."""
        ...

    @property
    def device_grants(self) -> DeviceGrantRepository:
        """Device authorization grants (the agent's sign-in in a browser)."""
        ...

    @property
    def integration_keys(self) -> IntegrationKeyRepository:
        """Integrations' API keys."""
        ...

    @property
    def host(self) -> HostSettings:
        """Named values of the host."""
        ...

    @property
    def brands(self) -> BrandRepository:
        """The portals' logos and colours."""
        ...


class Store(Protocol):
    """Where units of work come from."""

    def transaction(self) -> AbstractContextManager[UnitOfWork]:
        """A unit of work that commits when the block ends without an exception; a
        clash with stored data (a unique key) raises ``StoreConflict``."""
        ...

    def needs_upgrade(self) -> bool:
        """Whether the store lacks migrations of this release."""
        ...

    def settle(self) -> None:
        """Fold what is committed into the store's main files where it keeps a log
        beside them (a copy of the main file alone then holds it)."""
        ...

    def ping(self) -> None:
        """Ask the store something trivial; raises when it does not answer."""
        ...
