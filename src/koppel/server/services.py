"""What routes, portal pages, admin commands and the worker are given: the domain's ports,
implemented by adapters the composition root (``adapters/assembly.py``) chose."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cached_property

from koppel.server.config import ServerSettings
from koppel.server.domain.events import EventFeed, EventPublisher
from koppel.server.domain.links.installation import AgentPackages
from koppel.server.domain.policy import Policy
from koppel.server.domain.setup import host
from koppel.server.domain.transfer.blobs import BlobStore
from koppel.server.domain.unit_of_work import Store, UnitOfWork


@dataclass
class Services:
    """The settings and ports one server process runs the domain with."""

    settings: ServerSettings
    store: Store
    policy: Policy
    packages: AgentPackages
    blobs: BlobStore
    publisher: EventPublisher
    feed: EventFeed

    def transaction(self) -> AbstractContextManager[UnitOfWork]:
        """One unit of work: its changes commit together when the block ends."""
        return self.store.transaction()

    @cached_property
    def host_id(self) -> str:
        """This host's identity (made once, by a migration; read once per process, so
        that answering a probe never waits for the database)."""
        with self.transaction() as uow:
            return host.host_id(uow.host, self.policy.clock())
